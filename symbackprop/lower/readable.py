"""The readable schedule: the program as the plain functions forward() and _backward() write
it, one fresh array per statement, the arrays a layer reads fetched from the cache or the
parameters before its first statement, each statement under the equation it implements.

Decisions made here, not in templates: a batch mean folded into the statement before it when
the line still fits (else an update of its own), a constant delta made a whole array, long
lines split by the printer.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sympy import Add, Expr, Mul, Pow

from ..ir import Derivation, Equation
from ..naming import tag
from ..notation import Delta, Elementwise, Hadamard, LayerQuantity, Target, Terms
from ..printing.array_api import array_api_code, array_api_statements
from ..printing.numpy import LINE_WIDTH, Statement, numpy_code, numpy_statements
from ..printing.text import text
from ..shapes import NORM_KINDS, parameters, weight_shape
from .program import N_BATCH, Assign, BatchSum, GradientName, Program, Scale, reads
from .statements import CACHED

COMMENT_WIDTH = 84


@dataclass(frozen=True)
class Dialect:
    """How one target library writes the schedule's statements: its statement printer, a
    sum over the batch's rows, a whole array of a constant shaped like Y and a sum of every
    entry (templates with `{}` for the printed code)."""

    code: Callable[[Expr], str]
    statements: Callable[[str, Expr], list[Statement]]
    sum_rows: str
    full_like_targets: str
    sum_all: str


NUMPY = Dialect(
    numpy_code,
    numpy_statements,
    "{}.sum(axis=0)",
    "np.full(Y.shape, {}, dtype=Y.dtype)",
    "np.sum({})",
)
#: The functional backend: no mutation of an array the function did not make itself (the
#: `+=` of a split line updates the fresh array the line before made; Python rebinds the
#: name for immutable arrays such as JAX's).
ARRAY_API = Dialect(
    array_api_code, array_api_statements, "xp.sum({}, axis=0)", "xp.full_like(Y, {})", "xp.sum({})"
)


@dataclass
class Group:
    """Statements under the comment lines of the equation they implement."""

    comment: list[str]
    statements: list[Statement]


@dataclass
class Step:
    """One layer's share of a function: the arrays it fetches, then its statement groups."""

    layer: int
    cache: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)


def layer_facts(derivation: Derivation) -> list[dict[str, Any]]:
    """What a module's init_params and cache are laid out from, layer by layer: its number,
    units, fan-in, activation, initialisation, whether it is a softmax, whether it has
    weights (pooling and flatten have none) and a weighted input z, the shape of its weights
    and the fan-in and fan-out of their initialisation (a kernel's C·K_h·K_w and F·K_h·K_w),
    whether it normalises, its parameters' names and the arrays its forward pass caches."""
    facts = []
    for ld, layer in zip(derivation.layers, derivation.network.layers, strict=True):
        shape = weight_shape(layer) or (ld.units, ld.fan_in)
        window = math.prod(shape[2:])  # a kernel's entries (1 for a dense layer)
        facts.append(
            {
                "n": ld.number,
                "units": ld.units,
                "fan_in": ld.fan_in,
                "activation": ld.rule.activation.name,
                "init": ld.rule.activation.init,
                "softmax": ld.rule.activation.is_softmax,
                "params": layer.has_parameters,
                "has_pre": ld.equation("vector", "pre") is not None,
                "weight_shape": f"({', '.join(str(s) for s in shape)})",
                "bias_size": shape[0],
                "init_fan_in": math.prod(shape[1:]),
                "init_fan_out": shape[0] * window,
                "norm": layer.kind in NORM_KINDS,
                "names": [f"{key}{ld.number}" for key, _ in parameters(layer)],
                "cached": [name(eq.lhs) for eq in ld.forward if eq.view == "vector"],
            }
        )
    return facts


