"""What the LaTeX and text printers share: layer superscripts and index subscripts, the order of
a product's factors, and the layout of the notation's products (LectureLayout)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy
from sympy import Expr


def layer_text(layer: Expr) -> str:
    """A layer as the lecture writes it inside (...): 3, l, L, l-1, L+1."""
    if isinstance(layer, sympy.Add):
        const, rest = layer.as_coeff_Add()
        sign = "-" if const < 0 else "+"
        return f"{layer_text(rest)}{sign}{abs(int(const))}"
    return str(layer)


def index_text(indices: tuple[Expr, ...], show: Callable[[Expr], str] = str) -> str:
    """Unit indices as a subscript body: jk for one or two single letters, else comma-separated
    (a feature map's c,i,j); an index that is an expression (2i+u) printed by `show`, without
    spaces."""
    parts = [str(x) if x.is_Atom else show(x).replace(" ", "") for x in indices]
    if len(parts) <= 2 and all(len(p) == 1 for p in parts):
        return "".join(parts)
    return ",".join(parts)


def factored(expr: sympy.Add) -> tuple[Expr, Expr] | None:
    """(c, rest) when a sum has a common numeric factor c != 1: printed c(rest), as 2(a - y)."""
    coeff, rest = expr.primitive()
    if coeff != 1 and isinstance(rest, sympy.Add):
        return coeff, rest
    return None


def lecture_factors(expr: sympy.Mul) -> list[Expr]:
    """A product's factors in the order the lecture writes them: numbers, then quantities such
    as a_j^(l) (and their powers), then sums like (1 - a), then partial-derivative symbols."""
    from .. import notation as n

    def rank(factor: Expr) -> int:
        base = factor.base if isinstance(factor, sympy.Pow) else factor
        if factor.is_number or (isinstance(factor, sympy.Add) and factor.primitive()[0] != 1):
            return 0
        if isinstance(base, n.Decay):  # 2 λ w, as penalties are written
            return 0
        if isinstance(base, n.LayerQuantity | n.Target | sympy.Symbol):
            return 1
        if isinstance(base, n.Partial):
            return 3
        return 2

    return sorted(sympy.Mul.make_args(expr), key=rank)


def decimal(expr: sympy.Rational) -> str | None:
    """A rational with a power-of-ten denominator as a decimal (1/100 -> 0.01), and one from
    decimals the user wrote (denominator 2^a 5^b above 1000, as 1.0507 * 1.6733 gives), else
    None: 1/2 stays a fraction."""
    p, q = int(expr.p), int(expr.q)
    digits = len(str(q)) - 1
    if q > 1000 and q != 10**digits:
        digits = next((d for d in range(digits, 41) if 10**d % q == 0), 0)
        p, q = p * (10**digits // q), 10**digits
    if q == 1 or q != 10**digits or digits > 40:
        return None
    sign = "-" if p < 0 else ""
    whole, frac = divmod(abs(p), q)
    return f"{sign}{whole}.{str(frac).rjust(digits, '0')}"


class LectureLayout:
    """The chain, matrix and elementwise products of the notation, laid out alike by the LaTeX
    and the text printer: only the brackets and the product signs differ (class attributes).
    Mixed in before the SymPy printer class, whose `_print` it calls."""

    #: The brackets around a factor or operand, and the signs of ·, ⊙ in this notation.
    open: str
    close: str
    dot: str
    odot: str
    _elementwise: bool
    _print: Any

    def _paren(self, text: str) -> str:
        return f"{self.open}{text}{self.close}"

    def _factor(self, expr: Expr) -> str:
        from .. import notation as n

        text = str(self._print(expr))
        if (
            (isinstance(expr, sympy.Add) and factored(expr) is None)
            or isinstance(expr, n.Terms)
            or text.startswith("-")
        ):
            return self._paren(text)
        return text

    def _print_Terms(self, expr: Expr, exp: str | None = None) -> str:
        out = str(self._print(expr.args[0]))
        for term in expr.args[1:]:
            negative = term.could_extract_minus_sign()
            out += f" - {self._factor_if_sum(-term)}" if negative else f" + {self._print(term)}"
        return f"{self._paren(out)}^{{{exp}}}" if exp else out  # SymPy's LaTeX power

    def _factor_if_sum(self, expr: Expr) -> str:
        text = str(self._print(expr))
        return self._paren(text) if isinstance(expr, sympy.Add) else text

    def _print_Chain(self, expr: Expr) -> str:
        factors = [arg for arg in expr.args if arg != 1] or [sympy.S.One]  # no "w · 1 · ∂E/∂a"
        return self.dot.join(self._factor(arg) for arg in factors)

    def _operand(self, expr: Expr) -> str:
        from .. import notation as n

        text = str(self._print(expr))
        if isinstance(expr, n.MatProd | n.Hadamard | n.Terms) or (
            isinstance(expr, n.Elementwise)
            and isinstance(expr.args[0], sympy.Add)
            and factored(expr.args[0]) is None
        ):
            return self._paren(text)
        return text

    def _print_MatProd(self, expr: Expr) -> str:
        return " ".join(self._operand(arg) for arg in expr.args)

    def _print_Hadamard(self, expr: Expr) -> str:
        return self.odot.join(self._operand(arg) for arg in expr.args)

    def _print_Elementwise(self, expr: Expr) -> str:
        saved, self._elementwise = self._elementwise, True
        try:
            return str(self._print(expr.args[0]))
        finally:
            self._elementwise = saved
