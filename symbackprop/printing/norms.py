"""The symbols and sums of normalisation layers (γ, β, μ, σ², x̂, averages over the units of a
sample or the samples of a batch), laid out alike by the LaTeX and the text printer: a mixin
whose class attributes give each printer's letters, as `maps.MapLayout` does for feature maps."""

from __future__ import annotations

from typing import Any, ClassVar

import sympy
from sympy import Expr

from .. import notation as n

#: The quantities that vary along the units of a sample and the samples of a batch; inside an
#: average over one of them they take its index (a_k^(l-1), x̂_s^(l)); γ, β, μ and σ² do not
#: vary along the axis their layer averages over.
_ALONG = (n.Act, n.Pre, n.Normalized, n.NormalizedGradient, n.Delta)


def along(body: Expr, index: Expr) -> Expr:
    """`body` with `index` on each quantity that varies along the averaged axis."""
    return body.replace(
        lambda e: isinstance(e, _ALONG) and not e.indices, lambda e: e.func(e.layer, index)
    )


class NormLayout:
    """Printing of notation's normalisation symbols; `_print` is the SymPy printer's."""

    #: The printer's letters for γ, β, μ, σ, x̂ and Σ, and its markup of a fraction 1/x.
    letters: ClassVar[dict[str, str]]
    _print: Any

    def _quantity(self, base: str, expr: n.LayerQuantity) -> str:
        raise NotImplementedError

    def _one_over(self, count: str) -> str:
        raise NotImplementedError

    def _sum_over(self, index: str) -> str:
        raise NotImplementedError

    def _squared(self, text: str) -> str:
        raise NotImplementedError

    def _print_Gain(self, expr: n.Gain, exp: str | None = None) -> str:
        return self._letter("gamma", expr, exp)

    def _print_Shift(self, expr: n.Shift, exp: str | None = None) -> str:
        return self._letter("beta", expr, exp)

    def _print_Mean(self, expr: n.Mean, exp: str | None = None) -> str:
        return self._letter("mu", expr, exp)

    def _print_Normalized(self, expr: n.Normalized, exp: str | None = None) -> str:
        return self._letter("xhat", expr, exp)

    def _letter(self, name: str, expr: n.LayerQuantity, exp: str | None) -> str:
        text = self._quantity(self.letters[name], expr)
        return self._power(text, exp) if exp else text

    def _print_Variance(self, expr: n.Variance, exp: str | None = None) -> str:
        squared = self._squared(self._quantity(self.letters["sigma"], expr))
        return self._power(squared, exp) if exp else squared

    def _power(self, text: str, exp: str) -> str:
        raise NotImplementedError

    def _print_Symbol(self, expr: sympy.Symbol, **options: Any) -> str:
        if expr == n.EPS and "epsilon" in self.letters:
            return self.letters["epsilon"]
        return str(super()._print_Symbol(expr, **options))  # type: ignore[misc]

    def _print_NormalizedGradient(self, expr: n.NormalizedGradient, exp: str | None = None) -> str:
        return str(self._print(n.Partial(n.E, n.Normalized(*expr.args))))

    def _summed(self, body: Expr, index: Expr) -> str:
        text = str(self._print(along(body, index)))
        if isinstance(body, sympy.Add):
            text = f"{self.open}{text}{self.close}"  # type: ignore[attr-defined]
        return f"{self._sum_over(str(index))} {text}"

    def _print_Total(self, expr: n.Total) -> str:
        body, index = expr.args
        return self._summed(body, index)

    def _print_Average(self, expr: n.Average) -> str:
        body, index, count = expr.args
        return f"{self._one_over(str(self._print(count)))} {self._summed(body, index)}"
