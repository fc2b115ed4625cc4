"""A dense layer with a residual connection: z_j^(l) = Σ_k w_jk^(l) a_k^(l-1) + b_j^(l) + a_j^(m),
an earlier layer's output m = l - d added to the weighted input (d the connection's span), so
∂z_j^(l)/∂a_j^(m) = 1 and ∂E/∂a^(m) gains a second path, δ^(l): the network is a graph.

Every backward equation of the layer itself is the dense layer's; the second path into layer m
is added where ∂E/∂a^(m) is stated (derive.py, `skip_path`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import Expr

from ..ir import ActivationRule, Equation, LayerDerivation, LossRule, View
from ..lower.statements import Statement
from ..notation import Act, Affine, Chain, Delta, E, Partial, Pre, k, l_sym
from .dense import equations as dense_equations
from .dense import forward as dense_forward
from .dense import local_partials as dense_local_partials
from .dense import lower_backward as dense_lower_backward
from .dense import lower_forward as dense_lower_forward
from .dense import upstream_vector as dense_upstream_vector


@dataclass(frozen=True)
class Residual:
    """A dense layer's kind with a residual connection from the layer `span` below it."""

    span: int

    def source(self, layer: Expr, *indices: Expr) -> Expr:
        """a^(m) of the connection, m = layer - span."""
        return Act(layer - self.span, *indices)

    def forward(self, view: View, rule: ActivationRule) -> tuple[Equation, ...]:
        """The dense layer's equations, the weighted input with a^(m) added."""
        pre, act = dense_forward(view, rule)
        indices = pre.lhs.args[1:]
        value = Affine(pre.final, self.source(l_sym, *indices))
        return (Equation(view, "pre", l_sym, pre.lhs, (value,)), act)

    def local_partials(self) -> dict[str, Expr]:
        """The dense layer's, and ∂z_j^(l)/∂a_j^(m) = 1."""
        from sympy import S

        return {**dense_local_partials(), "a_skip": S.One}

    def upstream_vector(self, layer: Expr) -> Expr:
        return dense_upstream_vector(layer)

    def equations(
        self,
        view: View,
        rule: ActivationRule | None,
        loss: LossRule | None,
        has_prev: bool,
        is_output: bool,
        upstream: Expr,
    ) -> tuple[Equation, ...]:
        return dense_equations(view, rule, loss, has_prev, is_output, upstream)

    def lower_forward(self, ld: LayerDerivation) -> list[Statement]:
        return dense_lower_forward(ld)

    def lower_backward(
        self, ld: LayerDerivation, is_output: bool, values: dict[Expr, Expr]
    ) -> list[Statement]:
        return dense_lower_backward(ld, is_output, values)


def skip_path(receiver: Expr, source: Expr, view: View) -> tuple[Expr, Expr]:
    """The second path into ∂E/∂a_k^(m) (m the `source`) from the receiving layer: the chain
    rule's term ∂z_k^(r)/∂a_k^(m) · ∂E/∂z_k^(r), and its value ∂E/∂z_k^(r) (δ^(r) in the
    vector view)."""
    if view == "vector":
        return Delta(receiver), Delta(receiver)
    dE_dz = Partial(E, Pre(receiver, k))
    return Chain(Partial(Pre(receiver, k), Act(source, k)), dE_dz), dE_dz
