"""Built-in activations and losses, each defined once as a SymPy expression.

Activations are functions of the scalar ``z`` (softmax, the one vector-valued activation, is
defined over a vector ``z`` in :mod:`symbackprop.derive`).  Losses are per output unit, in
``a`` (the network's output) and ``y`` (the target); E sums them over the units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import sympy
from sympy import Expr, Rational, Symbol

Z = Symbol("z", real=True)
A = Symbol("a", real=True)
Y = Symbol("y", real=True)

Init = Literal["xavier", "he"]


@dataclass(frozen=True)
class Activation:
    """An activation: `expr` in Z for elementwise ones, None for softmax.

    A built-in one carries its derivative beside its definition, as derive would find it:
    `derivative` σ' in z, and `derivative_a` σ' in the output a where that is simpler
    (tests/test_derive.py checks both against SymPy's own derivation), so that deriving a
    bundled network solves nothing."""

    name: str
    expr: Expr | None
    builtin: bool = True
    init: Init = "xavier"
    derivative: Expr | None = None
    derivative_a: Expr | None = None

    @property
    def is_softmax(self) -> bool:
        return self.expr is None


@dataclass(frozen=True)
class Loss:
    """A loss per output unit, in A and Y; E is its sum over the output units."""

    name: str
    expr: Expr
    builtin: bool = True


DEFAULT_LEAKY_SLOPE = Rational(1, 100)


def leaky_relu(slope: Expr = DEFAULT_LEAKY_SLOPE) -> Activation:
    """leaky_relu with the given slope for z <= 0; the derivative at 0 is the slope."""
    return Activation(
        "leaky_relu",
        sympy.Piecewise((Z, Z > 0), (slope * Z, True)),
        init="he",
        derivative=sympy.Piecewise((1, Z > 0), (slope, True)),
    )


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation("identity", Z, derivative=sympy.S.One),
    "sigmoid": Activation(
        "sigmoid",
        1 / (1 + sympy.exp(-Z)),
        derivative=sympy.exp(Z) / (sympy.exp(Z) + 1) ** 2,
        derivative_a=A * (1 - A),
    ),
    "tanh": Activation(
        "tanh", sympy.tanh(Z), derivative=1 - sympy.tanh(Z) ** 2, derivative_a=1 - A**2
    ),
    # relu' = H(z) with H(0) = 0: the left derivative at the kink, as the frameworks take it
    "relu": Activation("relu", sympy.Max(0, Z), init="he", derivative=sympy.Heaviside(Z, 0)),
    "leaky_relu": leaky_relu(),
    "softplus": Activation(
        "softplus",
        sympy.log(1 + sympy.exp(Z)),
        derivative=sympy.exp(Z) / (sympy.exp(Z) + 1),
        derivative_a=1 - sympy.exp(-A),
    ),
    "softmax": Activation("softmax", None),
}

LOSSES: dict[str, Loss] = {
    "squared_error": Loss("squared_error", (A - Y) ** 2),
    "half_squared_error": Loss("half_squared_error", (A - Y) ** 2 / 2),
    "binary_cross_entropy": Loss(
        "binary_cross_entropy", -(Y * sympy.log(A) + (1 - Y) * sympy.log(1 - A))
    ),
    "cross_entropy": Loss("cross_entropy", -Y * sympy.log(A)),
}

#: Built-in activations whose outputs can leave (0, 1), where binary_cross_entropy is undefined.
UNBOUNDED_FOR_BCE = frozenset({"identity", "tanh", "relu", "leaky_relu", "softplus"})
