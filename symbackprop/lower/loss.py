"""The loss as the generated modules compute it: E per output unit in the layer's arrays, with
log a^(L) and log(1 - a^(L)) taken from z^(L) where the output activation allows it.

Shared by the backends: the NumPy module's template reads `output_kind` and `per_unit`; the
functional schedule lowers the logarithms to statements of their own (`log_statements`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy
from sympy import Expr

from ..ir import Derivation
from ..library import A, Y, Z
from ..notation import Act, Pre, Target
from ..rewrite import LogSigmoid, LogSoftmax, log1p, stable
from .program import Assign

OutputKind = Literal["softmax", "sigmoid", ""]


@dataclass(frozen=True)
class Loss:
    """E per output unit (stable form) in the arrays of layer L and the symbols `log_a`,
    `log_1ma` standing for log a^(L) and log(1 - a^(L))."""

    per_unit: Expr
    log_a: sympy.Symbol
    log_1ma: sympy.Symbol
    output_kind: OutputKind

    @property
    def uses_log_a(self) -> bool:
        return bool(self.per_unit.has(self.log_a))

    @property
    def uses_log_1ma(self) -> bool:
        return bool(self.per_unit.has(self.log_1ma))


def vector(expr: Expr, layer: int) -> Expr:
    """A per-unit rule expression (in z, a, y) as the layer's arrays."""
    return expr.xreplace({Z: Pre(layer), A: Act(layer), Y: Target()})


def output_kind(derivation: Derivation) -> OutputKind:
    """'softmax' or 'sigmoid' when log a^(L) can be taken from z^(L) by a stable formula."""
    act = derivation.layers[-1].rule.activation
    if act.is_softmax:
        return "softmax"
    return "sigmoid" if act.name == "sigmoid" and act.builtin else ""


def loss(derivation: Derivation) -> Loss:
    """The network's loss per output unit, its logarithms of a^(L) named."""
    depth = derivation.network.depth
    log_a, log_1ma = sympy.Symbol(f"log_a{depth}"), sympy.Symbol(f"log_1ma{depth}")
    per_unit = stable(
        vector(derivation.network.loss.expr, depth).xreplace(
            {sympy.log(Act(depth)): log_a, sympy.log(1 - Act(depth)): log_1ma}
        )
    )
    return Loss(per_unit, log_a, log_1ma, output_kind(derivation))


def log_statements(found: Loss, depth: int) -> list[Assign]:
    """log a^(L) and log(1 - a^(L)) where the loss reads them: from z^(L) through the stable
    forms for a softmax or logistic output (finite however large |z| is), else from a^(L)."""
    z, a = Pre(depth), Act(depth)
    statements = []
    if found.uses_log_a:
        value = {"softmax": LogSoftmax(z), "sigmoid": LogSigmoid(z)}.get(
            found.output_kind, sympy.log(a)
        )
        statements.append(Assign(found.log_a, value, None))
    if found.uses_log_1ma:
        value = LogSigmoid(-z) if found.output_kind == "sigmoid" else log1p(-a)
        statements.append(Assign(found.log_1ma, value, None))
    return statements
