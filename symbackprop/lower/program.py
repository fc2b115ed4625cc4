"""The lowered program: statements that hold SymPy expressions in the lecture's vector
symbols, each citing the equation it implements, in the order they run.

Lowering chain: Derivation -> `lower()` -> Program (forward, then backward from layer L to 1)
-> a schedule (lower/readable.py) -> printed statements -> the module template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy
from sympy import Expr

from ..ir import Derivation, Equation
from ..notation import (
    Act,
    Affine,
    Bias,
    Delta,
    LayerQuantity,
    Pre,
    Target,
    Weight,
    WeightMatrix,
)
from ..regularize import strength_values
from ..rewrite import stable

#: The batch size: every batch gradient is the mean of the per-sample ones.
N_BATCH = sympy.Symbol("n")
#: What a gradient is named in code: dW{l} and db{l}.
Grad = Literal["W", "b"]


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
    kinds = (Act, Pre, WeightMatrix, Bias, Delta, Target)
    found: set[Expr] = set(value.atoms(*kinds))
    if isinstance(statement, BatchSum) and statement.decay is not None:
        found |= statement.decay.atoms(*kinds)
    if isinstance(statement, Scale):
        found.add(statement.target)
    return found


def lower(derivation: Derivation) -> Program:
    """The statements of the forward pass and of the backward pass, from the IR alone."""
    forward: list[Statement] = []
    for ld in derivation.layers:
        for kind in ("pre", "act"):
            eq = ld.require("vector", kind)
            forward.append(Assign(eq.lhs, stable(eq.final), eq))
    backward: list[Statement] = []
    depth = derivation.network.depth
    values = strength_values(derivation.network)  # λ and λ₁ as numbers (none: no penalty)
    for ld in reversed(derivation.layers):
        delta = ld.require("vector", "delta")
        backward.append(Assign(Delta(ld.number), stable(delta.final), delta))
        if ld.number == depth:
            backward.append(Scale(Delta(ld.number), 1 / N_BATCH, "averaged over the n samples"))
        dW = ld.require("vector", "dE_dw")
        dW_value = dW.final.xreplace(values)
        backward.append(Assign(GradientName(ld.number, sympy.Symbol("W")), dW_value, dW))
        db = ld.require("vector", "dE_db")
        rows, decay = db.final.args if isinstance(db.final, Affine) else (db.final, None)
        decay = None if decay is None else decay.xreplace(values)
        backward.append(BatchSum(GradientName(ld.number, sympy.Symbol("b")), rows, db, decay))
    return Program(tuple(forward), tuple(backward))


def penalty(derivation: Derivation) -> tuple[Expr, ...]:
    """The regularisation term R of E as elementwise expressions in the weight matrices, one
    per layer, R their entries' sum: read from the loss equation's last step E = Σ_j ℓ + R
    (strengths as numbers), Σ_j Σ_k f(w_jk^(l)) becoming f(W^(l)) and Σ_j f(b_j^(l)) f(b^(l)).
    Empty: no penalty."""
    final = derivation.layers[-1].require("index", "loss").final
    if not isinstance(final, Affine):
        return ()
    return tuple(
        term.replace(lambda e: isinstance(e, sympy.Sum), lambda e: e.function)
        .replace(lambda e: isinstance(e, Weight), lambda e: WeightMatrix(e.args[0]))
        .replace(lambda e: isinstance(e, Bias) and len(e.args) > 1, lambda e: Bias(e.args[0]))
        for term in sympy.Add.make_args(final.args[1])
    )
