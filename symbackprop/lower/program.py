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
from ..notation import Act, Bias, Delta, LayerQuantity, Pre, Target, WeightMatrix
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
    """`target = Σ over the samples of value`: a bias gradient from the rows of a delta."""

    target: Expr
    value: Expr
    equation: Equation | None


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
    for ld in reversed(derivation.layers):
        delta = ld.require("vector", "delta")
        backward.append(Assign(Delta(ld.number), stable(delta.final), delta))
        if ld.number == depth:
            backward.append(Scale(Delta(ld.number), 1 / N_BATCH, "averaged over the n samples"))
        dW = ld.require("vector", "dE_dw")
        backward.append(Assign(GradientName(ld.number, sympy.Symbol("W")), dW.final, dW))
        db = ld.require("vector", "dE_db")
        backward.append(BatchSum(GradientName(ld.number, sympy.Symbol("b")), db.final, db))
    return Program(tuple(forward), tuple(backward))
