"""The loss as the generated modules compute it: E per output unit in the layer's arrays, with
log a^(L) and log(1 - a^(L)) taken from z^(L) where the output activation allows it.

Shared by the backends: `loss_step` lays out _per_sample_loss() for either module (the
logarithms as statements of their own, `log_statements`), and sgd_step's in-place pass reads
`per_unit` and `output_kind`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy
from sympy import Expr

from ..ir import Derivation
from ..library import A, Y, Z
from ..notation import Act, Bias, Pre, Target, WeightMatrix
from ..printing.numpy import LINE_WIDTH
from ..rewrite import LogSigmoid, LogSoftmax, log1p, stable
from .program import Assign, penalty
from .readable import Dialect, Group, Step, comment

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


def note(value: Expr, depth: int) -> list[str]:
    """Why a logarithm of the output is computed from z as it is."""
    if isinstance(value, LogSoftmax):
        return [f"# log a^({depth}) from z^({depth}) by log-sum-exp: finite however large |z| is"]
    if isinstance(value, LogSigmoid):
        side = "a" if value.args[0] == Pre(depth) else "1 - a"
        sign = "-" if side == "a" else ""
        return [f"# log({side}^({depth})) = -log(1 + e^({sign}z)), finite however large |z| is"]
    return []


def loss_step(found: Loss, depth: int, dialect: Dialect) -> tuple[Step, str]:
    """_per_sample_loss() of the loss `found` (`loss(derivation)`) at output layer `depth`: the
    cached arrays it reads, the logarithms of the output, E per unit; and the code whose row sums
    it returns (E itself when the line fits, else `terms`), in a target library's dialect."""
    logs = log_statements(found, depth)
    step = Step(depth)
    reads: set[Expr] = set(found.per_unit.atoms(Act, Pre))
    for statement in logs:
        reads |= statement.value.atoms(Act, Pre)
    step.cache = sorted(dialect.code(q) for q in reads)
    for statement in logs:
        notes = note(statement.value, depth)
        target = dialect.code(statement.target)
        step.groups.append(Group(notes, dialect.statements(target, statement.value)))
    code = dialect.code(found.per_unit)
    if len(f"    return xp.sum({code}, axis=1)") > LINE_WIDTH:  # np and xp: as long
        step.groups.append(Group([], dialect.statements("terms", found.per_unit)))
        code = "terms"
    return step, code


def penalty_step(derivation: Derivation, dialect: Dialect) -> Step | None:
    """_penalty(): the weights (and biases) it reads, then R as the sum over the layers of each
    term's entries (lower/program.penalty), under the loss equation that states it; None when the
    network has no regularisation."""
    terms = penalty(derivation)
    if not terms:
        return None
    step = Step(derivation.network.depth)
    read = {q for term in terms for q in term.atoms(WeightMatrix, Bias)}
    step.params = sorted({dialect.code(q) for q in read})
    statements = [
        ("total", "=" if number == 0 else "+=", dialect.sum_all.format(dialect.code(term)))
        for number, term in enumerate(terms)
    ]
    equation = comment(derivation.layers[-1].require("index", "loss"))
    step.groups.append(Group(equation, statements))
    return step
