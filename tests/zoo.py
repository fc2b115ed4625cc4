"""Published activations and the built-in losses, each written twice: as the expression a spec
gives symbackprop, and by hand in jax.numpy for the independent oracle (tests only).  The JAX
forms keep their gradients finite at extreme z (no inf in a branch `where` does not take)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp

jax.config.update("jax_enable_x64", True)

Fn = Callable[[Any], Any]


@dataclass(frozen=True)
class ZooActivation:
    """A named activation: symbackprop's expression, the oracle's function, its kinks."""

    name: str
    expr: str
    fn: Fn
    kinks: tuple[float, ...] = ()


def _hard_tanh(z: Any) -> Any:
    return jnp.clip(z, -1.0, 1.0)


ZOO: tuple[ZooActivation, ...] = (
    ZooActivation(
        "gelu", "0.5*z*(1 + erf(z/sqrt(2)))", lambda z: 0.5 * z * (1 + jsp.erf(z / 2**0.5))
    ),
    ZooActivation(
        "gelu_tanh",
        "0.5*z*(1 + tanh(0.7978845608*(z + 0.044715*z**3)))",
        lambda z: 0.5 * z * (1 + jnp.tanh(0.7978845608 * (z + 0.044715 * z**3))),
    ),
    ZooActivation("gelu_sigmoid", "z/(1 + exp(-1.702*z))", lambda z: z * jax.nn.sigmoid(1.702 * z)),
    ZooActivation("silu", "z/(1 + exp(-z))", lambda z: z * jax.nn.sigmoid(z)),
    ZooActivation("mish", "z*tanh(log(1 + exp(z)))", lambda z: z * jnp.tanh(jax.nn.softplus(z))),
    ZooActivation(
        "elu",
        "max(z, 0) + exp(min(z, 0)) - 1",
        lambda z: jnp.where(z > 0, z, jnp.expm1(jnp.minimum(z, 0.0))),
        (0.0,),
    ),
    ZooActivation(
        "selu",
        "1.0507009873554805*(max(0, z) + min(0, 1.6732632423543772*(exp(z) - 1)))",
        lambda z: (
            1.0507009873554805
            * jnp.where(z > 0, z, 1.6732632423543772 * jnp.expm1(jnp.minimum(z, 0.0)))
        ),
        (0.0,),
    ),
    ZooActivation(
        "celu",
        "max(0, z) + min(0, 0.5*(exp(z/0.5) - 1))",
        lambda z: jnp.where(z > 0, z, 0.5 * jnp.expm1(jnp.minimum(z, 0.0) / 0.5)),
        (0.0,),
    ),
    ZooActivation("softsign", "z/(1 + abs(z))", lambda z: z / (1 + jnp.abs(z)), (0.0,)),
    ZooActivation("hard_tanh", "max(-1, min(1, z))", _hard_tanh, (-1.0, 1.0)),
    ZooActivation(
        "hard_sigmoid",
        "max(0, min(1, z/6 + 0.5))",
        lambda z: jnp.clip(z / 6 + 0.5, 0.0, 1.0),
        (-3.0, 3.0),
    ),
    ZooActivation("leaky_max", "max(z, 0.1*z)", lambda z: jnp.maximum(z, 0.1 * z), (0.0,)),
    ZooActivation("log_sigmoid", "-log(1 + exp(-z))", jax.nn.log_sigmoid),
    ZooActivation(
        "bent_identity", "(sqrt(z**2 + 1) - 1)/2 + z", lambda z: (jnp.hypot(z, 1.0) - 1) / 2 + z
    ),
    ZooActivation("sin", "sin(z)", jnp.sin),
    ZooActivation("softplus_beta2", "log(1 + exp(2*z))/2", lambda z: jnp.logaddexp(0.0, 2 * z) / 2),
)

#: The built-in activations, by hand.
BUILTIN: dict[str, Fn] = {
    "identity": lambda z: z,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": lambda z: jnp.maximum(z, 0.0),
    "leaky_relu": lambda z: jnp.where(z > 0, z, 0.01 * z),
    "softplus": jax.nn.softplus,
    "softmax": jax.nn.softmax,
}

#: The built-in losses per output unit, by hand; E sums them.
LOSSES: dict[str, Callable[[Any, Any], Any]] = {
    "squared_error": lambda a, y: (a - y) ** 2,
    "half_squared_error": lambda a, y: (a - y) ** 2 / 2,
    "binary_cross_entropy": lambda a, y: -(y * jnp.log(a) + (1 - y) * jnp.log(1 - a)),
    "cross_entropy": lambda a, y: -y * jnp.log(a),
}
