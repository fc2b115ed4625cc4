"""What the layers without weights (pooling, flatten) share: their output is one statement,
and the ∂E/∂a^(l-1) they hand down is an array of its own, named for the layer below."""

from __future__ import annotations

from sympy import Expr

from ..ir import LayerDerivation
from ..lower.statements import Assign, Statement
from ..notation import Act, E, Partial


def named_upstream(layer: Expr) -> Expr:
    """∂E/∂a^(l-1) as the layer at `layer` hands it down: the array its statement names."""
    return Partial(E, Act(layer - 1))


def forward_statements(ld: LayerDerivation) -> list[Statement]:
    """a^(l) from a^(l-1), as the vectorised forward equation states it."""
    eq = ld.require("vector", "act")
    return [Assign(eq.lhs, eq.final, eq)]


def handed_down(ld: LayerDerivation) -> list[Statement]:
    """∂E/∂a^(l-1) as an array of its own (none below the first layer)."""
    eq = ld.equation("vector", "dE_da_prev")
    return [] if eq is None else [Assign(eq.lhs, eq.final, eq)]
