"""Pooling layers (maxpool2d, avgpool2d): a_{c,i,j}^(l) is the maximum, or the mean, of the
window of a^(l-1) at (s i, s j); no weights, no activation.

Their derivative: ∂E/∂a^(l-1) routes each window's ∂E/∂a^(l) to the position of its maximum
(on a tie, to the first maximum in row-major order, as PyTorch does), or spreads it evenly over
the window; overlapping windows add up.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Expr, Rational, Sum

from ..ir import ActivationRule, Equation, LayerDerivation, LossRule, View
from ..lower.statements import Statement
from ..notation import (
    Act,
    Chain,
    E,
    InWindow,
    IsArgmax,
    Partial,
    Pool,
    PoolGradient,
    WindowMax,
    l_sym,
)
from ..spec import Layer
from .conv2d import c, i, integers, j, p, q, u, v
from .unweighted import forward_statements, handed_down, named_upstream


@dataclass(frozen=True)
class Pooling:
    """A pooling layer's kind, bound to its operation ("max" or "avg"), window and shapes."""

    operation: str
    window: tuple[int, ...]
    stride: tuple[int, ...]
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]

    @property
    def _op(self) -> sympy.Symbol:
        return sympy.Symbol(self.operation)

    def forward(self, view: View, rule: ActivationRule) -> tuple[Equation, ...]:
        """a^(l) = maxpool(a^(l-1)) (or avgpool), at symbolic layer l."""
        if view == "vector":
            value = Pool(self._op, Act(l_sym - 1), integers(self.window), integers(self.stride))
            return (Equation(view, "act", l_sym, Act(l_sym), (value,)),)
        (sh, sw), (kh, kw) = self.stride, self.window
        entry = Act(l_sym - 1, c, sh * i + u, sw * j + v)
        limits = ((v, 0, kw - 1), (u, 0, kh - 1))  # Σ_u Σ_v
        if self.operation == "max":
            value = WindowMax(entry, *limits)
        else:
            value = Rational(1, kh * kw) * Sum(entry, *limits)
        return (Equation(view, "act", l_sym, Act(l_sym, c, i, j), (value,)),)

    def local_partials(self) -> dict[str, Expr]:
        """∂a_{c,i,j}^(l)/∂a_{c,p,q}^(l-1): 1 at the window's maximum, or 1/(K_h K_w) inside
        the window; 0 elsewhere."""
        if self.operation == "max":
            return {"a_prev": IsArgmax(l_sym, c, i, j, p, q)}
        (kh, kw) = self.window
        inside = InWindow(p, q, i, j, integers(self.stride), integers(self.window))
        return {"a_prev": Rational(1, kh * kw) * inside}

    def upstream_vector(self, layer: Expr) -> Expr:
        """∂E/∂a^(l-1), which this layer computes and names."""
        return named_upstream(layer)

    def equations(
        self,
        view: View,
        rule: ActivationRule | None,
        loss: LossRule | None,
        has_prev: bool,
        is_output: bool,
        upstream: Expr,
    ) -> tuple[Equation, ...]:
        """∂E/∂a^(l-1) from ∂E/∂a^(l) (nothing to learn here); none for a first layer."""
        if not has_prev or view == "chain":
            return ()
        if view == "vector":
            value = PoolGradient(
                self._op,
                upstream,
                Act(l_sym - 1),
                Act(l_sym),
                integers(self.shape_in[1:]),
                integers(self.window),
                integers(self.stride),
            )
            lhs = Partial(E, Act(l_sym - 1))
            return (Equation(view, "dE_da_prev", l_sym, lhs, (value,)),)
        _, out_h, out_w = self.shape_out
        a_out, a_in = Act(l_sym, c, i, j), Act(l_sym - 1, c, p, q)
        positions = ((j, 0, out_w - 1), (i, 0, out_h - 1))  # Σ_i Σ_j
        generic = Sum(Chain(Partial(E, a_out), Partial(a_out, a_in)), *positions)
        concrete = Sum(self.local_partials()["a_prev"] * Partial(E, a_out), *positions)
        return (Equation(view, "dE_da_prev", l_sym, Partial(E, a_in), (generic, concrete)),)

    def lower_forward(self, ld: LayerDerivation) -> list[Statement]:
        """a^(l) = maxpool(a^(l-1)) or avgpool(a^(l-1))."""
        return forward_statements(ld)

    def lower_backward(
        self, ld: LayerDerivation, is_output: bool, values: dict[Expr, Expr]
    ) -> list[Statement]:
        """∂E/∂a^(l-1), named for the layer below (none below the first layer)."""
        return handed_down(ld)


def bind(layer: Layer) -> Pooling:
    """The kind of one maxpool2d or avgpool2d layer of a network."""
    assert layer.grid is not None
    operation = "max" if layer.kind == "maxpool2d" else "avg"
    grid = layer.grid
    return Pooling(operation, grid.kernel, grid.stride, layer.shape_in, layer.shape_out)
