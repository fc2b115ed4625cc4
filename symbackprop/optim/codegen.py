"""The optimisers' rules as the generated modules' update functions: the printers of their
expressions, the comments citing each rule, and the array-API module's functional form (the
NumPy module's in-place form is optim/inplace.py); the templates lay the strings out."""

from __future__ import annotations

from typing import Any

import sympy
from sympy import Expr, Symbol

from ..printing.array_api import LectureArrayAPIPrinter
from ..printing.numpy import LectureNumPyPrinter
from .rules import OPTIMIZERS, Optimizer, T
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


def optimizer_context(opt: Optimizer) -> dict[str, Any]:
    """The strings of one optimiser's table entries and of the comment citing each rule (the
    statements are the backend's: optim/inplace.py for NumPy, functional_context below)."""
    lines = [
        {"comment": f"({update.tag}) {text_of(update.target)} ← {text_of(update.expr)}"}
        for update in opt.updates
    ]
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
