"""Layer kinds: each defines its forward equations and its local partials side by side, so the
chain rule in derive.py only combines them: dense (fully connected; residual.py with a residual
connection), conv2d, maxpool2d and avgpool2d (pool.py), flatten, layernorm and batchnorm
(norm.py).

A kind is any object (a module will do) with the members of `LayerKind`; `kind_of` picks a
spec layer's. A module with a `bind(layer)` function gives each layer its own kind object
(a convolution's sums run over its window and shapes). A new kind (normalisation, a residual
join) is a new module here that the derivation, its tests and the lowering stage learn about through
`KINDS`: it also lowers its own vectorised equations into the program's statements
(lower/statements.py). The readable and functional schedules print any statement; the
in-place schedule of sgd_step knows the dense layer's (a kind's module-level `IN_PLACE = True`
says so), and a network with a kind it does not know gets sgd_step by way of the readable
functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from . import conv2d, dense, flatten, norm, pool, residual

if TYPE_CHECKING:
    from sympy import Expr

    from ..ir import ActivationRule, Equation, LayerDerivation, LossRule, View
    from ..lower.statements import Statement
    from ..spec import Layer


class LayerKind(Protocol):
    """What the chain rule asks of a layer kind, every equation at symbolic layer l (hashable:
    the derivation caches its equations by kind)."""

    def __hash__(self) -> int: ...

    def forward(self, view: View, rule: ActivationRule) -> tuple[Equation, ...]:
        """The forward equations: the layer's weighted input, then its output."""
        ...

    def equations(
        self,
        view: View,
        rule: ActivationRule | None,
        loss: LossRule | None,
        has_prev: bool,
        is_output: bool,
        upstream: Expr,
    ) -> tuple[Equation, ...]:
        """The backward equations in one view, given ∂E/∂a^(l) as the layer above states it."""
        ...

    def upstream_vector(self, layer: Expr) -> Expr:
        """∂E/∂a^(l-1) as a layer of this kind at `layer` hands it to the layer below."""
        ...

    def local_partials(self) -> dict[str, Expr]:
        """The local partials of the weighted input, by parameter and input."""
        ...

    def lower_forward(self, ld: LayerDerivation) -> list[Statement]:
        """The forward statements of the layer's vectorised equations, in their stable form."""
        ...

    def lower_backward(
        self, ld: LayerDerivation, is_output: bool, values: dict[Expr, Expr]
    ) -> list[Statement]:
        """The backward statements: δ, the batch mean at the output, each parameter's gradient
        (penalty strengths as numbers by `values`)."""
        ...


#: Every layer kind by its name in a spec.
KINDS: dict[str, object] = {
    "dense": dense,
    "conv1d": conv2d,
    "conv2d": conv2d,
    "maxpool2d": pool,
    "avgpool2d": pool,
    "flatten": flatten,
    "layernorm": norm,
    "batchnorm": norm,
}
DENSE: LayerKind = dense


def kind_of(layer: Layer) -> LayerKind:
    """The kind of a spec's layer (its `kind` field, checked against spec.LAYER_KINDS), bound
    to the layer's settings where its module has `bind`."""
    if layer.span is not None:  # a dense layer with a residual connection
        return residual.Residual(layer.span)
    kind = KINDS[layer.kind]
    bind = getattr(kind, "bind", None)
    return bind(layer) if bind is not None else kind  # type: ignore[return-value]
