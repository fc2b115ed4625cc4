"""The networks and shapes the training-step benchmarks measure; plain data, importable anywhere.

This module imports neither NumPy's rivals nor symbackprop, so a benchmark worker process that
imports it measures only its own implementation's memory.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from symbackprop import Network


@dataclass(frozen=True)
class Net:
    """A fully connected network: unit counts (inputs first), one activation a layer, a loss."""

    name: str
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str  # "squared_error" or "cross_entropy" (with a softmax output)

    @property
    def depth(self) -> int:
        return len(self.sizes) - 1

    def layers(self) -> list[tuple[int, int, int, str]]:
        """(layer number, fan-in, units, activation) for every layer, input side first."""
        pairs = zip(itertools.pairwise(self.sizes), self.activations, strict=True)
        return [(n, i, o, act) for n, ((i, o), act) in enumerate(pairs, 1)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sizes": list(self.sizes),
            "activations": list(self.activations),
            "loss": self.loss,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Net:
        return cls(data["name"], tuple(data["sizes"]), tuple(data["activations"]), data["loss"])

    def network(self) -> Network:
        """The same network as a symbackprop spec (imports symbackprop)."""
        from symbackprop import Layer, Network, activation, loss

        return Network(
            name=self.name,
            inputs=self.sizes[0],
            layers=tuple(Layer(o, activation(a)) for _, _, o, a in self.layers()),
            loss=loss(self.loss),
        )


WIDE = Net("wide", (784, 256, 128, 10), ("sigmoid",) * 3, "squared_error")
DEEP = Net("deep", (64, *[64] * 16, 10), ("tanh",) * 16 + ("identity",), "squared_error")
CLASSIFIER = Net("classifier", (2, 8, 2), ("tanh", "softmax"), "cross_entropy")
NETS = {net.name: net for net in (WIDE, DEEP, CLASSIFIER)}

# (network, batch) pairs the issue asks for; each is measured in float64 and float32.
SHAPES: tuple[tuple[str, int], ...] = (
    ("wide", 1),
    ("wide", 32),
    ("wide", 256),
    ("wide", 2048),
    ("deep", 32),
    ("classifier", 32),
    ("classifier", 256),
)


def problem(
    net: Net, batch: int, dtype: type, seed: int = 0
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Xavier-normal weights, small random biases, inputs and targets, drawn in float64."""
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for n, fan_in, units, _ in net.layers():
        scale = np.sqrt(2.0 / (fan_in + units))
        params[f"W{n}"] = (scale * rng.normal(size=(units, fan_in))).astype(dtype)
        params[f"b{n}"] = (0.1 * rng.normal(size=units)).astype(dtype)
    X = rng.normal(size=(batch, net.sizes[0])).astype(dtype)
    if net.loss == "cross_entropy":
        Y = np.eye(net.sizes[-1], dtype=dtype)[rng.integers(net.sizes[-1], size=batch)]
    else:
        Y = rng.uniform(size=(batch, net.sizes[-1])).astype(dtype)
    return params, X, Y
