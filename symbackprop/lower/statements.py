"""The lowered program's statements: typed, holding SymPy expressions in the lecture's vector
symbols and the equation each implements. A layer kind lowers its own equations into these
(layers/dense.py); the schedules (readable.py, inplace.py, functional.py) print them."""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Expr

from ..ir import Equation
from ..notation import (
    Act,
    Bias,
    Delta,
    Gain,
    LayerQuantity,
    Mean,
    Normalized,
    NormalizedGradient,
    Pre,
    Shift,
    Target,
    Upstream,
    Variance,
    WeightMatrix,
)

#: What a forward pass keeps for the backward pass: outputs, weighted inputs, and a
#: normalisation layer's statistics and normalised input.
CACHED = (Act, Pre, Mean, Variance, Normalized)
#: The learnt parameters a statement reads.
PARAMETERS = (WeightMatrix, Bias, Gain, Shift)

#: The batch size: every batch gradient is the mean of the per-sample ones.
N_BATCH = sympy.Symbol("n")


@dataclass(frozen=True)
class Assign:
    """`target = value` as a new array (value already in its stable form)."""

    target: Expr
    value: Expr
    equation: Equation | None


@dataclass(frozen=True)
class Scale:
    """`target *= factor` in place: the batch mean (factor 1/n) and the like."""

    target: Expr
    factor: Expr
    why: str


@dataclass(frozen=True)
class BatchSum:
    """`target = Σ over the samples of value (+ decay)`: a bias gradient from the rows of a
    delta, plus ∂R/∂b (strengths as numbers) where the biases are penalised."""

    target: Expr
    value: Expr
    equation: Equation | None
    decay: Expr | None = None


Statement = Assign | Scale | BatchSum


@dataclass(frozen=True)
class Program:
    """The forward statements (layer 1 up) and the backward ones (layer L down)."""

    forward: tuple[Statement, ...]
    backward: tuple[Statement, ...]


class GradientName(LayerQuantity):
    """dW^(l) or db^(l) as a target: the first argument the layer, the second 'W' or 'b'."""


def reads(statement: Statement) -> set[Expr]:
    """The arrays a statement reads: activations, weighted inputs, weights, targets, deltas."""
    value = statement.factor if isinstance(statement, Scale) else statement.value
    kinds = (*CACHED, *PARAMETERS, Delta, Target, Upstream, NormalizedGradient)
    found: set[Expr] = set(value.atoms(*kinds))
    if isinstance(statement, BatchSum) and statement.decay is not None:
        found |= statement.decay.atoms(*kinds)
    if isinstance(statement, Scale):
        found.add(statement.target)
    return found
