"""The flatten layer: feature maps a^(l-1) (C x H x W) as one vector a^(l), channel by channel
and row by row, so that a dense layer can follow: a_{c H W + i W + j + 1}^(l) = a_{c,i,j}^(l-1)
(the dense layer's units counted from 1, the maps' positions from 0). Its derivative only puts
∂E/∂a^(l) back into the maps' shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import Expr, Integer

from ..ir import ActivationRule, Equation, LayerDerivation, LossRule, View
from ..lower.statements import Statement
from ..notation import Act, E, Flatten, Partial, Unflatten, l_sym
from ..spec import Layer
from .conv2d import c, i, integers, j
from .unweighted import forward_statements, handed_down, named_upstream


@dataclass(frozen=True)
class Flattening:
    """A flatten layer's kind, bound to the shape (C, H, W) it receives."""

    shape_in: tuple[int, ...]

    @property
    def _indices(self) -> tuple[Expr, ...]:
        """c, i, j of a map's entry (c, i of a sequence's)."""
        return (c, i, j)[: len(self.shape_in)]

    def _unit(self) -> Expr:
        """The unit of a^(l) that holds a_{c,i,j}^(l-1) (a_{c,i}^(l-1) of a sequence)."""
        if len(self.shape_in) == 2:
            return c * self.shape_in[1] + i + 1
        _, height, width = self.shape_in
        return c * height * width + i * width + j + 1

    def forward(self, view: View, rule: ActivationRule) -> tuple[Equation, ...]:
        """a^(l) = vec(a^(l-1))."""
        if view == "vector":
            return (Equation(view, "act", l_sym, Act(l_sym), (Flatten(Act(l_sym - 1)),)),)
        lhs = Act(l_sym, self._unit())
        return (Equation(view, "act", l_sym, lhs, (Act(l_sym - 1, *self._indices),)),)

    def local_partials(self) -> dict[str, Expr]:
        """∂a_{cHW+iW+j+1}^(l)/∂a_{c,i,j}^(l-1) = 1 (every other unit: 0)."""
        return {"a_prev": Integer(1)}

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
        """∂E/∂a^(l-1) = vec⁻¹(∂E/∂a^(l)); none for a first layer."""
        if not has_prev or view == "chain":
            return ()
        lhs = Partial(E, Act(l_sym - 1) if view == "vector" else Act(l_sym - 1, *self._indices))
        if view == "vector":
            value = Unflatten(upstream, integers(self.shape_in))
            return (Equation(view, "dE_da_prev", l_sym, lhs, (value,)),)
        return (Equation(view, "dE_da_prev", l_sym, lhs, (Partial(E, Act(l_sym, self._unit())),)),)

    def lower_forward(self, ld: LayerDerivation) -> list[Statement]:
        """a^(l) = vec(a^(l-1))."""
        return forward_statements(ld)

    def lower_backward(
        self, ld: LayerDerivation, is_output: bool, values: dict[Expr, Expr]
    ) -> list[Statement]:
        """∂E/∂a^(l-1) in the maps' shape, named for the layer below."""
        return handed_down(ld)


def bind(layer: Layer) -> Flattening:
    """The kind of one flatten layer of a network."""
    return Flattening(layer.shape_in)
