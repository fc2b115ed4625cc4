"""Presentation MathML in the lecture's notation: SymPy's MathML printer, one method per symbol.

It mirrors printing/latex.py (the same parentheses, products, fractions and decimals), for the
HTML page, which browsers render natively. It is strict: a node it has no printer for (a class
of our notation without a method here, an undefined function, anything SymPy would print as a
generic `f(args)` from outside SymPy) raises MathMLError rather than printing a guess.
"""

from __future__ import annotations

from typing import Any
from xml.dom.minidom import Element

import sympy
from sympy import Expr
from sympy.core.function import AppliedUndef
from sympy.printing.mathml import MathMLPresentationPrinter

from .. import notation as n
from .common import decimal, factored, index_text, layer_text, lecture_factors
from .maps import settings
from .norms import along


class MathMLError(TypeError):
    """An expression holds a node that has no MathML printer."""


INVISIBLE_TIMES = "\N{INVISIBLE TIMES}"


class LectureMathMLPrinter(MathMLPresentationPrinter):
    """SymPy's presentation MathML printer with the lecture's symbols (a_k^(l-1), w_jk^(l),
    delta^(l)) and the LaTeX printer's layout of products, sums and vector operations."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({"mul_symbol": None, **(settings or {})})
        self._elementwise = False

    # -- small builders -------------------------------------------------------------------

    def _el(self, tag: str, *children: Element, text: str | None = None) -> Element:
        element: Element = self.dom.createElement(tag)
        if text is not None:
            element.appendChild(self.dom.createTextNode(text))
        for child in children:
            element.appendChild(child)
        return element

    def _mo(self, text: str) -> Element:
        return self._el("mo", text=text)

    def _mi(self, text: str) -> Element:
        return self._el("mi", text=text)

    def _row(self, *children: Element) -> Element:
        return self._el("mrow", *children)

    def _parens(self, inner: Element) -> Element:
        return self._row(self._mo("("), inner, self._mo(")"))

    def _script_text(self, text: str) -> Element:
        """A sub- or superscript such as jk, l-1, 3 as MathML tokens."""
        tokens: list[Element] = []
        for part in _tokens(text):
            if part.isdigit():
                tokens.append(self._el("mn", text=part))
            elif part in "+-,":
                tokens.append(self._mo("\N{MINUS SIGN}" if part == "-" else part))
            else:
                tokens.append(self._mi(part))
        return tokens[0] if len(tokens) == 1 else self._row(*tokens)

    def _layer(self, layer: Expr) -> Element:
        return self._row(self._mo("("), self._script_text(layer_text(layer)), self._mo(")"))

    def _quantity(self, base: str, expr: n.LayerQuantity) -> Element:
        mark = self._mi(base)
        if expr.indices:
            sub = self._script_text(index_text(expr.indices))
            return self._el("msubsup", mark, sub, self._layer(expr.layer))
        return self._el("msup", mark, self._layer(expr.layer))

    # -- the lecture's symbols ------------------------------------------------------------

    def _print_Act(self, expr: n.Act) -> Element:
        return self._quantity("a", expr)

    def _print_Pre(self, expr: n.Pre) -> Element:
        return self._quantity("z", expr)

    def _print_Weight(self, expr: n.Weight) -> Element:
        return self._quantity("w", expr)

    def _print_WeightMatrix(self, expr: n.WeightMatrix) -> Element:
        return self._quantity("W", expr)

    def _print_Bias(self, expr: n.Bias) -> Element:
        return self._quantity("b", expr)

    def _print_Sum(self, expr: sympy.Sum) -> Element:
        """A sum over several indices as nested sums, the outermost first (as in LaTeX)."""
        out: Element = super()._print_Sum(sympy.Sum(expr.function, expr.limits[0]))
        for limit in expr.limits[1:]:
            sign = super()._print_Sum(sympy.Sum(limit[0], limit)).childNodes[0]
            out = self._row(sign, out)
        return out

    def _print_Decay(self, expr: n.Decay) -> Element:
        mark = self._mi("\N{GREEK SMALL LETTER LAMDA}")
        if expr.order == 1:
            mark = self._el("msub", mark, self._el("mn", text="1"))
        return mark if expr.layer is None else self._el("msup", mark, self._layer(expr.layer))

    def _print_Delta(self, expr: n.Delta) -> Element:
        return self._quantity("\N{GREEK SMALL LETTER DELTA}", expr)

    def _print_Width(self, expr: n.Width) -> Element:
        return self._quantity("n", expr)

    def _print_Target(self, expr: n.Target) -> Element:
        if not expr.args:
            return self._mi("y")
        return self._el("msub", self._mi("y"), self._script_text(index_text(expr.indices)))

    def _print_Partial(self, expr: n.Partial) -> Element:
        num, den = (self._print(arg) for arg in expr.args)
        partial = "\N{PARTIAL DIFFERENTIAL}"
        top = self._row(self._mo(partial), num)
        bottom = self._row(self._mo(partial), den)
        return self._el("mfrac", top, bottom)

    def _print_SigmaPrime(self, expr: n.SigmaPrime) -> Element:
        sigma = self._el("msup", self._mi("\N{GREEK SMALL LETTER SIGMA}"), self._mo("\N{PRIME}"))
        return self._row(sigma, self._parens(self._print(expr.args[0])))

    def _print_Sigma(self, expr: n.Sigma) -> Element:
        sigma = self._mi("\N{GREEK SMALL LETTER SIGMA}")
        return self._row(sigma, self._parens(self._print(expr.args[0])))

    def _print_Affine(self, expr: n.Affine) -> Element:
        parts: list[Element] = []
        for number, arg in enumerate(expr.args):
            if number:
                parts.append(self._mo("+"))
            parts.append(self._print(arg))
        return self._row(*parts)

    def _print_Softmax(self, expr: n.Softmax) -> Element:
        return self._row(self._mi("softmax"), self._parens(self._print(expr.args[0])))

    def _print_Jacobian(self, expr: n.Jacobian) -> Element:
        return self._print_Partial(n.Partial(*expr.args))

    def _print_Heaviside(self, expr: sympy.Heaviside) -> Element:
        return self._row(self._mi("H"), self._parens(self._print(expr.args[0])))

    def _print_Exp1(self, expr: Expr) -> Element:
        return self._mi("e")  # not SymPy's &ExponentialE;, a double-struck e

    def _print_Rational(self, expr: sympy.Rational) -> Element:
        text = decimal(expr)
        if text is None:
            return super()._print_Rational(expr)  # type: ignore[no-any-return]
        if text.startswith("-"):
            return self._row(self._mo("\N{MINUS SIGN}"), self._el("mn", text=text[1:]))
        return self._el("mn", text=text)

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> Element:
        split = factored(expr)
        if split is None:
            return super()._print_Add(expr, order)  # type: ignore[no-any-return]
        coeff, rest = split
        return self._row(self._print(coeff), self._parens(self._print(rest)))

    def _print_Terms(self, expr: n.Terms) -> Element:
        parts: list[Element] = [self._print(expr.args[0])]
        for term in expr.args[1:]:
            negative = term.could_extract_minus_sign()
            parts.append(self._mo("\N{MINUS SIGN}" if negative else "+"))
            shown = self._print(-term if negative else term)
            parts.append(self._parens(shown) if negative and isinstance(term, sympy.Add) else shown)
        return self._row(*parts)

    def _factor(self, expr: Expr) -> Element:
        printed: Element = self._print(expr)
        if (
            (isinstance(expr, sympy.Add) and factored(expr) is None)
            or isinstance(expr, n.Terms)
            or _negative(printed)
        ):
            return self._parens(printed)
        return printed

    def _print_Chain(self, expr: n.Chain) -> Element:
        factors = [arg for arg in expr.args if arg != 1] or [sympy.S.One]  # no "w · 1 · ∂E/∂a"
        return self._joined([self._factor(arg) for arg in factors], "\N{MIDDLE DOT}")

    def _print_Transposed(self, expr: n.Transposed) -> Element:
        return self._el("msup", self._parens(self._print(expr.args[0])), self._mi("T"))

    def _operand(self, expr: Expr) -> Element:
        printed: Element = self._print(expr)
        if isinstance(expr, n.MatProd | n.Hadamard) or (
            isinstance(expr, n.Elementwise)
            and isinstance(expr.args[0], sympy.Add)
            and factored(expr.args[0]) is None
        ):
            return self._parens(printed)
        return printed

    def _print_MatProd(self, expr: n.MatProd) -> Element:
        return self._joined([self._operand(arg) for arg in expr.args], INVISIBLE_TIMES)

    def _print_Hadamard(self, expr: n.Hadamard) -> Element:
        return self._joined([self._operand(arg) for arg in expr.args], "\N{CIRCLED DOT OPERATOR}")

    def _print_Elementwise(self, expr: n.Elementwise) -> Element:
        saved, self._elementwise = self._elementwise, True
        try:
            return self._print(expr.args[0])  # type: ignore[no-any-return]
        finally:
            self._elementwise = saved

    def _joined(self, parts: list[Element], operator: str) -> Element:
        out: list[Element] = []
        for number, part in enumerate(parts):
            if number:
                out.append(self._mo(operator))
            out.append(part)
        return self._row(*out)

    def _print_Mul(self, expr: sympy.Mul) -> Element:
        coeff, rest = expr.as_coeff_Mul()
        num, den = sympy.fraction(rest, exact=True)
        if den != 1 and coeff.is_Integer and coeff > 0:
            num, coeff = coeff * num, sympy.S.One
        sep = "\N{CIRCLED DOT OPERATOR}" if self._elementwise else INVISIBLE_TIMES
        body = self._product(lecture_factors(num), sep)
        if den != 1:
            body = self._el("mfrac", body, self._product(lecture_factors(den), sep))
        if coeff == 1:
            return body
        if coeff == -1:
            return self._row(self._mo("\N{MINUS SIGN}"), body)
        return self._row(self._print(coeff), self._mo(INVISIBLE_TIMES), body)

    def _product(self, factors: list[Expr], sep: str) -> Element:
        out: list[Element] = []
        for number, factor in enumerate(factors):
            if number:
                after_cases = isinstance(factors[number - 1], sympy.Piecewise)
                out.append(self._mo("\N{MIDDLE DOT}" if after_cases else sep))
            out.append(self._factor(factor))
        return out[0] if len(out) == 1 else self._row(*out)

    def _print_Pow(self, expr: sympy.Pow) -> Element:
        base, exponent = expr.args
        if self._elementwise and exponent.is_Integer and exponent > 1:
            power = self._row(self._mo("\N{RING OPERATOR}"), self._print(exponent))
            return self._el("msup", self._parens(self._print(base)), power)
        if isinstance(base, n.LayerQuantity | n.Target) and not (
            exponent.is_Rational and exponent < 0
        ):
            return self._el("msup", self._parens(self._print(base)), self._print(exponent))
        if isinstance(base, n.Terms) and exponent != sympy.S.Half and exponent.is_positive:
            return self._el("msup", self._parens(self._print(base)), self._print(exponent))
        return super()._print_Pow(expr)  # type: ignore[no-any-return]

    def _print_Piecewise(self, expr: sympy.Piecewise) -> Element:
        rows: list[Element] = []
        for value, condition in expr.args:
            if condition == sympy.true:
                when = self._el("mtext", text="otherwise")
            else:
                when = self._row(
                    self._el("mtext", text="for\N{NO-BREAK SPACE}"), self._print(condition)
                )
            rows.append(self._el("mtr", self._el("mtd", self._print(value)), self._el("mtd", when)))
        table = self._el("mtable", *rows)
        table.setAttribute("columnalign", "left")
        return self._row(self._mo("{"), table)

    # -- strictness -----------------------------------------------------------------------

    # -- feature maps: convolution and pooling (as printing/maps.py lays them out) ---------

    def _op(self, name: str, sub: str = "") -> Element:
        mark = self._mi(name)
        return self._el("msub", mark, self._script_text(sub)) if sub else mark

    def _applied(self, operator: Element, *args: Element) -> Element:
        inner: list[Element] = []
        for number, arg in enumerate(args):
            if number:
                inner.append(self._mo(";"))
            inner.append(arg)
        return self._row(operator, self._parens(self._row(*inner)))

    def _star(self, name: str, stride: Expr, padding: Expr | None = None) -> Element:
        parts = settings(stride, padding, None, "x")
        mark = self._mo(name)
        return self._el("msub", mark, self._mi(",".join(parts))) if parts else mark

    @staticmethod
    def _size(window: Expr) -> str:
        return "x".join(str(int(x)) for x in window.args)

    def _print_Correlate(self, expr: n.Correlate) -> Element:
        weights, maps, stride, padding = expr.args
        star = self._star("\N{STAR OPERATOR}", stride, padding)
        return self._row(self._print(weights), star, self._print(maps))

    def _print_KernelGradient(self, expr: n.KernelGradient) -> Element:
        maps, delta, _, stride, padding = expr.args
        star = self._star("\N{STAR OPERATOR}", stride, padding)
        return self._row(self._print(maps), star, self._print(delta))

    def _print_InputGradient(self, expr: n.InputGradient) -> Element:
        delta, weights, _, stride, padding = expr.args
        star = self._star("\N{STAR OPERATOR}", stride, padding)
        full = self._el("msup", star, self._mi("full"))
        rotated = self._applied(self._mi("rot180"), self._print(weights))
        return self._row(self._print(delta), full, rotated)

    def _print_PerChannel(self, expr: n.PerChannel) -> Element:
        printed: Element = self._print(expr.args[0])
        return printed

    def _print_MapSum(self, expr: n.MapSum) -> Element:
        positions = "i,j" if int(expr.args[1]) == 2 else "i"
        sign = self._el("munder", self._mo("\N{N-ARY SUMMATION}"), self._script_text(positions))
        subscript = self._script_text(f"\N{MIDDLE DOT},{positions}")
        body = self._el("msub", self._print(expr.args[0]), subscript)
        return self._row(sign, body)

    def _print_Pool(self, expr: n.Pool) -> Element:
        op, maps, window, _ = expr.args
        return self._applied(self._op(f"{op}pool", self._size(window)), self._print(maps))

    def _print_PoolGradient(self, expr: n.PoolGradient) -> Element:
        op, upstream, maps, _, _, window, _ = expr.args
        name = "route" if str(op) == "max" else "spread"
        args = [self._print(upstream)] + ([self._print(maps)] if str(op) == "max" else [])
        return self._applied(self._op(name, self._size(window)), *args)

    def _print_Flatten(self, expr: n.Flatten) -> Element:
        return self._applied(self._mi("vec"), self._print(expr.args[0]))

    def _print_Unflatten(self, expr: n.Unflatten) -> Element:
        inverse = self._el("msup", self._mi("vec"), self._script_text("-1"))
        return self._applied(inverse, self._print(expr.args[0]))

    def _print_Upstream(self, expr: n.Upstream) -> Element:
        return self._print_Partial(n.Partial(n.E, n.Act(expr.layer)))

    # -- normalisation layers ---------------------------------------------------------------

    def _print_Gain(self, expr: n.Gain) -> Element:
        return self._quantity("\N{GREEK SMALL LETTER GAMMA}", expr)

    def _print_Shift(self, expr: n.Shift) -> Element:
        return self._quantity("\N{GREEK SMALL LETTER BETA}", expr)

    def _print_Mean(self, expr: n.Mean) -> Element:
        return self._quantity("\N{GREEK SMALL LETTER MU}", expr)

    def _print_Normalized(self, expr: n.Normalized) -> Element:
        return self._quantity("x\N{COMBINING CIRCUMFLEX ACCENT}", expr)

    def _print_Variance(self, expr: n.Variance) -> Element:
        sigma = self._quantity("\N{GREEK SMALL LETTER SIGMA}", expr)
        return self._el("msup", self._parens(sigma), self._el("mn", text="2"))

    def _print_NormalizedGradient(self, expr: n.NormalizedGradient) -> Element:
        return self._print_Partial(n.Partial(n.E, n.Normalized(*expr.args)))

    def _summed(self, body: Expr, index: Expr) -> Element:
        sign = self._el("munder", self._mo("\N{N-ARY SUMMATION}"), self._mi(str(index)))
        inner = self._print(along(body, index))
        return self._row(sign, self._parens(inner) if isinstance(body, sympy.Add) else inner)

    def _print_Total(self, expr: n.Total) -> Element:
        return self._summed(*expr.args)

    def _print_Average(self, expr: n.Average) -> Element:
        body, index, count = expr.args
        share = self._el("mfrac", self._el("mn", text="1"), self._print(count))
        return self._row(share, self._mo(INVISIBLE_TIMES), self._summed(body, index))

    def _print_WindowMax(self, expr: n.WindowMax) -> Element:
        body, *limits = expr.args
        ranges = ",".join(f"{index}={low}..{high}" for index, low, high in reversed(limits))
        return self._row(self._el("munder", self._mo("max"), self._mi(ranges)), self._print(body))

    def _print_IsArgmax(self, expr: n.IsArgmax) -> Element:
        layer, channel, row, col, p, q = expr.args
        where = self._op("argmax", f"{row},{col}")
        return self._row(
            self._mo("["),
            self._parens(self._script_text(f"{p},{q}")),
            self._mo("="),
            where,
            self._print(n.Act(layer - 1, channel)),
            self._mo("]"),
        )

    def _print_InWindow(self, expr: n.InWindow) -> Element:
        p, q, row, col, stride, window = expr.args
        (sh, sw), (kh, kw) = (tuple(int(x) for x in t.args) for t in (stride, window))
        parts: list[Element] = [self._mo("[")]
        for number, (low, x, high) in enumerate(
            ((sh * row, p, sh * row + kh), (sw * col, q, sw * col + kw))
        ):
            if number:
                parts.append(self._mo(","))
            parts += [self._print(low), self._mo("\N{LESS-THAN OR EQUAL TO}"), self._print(x)]
            parts += [self._mo("<"), self._print(high)]
        return self._row(*parts, self._mo("]"))

    def _print_Function(self, expr: Expr) -> Element:
        if isinstance(expr, AppliedUndef) or not type(expr).__module__.startswith("sympy."):
            raise MathMLError(f"no MathML printer for {type(expr).__name__}: {expr}")
        return super()._print_Function(expr)  # type: ignore[no-any-return]

    def _print_Basic(self, expr: Expr) -> Element:
        raise MathMLError(f"no MathML printer for {type(expr).__name__}: {expr}")

    def emptyPrinter(self, expr: object) -> str:
        raise MathMLError(f"no MathML printer for {type(expr).__name__}: {expr!r}")


def _tokens(text: str) -> list[str]:
    """`l-1` -> l, -, 1; `jk` -> j, k; `12` -> 12; `j,1` -> j, ',', 1."""
    out: list[str] = []
    for char in text:
        if char.isdigit() and out and out[-1].isdigit():
            out[-1] += char
        else:
            out.append(char)
    return out


def _negative(element: Element) -> bool:
    """Whether printed MathML starts with a minus sign."""
    node: Any = element
    while node is not None and node.nodeType == node.ELEMENT_NODE:
        if node.tagName == "mo":
            text = node.firstChild.data if node.firstChild is not None else ""
            return text in ("-", "\N{MINUS SIGN}")
        if node.tagName in ("mn", "mi"):
            text = node.firstChild.data if node.firstChild is not None else ""
            return text.startswith("-")
        if node.tagName != "mrow":
            return False
        node = node.firstChild
    return False


_PRINTER = LectureMathMLPrinter()


def mathml(expr: Expr) -> str:
    """An expression as presentation MathML (the inside of a <math> element)."""
    return str(_PRINTER.doprint(expr))
