"""Random points of a network, one generator for every check that needs one.

`derive --self-check` (selfcheck.py) and `check` (gradcheck.py) both judge derivatives at a
random point: parameters, inputs and targets. They draw it here, so that both test the same kind
of point, reproducibly by seed. What is drawn, and why:

- weights ``W{l}``, shape (units of l, units of l−1) as in the generated modules (a conv2d
  layer's (filters, channels, kernel rows, kernel columns)), normal with standard deviation
  1/√(fan-in), the fan-in a kernel's channels × rows × columns: pre-activations stay of order
  one, where sigmoid and tanh are not saturated and a derivative is not so small that its
  relative error means nothing;
- biases ``b{l}``, normal with standard deviation 0.5, never all zero: every bias term counts,
  and no pre-activation sits exactly on relu's kink at 0;
- inputs ``X``, shape (batch, inputs), standard normal;
- targets ``Y``, shape (batch, outputs), uniform in (0.05, 0.95): inside the domain of every
  built-in loss (log a and log(1 − a) in the cross-entropies) and soft, not one-hot or 0/1, so
  that no unit's term of the loss vanishes and hides a mistake in it; for cross-entropy each row
  sums to one, since the derivation may use Σ_j y_j = 1: divided by its sum, rounded to
  multiples of 2⁻²⁰ and the last entry made 1 minus the others, so that the sum is exactly 1
  (in float64 and in the self-check's 30 digits alike, where 1 ± 10⁻¹⁶ would show).

All in float64 from one `numpy.random.Generator` seeded by `seed`, in that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shapes import NORM_KINDS, weight_shape
from .spec import Network

#: Standard deviation of the biases.
BIAS_SCALE = 0.5
#: The spread of a normalisation layer's random gains around 1.
GAIN_SCALE = 0.3
#: The interval the targets are drawn from, before cross-entropy's normalisation.
TARGETS = (0.05, 0.95)
#: Cross-entropy targets are multiples of 1/_GRID, so that a row sums to exactly 1.
_GRID = 2.0**20


@dataclass(frozen=True)
class Point:
    """One random point: `params` keyed W1, b1, ..., as the generated modules' init_params;
    `X` one sample per row and `Y` its targets."""

    params: dict[str, np.ndarray]
    X: np.ndarray
    Y: np.ndarray


def random_point(net: Network, *, batch: int = 1, seed: int = 0) -> Point:
    """Parameters, `batch` inputs and their targets for `net`, as the module docstring says."""
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for number, layer in enumerate(net.layers, start=1):
        if layer.kind in NORM_KINDS:  # a gain near 1 and a small shift, both drawn
            params[f"gamma{number}"] = rng.normal(1.0, GAIN_SCALE, size=layer.units)
            params[f"beta{number}"] = rng.normal(0.0, BIAS_SCALE, size=layer.units)
            continue
        shape = weight_shape(layer)
        if shape is None:  # pooling and flatten have no parameters
            continue
        fan_in = int(np.prod(shape[1:]))
        params[f"W{number}"] = rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=shape)
        params[f"b{number}"] = rng.normal(0.0, BIAS_SCALE, size=shape[0])
    X = rng.normal(0.0, 1.0, size=(batch, net.inputs))
    Y = rng.uniform(*TARGETS, size=(batch, net.sizes[-1]))
    if net.loss.builtin and net.loss.name == "cross_entropy":
        Y = np.round(Y / Y.sum(axis=1, keepdims=True) * _GRID) / _GRID
        Y[:, -1] = 1.0 - Y[:, :-1].sum(axis=1)  # exact: every entry a multiple of 1/_GRID
    return Point(params, X, Y)
