"""The lowered program: statements that hold SymPy expressions in the lecture's vector
symbols, each citing the equation it implements, in the order they run.

Lowering chain: Derivation -> `lower()` (each layer's kind lowers its equations into the
statements of statements.py) -> Program (forward, then backward from layer L to 1) -> a
schedule (lower/readable.py) -> printed statements -> the module template.
"""

from __future__ import annotations

import dataclasses

import sympy
from sympy import Expr

from ..ir import Derivation
from ..layers import kind_of
from ..notation import (
    Act,
    Affine,
    Bias,
    E,
    Normalized,
    NormalizedGradient,
    Partial,
    Upstream,
    Weight,
    WeightMatrix,
)
from ..regularize import strength_values
from .statements import (
    N_BATCH,
    Assign,
    BatchSum,
    GradientName,
    Program,
    Scale,
    Statement,
    reads,
)

__all__ = [
    "N_BATCH",
    "Assign",
    "BatchSum",
    "GradientName",
    "Program",
    "Scale",
    "Statement",
    "lower",
    "penalty",
    "reads",
]


def lower(derivation: Derivation) -> Program:
    """The statements of the forward pass (layer 1 up) and of the backward pass (layer L
    down), from the IR alone: each layer's kind lowers its own equations."""
    network = derivation.network
    values = strength_values(network)  # λ and λ₁ as numbers (none: no penalty)
    forward: list[Statement] = []
    backward: list[Statement] = []
    for ld, layer in zip(derivation.layers, network.layers, strict=True):
        forward += kind_of(layer).lower_forward(ld)
    for ld, layer in reversed(list(zip(derivation.layers, network.layers, strict=True))):
        backward += kind_of(layer).lower_backward(ld, ld.number == network.depth, values)
    return Program(tuple(forward), tuple(_named(s) for s in backward))


#: The partials ∂E/∂x a layer computes as arrays of their own, by the quantity that code names.
_ARRAYS = {Act: Upstream, Normalized: NormalizedGradient}


def _named(statement: Statement) -> Statement:
    """∂E/∂a^(l), where a layer hands it down as an array of its own (pooling, flatten,
    normalisation), as the quantity Upstream(l) that the code names dE_da<l>; ∂E/∂x̂^(l) as
    NormalizedGradient(l), dE_dxhat<l>."""

    def name(expr: Expr) -> Expr:
        return expr.replace(
            lambda e: isinstance(e, Partial) and e.args[0] == E and type(e.args[1]) in _ARRAYS,
            lambda e: _ARRAYS[type(e.args[1])](e.args[1].layer),
        )

    changes = {"target": name(statement.target)}
    if not isinstance(statement, Scale):
        changes["value"] = name(statement.value)
    return dataclasses.replace(statement, **changes)


def penalty(derivation: Derivation) -> tuple[Expr, ...]:
    """The regularisation term R of E as elementwise expressions in the weight matrices, one
    per layer, R their entries' sum: read from the loss equation's last step E = Σ_j ℓ + R
    (strengths as numbers), Σ_j Σ_k f(w_jk^(l)) becoming f(W^(l)) and Σ_j f(b_j^(l)) f(b^(l)).
    Empty: no penalty."""
    final = derivation.layers[-1].require("index", "loss").final
    if not isinstance(final, Affine):
        return ()
    return tuple(
        term.replace(lambda e: isinstance(e, sympy.Sum), lambda e: e.function)
        .replace(lambda e: isinstance(e, Weight), lambda e: WeightMatrix(e.args[0]))
        .replace(lambda e: isinstance(e, Bias) and len(e.args) > 1, lambda e: Bias(e.args[0]))
        for term in sympy.Add.make_args(final.args[1])
    )
