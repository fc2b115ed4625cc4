"""The optimisers' rules as the generated module's update functions: each assignment printed
by the project's NumPy printer from its SymPy expression, with the rule's tag and text as a
comment; templates/numpy/optimizers.py.jinja lays the strings out."""

from __future__ import annotations

from typing import Any

import sympy
from sympy import Expr, Symbol

from ..printing.array_api import LectureArrayAPIPrinter
from ..printing.numpy import LectureNumPyPrinter
from .rules import OPTIMIZERS, G, Optimizer, T, Update
from .sheet import text_of


class _HuggedPowers:
    """Powers of two plain names hugged as ruff formats them (beta1**t); mixed in before a
    printer class, whose _print_Pow does the rest."""

    def _print_Pow(self, expr: sympy.Pow, rational: bool = False) -> str:
        base, exponent = expr.args
        if isinstance(base, Symbol) and isinstance(exponent, Symbol):
            return f"{self._print(base)}**{self._print(exponent)}"  # type: ignore[attr-defined]
        return str(super()._print_Pow(expr, rational))  # type: ignore[misc]


class OptimizerPrinter(_HuggedPowers, LectureNumPyPrinter):
    """The module's NumPy printer, with powers of two plain names hugged (beta1**t)."""


_PRINTER = OptimizerPrinter()


def numpy_code(expr: Expr) -> str:
    """An expression of the rules as NumPy code over the update function's names."""
    return str(_PRINTER.doprint(expr))


def _rest(expr: Expr, target: Symbol, kind: type[sympy.Add] | type[sympy.Mul]) -> Expr | None:
    """`expr` without the operand `target` (for `target op= rest`), or None when `expr` is not
    a sum (or product, by `kind`) with `target` as one operand."""
    if not isinstance(expr, kind) or target not in expr.args:
        return None
    others: list[Expr] = list(expr.args)
    others.remove(target)
    if len(others) == 1:
        return others[0]
    return kind(*others, evaluate=False)


def _negated(term: Expr) -> Expr | None:
    """The positive part of a term written -x (an unevaluated Mul with a leading -1)."""
    if isinstance(term, sympy.Mul) and term.args[0] == sympy.S.NegativeOne:
        rest = term.args[1:]
        return rest[0] if len(rest) == 1 else sympy.Mul(*rest, evaluate=False)
    return None


def statement(update: Update, kept: set[Symbol]) -> str:
    """One assignment as NumPy: the parameter and the state arrays in place (`p -= ...`,
    `m[...] = ...`), the gradient and the step's values as new local arrays (`g = ...`, so the
    caller's gradients are never changed)."""
    target, expr = update.target, update.expr
    name = target.name
    if target not in kept:
        return f"{name} = {numpy_code(expr)}"
    added = _rest(expr, target, sympy.Add)
    if added is not None:
        positive = _negated(added)
        if positive is not None:
            return f"{name} -= {numpy_code(positive)}"
        return f"{name} += {numpy_code(added)}"
    scaled = _rest(expr, target, sympy.Mul)
    if scaled is not None:
        return f"{name} *= {numpy_code(scaled)}"
    return f"{name}[...] = {numpy_code(expr)}"


def optimizer_context(opt: Optimizer) -> dict[str, Any]:
    """The strings of one optimiser's update function and its table entries."""
    kept = {*(s.symbol for s in opt.state)} | {sympy.Symbol("p", real=True)}
    kept.discard(G)
    lines = []
    for update in opt.updates:
        lines.append(
            {
                "comment": f"({update.tag}) {text_of(update.target)} ← {text_of(update.expr)}",
                "code": statement(update, kept),
            }
        )
    return {
        "name": opt.name,
        "title": opt.title,
        "torch": opt.torch,
        "hypers": [{"name": h.name, "default": repr(float(h.default))} for h in opt.hypers],
        "state": [
            {"name": s.name, "start": s.initial.name if s.initial.is_Symbol else None}
            for s in opt.state
        ],
        "lines": lines,
    }


def context() -> list[dict[str, Any]]:
    """Every optimiser's strings, in the order of OPTIMIZERS."""
    return [optimizer_context(opt) for opt in OPTIMIZERS.values()]


class FunctionalPrinter(_HuggedPowers, LectureArrayAPIPrinter):
    """The array-API module's printer for the rules: powers of two plain names hugged, and a
    choice on the step number t alone (a Python int, not an array) as a conditional
    expression."""

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        conditions = [cond for _, cond in expr.args]
        if not all(cond == sympy.true or cond.free_symbols <= {T} for cond in conditions):
            return super()._print_Piecewise(expr)
        *pieces, (last, _) = expr.args
        out = str(self._print(last))
        for value, condition in reversed(pieces):
            out = f"{self._print(value)} if {self._print(condition)} else {out}"
        return out  # a whole right-hand side (the rules choose on t only at the top)

    def _print_Equality(self, expr: sympy.Eq) -> str:
        return f"{self._print(expr.lhs)} == {self._print(expr.rhs)}"


_FUNCTIONAL = FunctionalPrinter()


def functional_context(opt: Optimizer) -> dict[str, Any]:
    """One optimiser's update function for the array-API module: every assignment a new
    array (nothing written in place), returning the parameter and the state in order."""
    context = optimizer_context(opt)
    context["lines"] = [
        {
            "comment": line["comment"],
            "code": f"{update.target.name} = {_FUNCTIONAL.doprint(update.expr)}",
        }
        for line, update in zip(context["lines"], opt.updates, strict=True)
    ]
    context["returns"] = ["p", *(s.name for s in opt.state)]
    return context


def functional() -> list[dict[str, Any]]:
    """Every optimiser's strings for the array-API module, in the order of OPTIMIZERS."""
    return [functional_context(opt) for opt in OPTIMIZERS.values()]
