"""Plain-text (Unicode) rendering of the lecture's notation for terminals."""

from __future__ import annotations

from typing import Any, ClassVar

import sympy
from sympy import Expr
from sympy.printing.str import StrPrinter

from .. import notation as n
from .common import LectureLayout, decimal, factored, index_text, layer_text, lecture_factors
from .maps import MapLayout
from .norms import NormLayout


class LectureTextPrinter(NormLayout, MapLayout, LectureLayout, StrPrinter):
    """SymPy's str printer with the lecture's symbols: a_k^(l-1), ∂E/∂w_jk^(l), δ^(l), ⊙."""

    open, close, dot, odot = "(", ")", " · ", " ⊙ "
    star, full_star, times, _max = "⋆", "⋆full", "x", "max"

    letters: ClassVar[dict[str, str]] = {
        "gamma": "γ",
        "beta": "β",
        "mu": "μ",
        "sigma": "σ",
        "xhat": "x̂",
        "epsilon": "ε",
    }

    def _one_over(self, count: str) -> str:
        return f"(1/{count})"

    def _sum_over(self, index: str) -> str:
        return f"Σ_{index}"

    def _squared(self, text: str) -> str:
        return f"({text})²"

    def _power(self, text: str, exp: str) -> str:
        return f"({text})^{exp}"

    def _name(self, name: str) -> str:
        return name

    def _sub(self, text: str) -> str:
        return f"_{{{text}}}"

    def _args(self, text: str) -> str:
        return f"({text})"

    def _map_sum(self, body: str, positions: str) -> str:
        return f"Σ_{{{positions}}} ({body})_{{·,{positions}}}"

    def _inverse_vec(self, shape: str) -> str:
        return f"vec⁻¹_{{{shape}}}"

    def _range(self, index: Expr, low: Expr, high: Expr) -> str:
        return f"{self._print(index)}={self._print(low)}..{self._print(high)}"

    def _between(self, low: Expr, x: Expr, high: Expr) -> str:
        return f"{self._print(low)} ≤ {self._print(x)} < {self._print(high)}"

    def _iverson(self, condition: str) -> str:
        return f"[{condition}]"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings or {})
        self._elementwise = False

    def _quantity(self, base: str, expr: n.LayerQuantity) -> str:
        sub = f"_{index_text(expr.indices, self._print)}" if expr.indices else ""
        return f"{base}{sub}^({layer_text(expr.layer)})"

    def _print_Act(self, expr: n.Act) -> str:
        return self._quantity("a", expr)

    def _print_Pre(self, expr: n.Pre) -> str:
        return self._quantity("z", expr)

    def _print_Weight(self, expr: n.Weight) -> str:
        return self._quantity("w", expr)

    def _print_WeightMatrix(self, expr: n.WeightMatrix) -> str:
        return self._quantity("W", expr)

    def _print_Bias(self, expr: n.Bias) -> str:
        return self._quantity("b", expr)

    def _print_Decay(self, expr: n.Decay) -> str:
        text = "λ₁" if expr.order == 1 else "λ"
        return f"{text}^({layer_text(expr.layer)})" if expr.layer is not None else text

    def _print_Delta(self, expr: n.Delta) -> str:
        return self._quantity("δ", expr)

    def _print_Width(self, expr: n.Width) -> str:
        return self._quantity("n", expr)

    def _print_Target(self, expr: n.Target) -> str:
        return f"y_{index_text(expr.indices, self._print)}" if expr.args else "y"

    def _print_Partial(self, expr: n.Partial) -> str:
        num, den = (self._print(arg) for arg in expr.args)
        return f"∂{num}/∂{den}"

    def _print_SigmaPrime(self, expr: n.SigmaPrime) -> str:
        return f"σ'({self._print(expr.args[0])})"

    def _print_Sigma(self, expr: n.Sigma) -> str:
        return f"σ({self._print(expr.args[0])})"

    def _print_Affine(self, expr: n.Affine) -> str:
        return " + ".join(self._print(arg) for arg in expr.args)

    def _print_Softmax(self, expr: n.Softmax) -> str:
        return f"softmax({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr: sympy.Heaviside) -> str:
        return f"H({self._print(expr.args[0])})"

    def _print_KroneckerDelta(self, expr: sympy.KroneckerDelta) -> str:
        return f"δ_{index_text(expr.args)}"

    def _print_Rational(self, expr: sympy.Rational) -> str:
        text = decimal(expr)
        return text if text is not None else str(super()._print_Rational(expr))

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        split = factored(expr)
        if split is None:
            return str(super()._print_Add(expr, order))
        coeff, rest = split
        if _fraction(coeff):  # (2 max(0, z) + min(0, z))/2, not 1/2(...)
            p, q = int(coeff.p), int(coeff.q)
            lead = "" if p == 1 else "-" if p == -1 else f"{p}"
            return f"{lead}({self._print(rest)})/{q}"
        return f"{self._print(coeff)}({self._print(rest)})"

    def _print_Max(self, expr: sympy.Max) -> str:
        return f"max({', '.join(self._print(arg) for arg in expr.args)})"

    def _print_Min(self, expr: sympy.Min) -> str:
        return f"min({', '.join(self._print(arg) for arg in expr.args)})"

    def _print_Abs(self, expr: sympy.Abs) -> str:
        return f"|{self._print(expr.args[0])}|"

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        """(z if z > 0 else z/5): in parentheses, so that it reads as one factor anywhere;
        `text` leaves them off a whole expression."""
        return f"({self.piecewise_body(expr)})"

    def piecewise_body(self, expr: sympy.Piecewise) -> str:
        """The cases of a Piecewise as Python writes them: `z if z > 0 else z/5`."""
        parts = []
        for value, condition in expr.args:
            if condition == sympy.true:
                parts.append(str(self._print(value)))
                break
            parts.append(f"{self._print(value)} if {self._print(condition)}")
        return " else ".join(parts)

    def _print_Relational(self, expr: sympy.core.relational.Relational) -> str:
        symbol = _RELATIONS.get(expr.rel_op, expr.rel_op)
        return f"{self._print(expr.lhs)} {symbol} {self._print(expr.rhs)}"

    def _print_And(self, expr: sympy.And) -> str:
        return " and ".join(self._condition(arg) for arg in expr.args)

    def _print_Or(self, expr: sympy.Or) -> str:
        return " or ".join(self._condition(arg) for arg in expr.args)

    def _print_Not(self, expr: sympy.Not) -> str:
        return f"not {self._condition(expr.args[0])}"

    def _condition(self, expr: Expr) -> str:
        text = str(self._print(expr))
        return f"({text})" if isinstance(expr, sympy.And | sympy.Or) else text

    def _print_Sum(self, expr: sympy.Sum) -> str:
        signs = [
            f"Σ_{{{index}={self._print(low)}..{self._print(high)}}}"
            for index, low, high in reversed(expr.limits)  # the outermost sum first
        ]
        return f"{' '.join(signs)} {self._factor(expr.function)}"

    def _print_Transposed(self, expr: n.Transposed) -> str:
        return f"({self._print(expr.args[0])})ᵀ"

    def _print_Mul(self, expr: sympy.Mul) -> str:
        coeff, rest = expr.as_coeff_Mul()
        num, den = sympy.fraction(rest, exact=True)
        if den != 1 and coeff.is_Integer and coeff > 0:  # 2 exp(-z^2)/sqrt(pi)
            num, coeff = coeff * num, sympy.S.One
        if _fraction(coeff):  # z/5 and -3 z/5, not 1/5 z
            p, q = int(coeff.p), int(coeff.q)
            num, den = abs(p) * num, q * den
            coeff = sympy.S.NegativeOne if p < 0 else sympy.S.One
        sep = " ⊙ " if self._elementwise else " "
        body = sep.join(self._factor(f) for f in lecture_factors(num))
        if den != 1:
            parts = lecture_factors(den)
            under = sep.join(self._factor(f) for f in parts)
            body = f"{body}/{under if len(parts) == 1 else f'({under})'}"
        if coeff == 1:
            return body
        return f"-{body}" if coeff == -1 else f"{self._print(coeff)} {body}"

    def _print_Pow(self, expr: sympy.Pow, rational: bool = False) -> str:
        base, exponent = expr.args
        if self._elementwise and exponent.is_Integer and exponent > 1:
            return f"({self._print(base)})^∘{exponent}"
        if exponent == sympy.S.Half:
            return f"sqrt({self._print(base)})"
        if exponent.is_Rational and exponent < 0:
            return f"1/{self._factor(sympy.Pow(base, -exponent))}"
        base_text = self._print(base)
        if isinstance(base, n.LayerQuantity | n.Terms) or not isinstance(
            base, sympy.Symbol | sympy.Function
        ):
            base_text = f"({base_text})"
        exp_text = self._print(exponent)
        return f"{base_text}^{exp_text if exponent.is_Integer else f'({exp_text})'}"


_RELATIONS = {"==": "=", "!=": "≠", ">=": "≥", "<=": "≤"}


def _fraction(coeff: Expr) -> bool:
    """A coefficient printed as a fraction (1/5, not 0.2): folded into the quotient."""
    return bool(coeff.is_Rational and not coeff.is_Integer and decimal(coeff) is None)


_PRINTER = LectureTextPrinter()


def text(expr: Expr) -> str:
    """An expression in the lecture's notation as plain Unicode text."""
    if isinstance(expr, sympy.Piecewise):
        return _PRINTER.piecewise_body(expr)
    return str(_PRINTER.doprint(expr))