def comment(eq: Equation) -> list[str]:
    """The equation a statement implements, in the text notation, as wrapped comment lines."""
    return textwrap.wrap(
        f"({tag(eq)}) {text(eq.lhs)} = {text(eq.final)}",
        width=COMMENT_WIDTH,
        initial_indent="# ",
        subsequent_indent="#     ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def name(target: Expr) -> str:
    """The variable a target is held in: delta2, dW2, db2, z1, a1, W1."""
    if isinstance(target, GradientName):
        return f"d{target.args[1]}{int(target.layer)}"
    if isinstance(target, Delta):
        return f"delta{int(target.layer)}"
    return numpy_code(target)


def forward(program: Program, dialect: Dialect = NUMPY) -> list[Step]:
    """forward(): per layer, its weights and bias, then z and a."""
    return _schedule(program.forward, {"a0"}, dialect)


def backward(program: Program, dialect: Dialect = NUMPY) -> list[Step]:
    """_backward(): per layer from L down, the cached arrays and the weights it reads."""
    return _schedule(program.backward, set(), dialect)


def _schedule(
    statements: tuple[Assign | Scale | BatchSum, ...], available: set[str], dialect: Dialect
) -> list[Step]:
    steps: list[Step] = []
    by_layer: dict[int, list[Assign | Scale | BatchSum]] = {}
    for statement in statements:
        by_layer.setdefault(int(statement.target.args[0]), []).append(statement)
    known = set(available)
    for layer, group in by_layer.items():
        step = Step(layer)
        needed: set[Expr] = set()
        made: set[Expr] = set()
        for statement in group:
            needed |= {q for q in reads(statement) if q not in made}
            made.add(statement.target)
        for q in sorted(needed, key=name):
            if isinstance(q, Target | Delta) or name(q) in known:
                continue
            (step.cache if isinstance(q, CACHED) else step.params).append(name(q))
            known.add(name(q))
        known |= {name(q) for q in made}
        index = 0
        while index < len(group):
            statement = group[index]
            after = group[index + 1] if index + 1 < len(group) else None
            mean = after if isinstance(after, Scale) and after.target == statement.target else None
            if isinstance(statement, Scale):  # one with no statement of its own before it
                step.groups.append(Group([f"# {statement.why}"], [_update(statement, dialect)]))
            else:
                step.groups.append(_group(statement, mean, dialect))
            index += 2 if mean is not None else 1
        steps.append(step)
    return steps


def _group(statement: Assign | BatchSum, mean: Scale | None, dialect: Dialect) -> Group:
    notes = comment(statement.equation) if statement.equation is not None else []
    target = name(statement.target)
    if isinstance(statement, BatchSum):
        rows = dialect.code(statement.value)
        if isinstance(
            statement.value, Add | Mul | Pow | Hadamard | Terms
        ):  # an operator: bracketed
            rows = f"({rows})"
        summed = dialect.sum_rows.format(rows)
        decay = [] if statement.decay is None else [(target, "+=", dialect.code(statement.decay))]
        return Group(notes, [(target, "=", summed), *decay])
    value = statement.value
    if isinstance(value, Elementwise):
        value = value.args[0]
    if mean is not None:
        notes = [*notes, f"# {mean.why} of the batch"]
    if not value.atoms(LayerQuantity, Target):  # a constant delta (E linear in a): an array
        if mean is not None:
            value = value * mean.factor
        full = dialect.full_like_targets.format(dialect.code(value))
        return Group(notes, [(target, "=", full)])
    if mean is not None:
        folded = dialect.code(value * mean.factor)
        if len(f"    {target} = {folded}") <= LINE_WIDTH:
            return Group(notes, [(target, "=", folded)])
        return Group(notes, [*dialect.statements(target, value), _update(mean, dialect)])
    return Group(notes, dialect.statements(target, value))


def _update(scale: Scale, dialect: Dialect) -> Statement:
    """`target *= factor`, or `target /= n` for a batch mean."""
    if scale.factor == 1 / N_BATCH:
        return (name(scale.target), "/=", dialect.code(N_BATCH))
    return (name(scale.target), "*=", dialect.code(scale.factor))
