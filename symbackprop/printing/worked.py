"""The `gd --latex` document: the lecture's worked gradient-descent iterations, each update with
the numbers substituted into the derivative as the slides write them (2 \\left(3 + 5\\right)).

The printer makes every string; templates/gd/worked.tex.jinja only lays them out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import sympy
from sympy import Dummy, Expr

from ..gd.engine import WORKED_FIRST, GDResult, GDRow, format_number
from ..render import environment
from .common import factored, lecture_factors
from .latex import LectureLatexPrinter


def number_latex(x: float) -> str:
    """A float as LaTeX with gd's DIGITS significant digits: 2.68, -4.993682, 1.5 \\cdot 10^{-8}."""
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    mantissa, _, exponent = format_number(x).partition("e")
    return rf"{mantissa} \cdot 10^{{{int(exponent)}}}" if exponent else mantissa


class WorkedLatexPrinter(LectureLatexPrinter):
    """The lecture's LaTeX with numbers in place of variables, written as the slides do: the
    derivative 2(w + 5) at w = 3 prints 2 \\left(3 + 5\\right), never evaluated."""

    def __init__(self, values: Mapping[Dummy, float]) -> None:
        super().__init__()
        self._values = dict(values)

    def _value(self, expr: Expr) -> float | None:
        return self._values.get(expr) if isinstance(expr, Dummy) else None

    def _print_Dummy(self, expr: Dummy) -> str:
        value = self._value(expr)
        return number_latex(value) if value is not None else str(super()._print_Dummy(expr))

    def _print_Pi(self, expr: Expr) -> str:
        return r"\pi"

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        split = factored(expr)
        if split is not None:
            coeff, rest = split
            return rf"{self._print(coeff)} \left({self._print(rest)}\right)"
        terms = self._as_ordered_terms(expr, order=order)
        tex = str(self._print(terms[0]))
        for term in terms[1:]:
            value = self._value(term)
            if value is not None and value < 0:
                tex += f" - {number_latex(-value)}"
            elif term.could_extract_minus_sign():
                tex += f" - {self._operand_after_sign(-term)}"
            else:
                tex += f" + {self._operand_after_sign(term)}"
        return tex

    def _operand_after_sign(self, term: Expr) -> str:
        printed = str(self._print(term))
        return rf"\left({printed}\right)" if printed.startswith("-") else printed

    def _print_Mul(self, expr: sympy.Mul) -> str:
        coeff, rest = expr.as_coeff_Mul()
        num, den = sympy.fraction(rest)
        factors = lecture_factors(num)
        if den != 1 and len(factors) == 1:
            body = str(self._print(factors[0]))
        else:
            body = self._juxtapose([self._factor(f) for f in factors])
        if den != 1:
            under = self._juxtapose([self._factor(f) for f in lecture_factors(den)])
            body = rf"\frac{{{body}}}{{{under}}}"
        if coeff == 1:
            return body
        if coeff == -1:
            return f"- {body}"
        return self._juxtapose([str(self._print(coeff)), body])

    @staticmethod
    def _juxtapose(pieces: list[str]) -> str:
        """Factors side by side, with a dot where two numbers would run together (3 \\cdot 2)."""
        tex = pieces[0]
        for piece in pieces[1:]:
            tex += rf" \cdot {piece}" if piece[:1].isdigit() or piece[:1] == "." else f" {piece}"
        return tex

    def _print_Pow(self, expr: sympy.Pow) -> str:
        base, exponent = expr.args
        value = self._value(base)
        root = exponent.is_Rational and exponent.p == 1 and exponent.q > 1
        if value is not None and not root:
            shown = number_latex(value)
            if value < 0 or " " in shown:
                shown = rf"\left({shown}\right)"
            return f"{shown}^{{{self._print(exponent)}}}"
        return str(super()._print_Pow(expr))


def _latex(expr: Expr) -> str:
    """An expression in the lecture's LaTeX, through the worked printer (which also prints pi)."""
    return str(WorkedLatexPrinter({}).doprint(expr))


def worked_latex(result: GDResult) -> str:
    """A standalone LaTeX document working out the first WORKED_FIRST iterations and the last,
    each as the update with the numbers substituted into the derivative."""
    symbols = result.symbols
    dummies = tuple(Dummy(name) for name in result.variables)
    swap = dict(zip(symbols, dummies, strict=True))
    partials = [g.xreplace(swap) for g in result.gradient]
    names = [_latex(s) for s in symbols]
    by_number = {row.iteration: row for row in result.rows}
    last = result.last.iteration
    shown = [*range(1, min(WORKED_FIRST, last) + 1), *([last] if last > WORKED_FIRST else [])]
    lr = number_latex(result.lr)
    iterations = []
    for number in shown:
        before, after = by_number[number - 1], by_number[number]
        printer = WorkedLatexPrinter(dict(zip(dummies, before.values, strict=True)))
        updates = [
            {
                "name": names[i],
                "old": number_latex(before.values[i]),
                "grad": printer.doprint(partials[i]),
                "new": number_latex(after.values[i]),
            }
            for i in range(len(names))
        ]
        iterations.append({"number": number, "updates": updates})
    start = result.rows[0]

    def point(row: GDRow) -> list[dict[str, str]]:
        return [
            {"name": n, "value": number_latex(v)} for n, v in zip(names, row.values, strict=True)
        ]

    context = {
        "variables": names,
        "f": _latex(result.expression),
        "derivatives": [
            {"name": n, "tex": _latex(g)} for n, g in zip(names, result.gradient, strict=True)
        ],
        "lr": lr,
        "start": point(start),
        "start_f": number_latex(start.f),
        "iterations": iterations,
        "gap": last > WORKED_FIRST + 1,
        "final": {
            "number": last,
            "point": point(result.last),
            "f": number_latex(result.last.f),
        },
        "stop": result.detail,
    }
    return environment("document").get_template("gd/worked.tex.jinja").render(**context)
