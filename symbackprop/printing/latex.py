"""LaTeX in the lecture's notation: a SymPy LatexPrinter subclass, one method per symbol."""

from __future__ import annotations

from typing import Any, ClassVar

import sympy
from sympy import Expr
from sympy.printing.latex import LatexPrinter

from .. import notation as n
from .common import LectureLayout, decimal, factored, index_text, layer_text, lecture_factors
from .maps import MapLayout
from .norms import NormLayout

_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


def tex_escape(text: str) -> str:
    """Text mode LaTeX for any string: specials escaped, control characters dropped."""
    return "".join(_TEX_SPECIALS.get(c, c) for c in text if c.isprintable())


class LectureLatexPrinter(NormLayout, MapLayout, LectureLayout, LatexPrinter):
    """SymPy's LaTeX printer with the lecture's symbols: a_k^{(l-1)}, w_{jk}^{(l)}, delta^{(l)}."""

    open, close, dot, odot = r"\left(", r"\right)", r" \cdot ", r" \odot "
    star, full_star, times, _max = r"\star", r"\mathbin{\star^{\mathrm{full}}}", r"\times", r"\max"

    letters: ClassVar[dict[str, str]] = {
        "gamma": r"\gamma",
        "beta": r"\beta",
        "mu": r"\mu",
        "sigma": r"\sigma",
        "xhat": r"\hat{x}",
    }

    def _one_over(self, count: str) -> str:
        return rf"\frac{{1}}{{{count}}}"

    def _sum_over(self, index: str) -> str:
        return rf"\sum_{{{index}}}"

    def _squared(self, text: str) -> str:
        return rf"\left({text}\right)^{{2}}"

    def _power(self, text: str, exp: str) -> str:
        return rf"\left({text}\right)^{{{exp}}}"

    def _name(self, name: str) -> str:
        return rf"\operatorname{{{name}}}"

    def _sub(self, text: str) -> str:
        return f"_{{{text}}}"

    def _args(self, text: str) -> str:
        return rf"\left({text}\right)"

    def _map_sum(self, body: str, positions: str) -> str:
        return rf"\sum_{{{positions}}} {body}_{{\cdot,{positions}}}"

    def _inverse_vec(self, shape: str) -> str:
        return rf"\operatorname{{vec}}^{{-1}}_{{{shape}}}"

    def _range(self, index: Expr, low: Expr, high: Expr) -> str:
        return rf"{self._print(low)} \leq {self._print(index)} \leq {self._print(high)}"

    def _between(self, low: Expr, x: Expr, high: Expr) -> str:
        return rf"{self._print(low)} \leq {self._print(x)} < {self._print(high)}"

    def _iverson(self, condition: str) -> str:
        return rf"\left[{condition}\right]"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({"mul_symbol": None, **(settings or {})})
        self._elementwise = False

    def _quantity(self, base: str, expr: n.LayerQuantity, exp: str | None = None) -> str:
        sub = f"_{{{index_text(expr.indices, self._print)}}}" if expr.indices else ""
        text = f"{base}{sub}^{{({layer_text(expr.layer)})}}"
        return rf"\left({text}\right)^{{{exp}}}" if exp else text

    def _print_Act(self, expr: n.Act, exp: str | None = None) -> str:
        return self._quantity("a", expr, exp)

    def _print_Pre(self, expr: n.Pre, exp: str | None = None) -> str:
        return self._quantity("z", expr, exp)

    def _print_Weight(self, expr: n.Weight, exp: str | None = None) -> str:
        return self._quantity("w", expr, exp)

    def _print_WeightMatrix(self, expr: n.WeightMatrix, exp: str | None = None) -> str:
        return self._quantity("W", expr, exp)

    def _print_Bias(self, expr: n.Bias, exp: str | None = None) -> str:
        return self._quantity("b", expr, exp)

    def _print_Sum(self, expr: sympy.Sum) -> str:
        """A sum over several indices as nested sums, the outermost first (as the lecture
        writes Σ_j Σ_k), not SymPy's one sum over a stacked range."""
        text = str(super()._print_Sum(sympy.Sum(expr.function, expr.limits[0])))
        for index, low, high in expr.limits[1:]:
            text = (
                rf"\sum_{{{self._print(index)}={self._print(low)}}}^{{{self._print(high)}}} {text}"
            )
        return text

    def _print_Decay(self, expr: n.Decay, exp: str | None = None) -> str:
        text = r"\lambda" + ("_{1}" if expr.order == 1 else "")
        if expr.layer is not None:
            text += f"^{{({layer_text(expr.layer)})}}"
        return rf"\left({text}\right)^{{{exp}}}" if exp else text

    def _print_Delta(self, expr: n.Delta, exp: str | None = None) -> str:
        return self._quantity(r"\delta", expr, exp)

    def _print_Width(self, expr: n.Width, exp: str | None = None) -> str:
        return self._quantity("n", expr, exp)

    def _print_Target(self, expr: n.Target, exp: str | None = None) -> str:
        text = f"y_{{{index_text(expr.indices, self._print)}}}" if expr.args else "y"
        return rf"\left({text}\right)^{{{exp}}}" if exp else text

    def _print_Partial(self, expr: n.Partial) -> str:
        num, den = (self._print(arg) for arg in expr.args)
        return rf"\frac{{\partial {num}}}{{\partial {den}}}"

    def _print_SigmaPrime(self, expr: n.SigmaPrime) -> str:
        return rf"\sigma'\left({self._print(expr.args[0])}\right)"

    def _print_Sigma(self, expr: n.Sigma) -> str:
        return rf"\sigma\left({self._print(expr.args[0])}\right)"

    def _print_Affine(self, expr: n.Affine) -> str:
        return " + ".join(self._print(arg) for arg in expr.args)

    def _print_Softmax(self, expr: n.Softmax) -> str:
        return rf"\operatorname{{softmax}}\left({self._print(expr.args[0])}\right)"

    def _print_Heaviside(self, expr: sympy.Heaviside, exp: str | None = None) -> str:
        text = rf"H\left({self._print(expr.args[0])}\right)"
        return f"{text}^{{{exp}}}" if exp else text

    def _print_Rational(self, expr: sympy.Rational) -> str:
        text = decimal(expr)
        return text if text is not None else str(super()._print_Rational(expr))

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        split = factored(expr)
        if split is None:
            return str(super()._print_Add(expr, order))
        coeff, rest = split
        return rf"{self._print(coeff)} \left({self._print(rest)}\right)"

    def _print_Transposed(self, expr: n.Transposed) -> str:
        return rf"\left({self._print(expr.args[0])}\right)^{{T}}"

    def _print_Mul(self, expr: sympy.Mul) -> str:
        coeff, rest = expr.as_coeff_Mul()
        num, den = sympy.fraction(rest, exact=True)
        if den != 1 and coeff.is_Integer and coeff > 0:  # 2 e^{-z^2} / sqrt(pi), not 2 (1/...)
            num, coeff = coeff * num, sympy.S.One
        sep = r" \odot " if self._elementwise else " "
        body = self._product(lecture_factors(num), sep)
        if den != 1:
            under = self._product(lecture_factors(den), sep)
            body = rf"\frac{{{body}}}{{{under}}}"
        if coeff == 1:
            return body
        if coeff == -1:
            return f"- {body}"
        return f"{self._print(coeff)} {body}"

    def _product(self, factors: list[Expr], sep: str) -> str:
        """Factors side by side; after a `cases` brace, which has no closing side, a cdot, so
        that the next factor does not read as part of its last case."""
        out = ""
        for number, factor in enumerate(factors):
            if number:
                after_cases = isinstance(factors[number - 1], sympy.Piecewise) and sep == " "
                out += r" \cdot " if after_cases else sep
            out += self._factor(factor)
        return out

    def _print_Pow(self, expr: sympy.Pow) -> str:
        base, exponent = expr.args
        if self._elementwise and exponent.is_Integer and exponent > 1:
            return rf"\left({self._print(base)}\right)^{{\circ {exponent}}}"
        return str(super()._print_Pow(expr))


_PRINTER = LectureLatexPrinter()


def latex(expr: Expr) -> str:
    """An expression in the lecture's LaTeX notation."""
    return str(_PRINTER.doprint(expr))
