"""Hand-written NumPy training steps for the benchmarks (sigmoid layers, squared error).

`naive_step` is the lecture's delta rule as a person would first write it; `HandOptimised` is
the same step with every buffer preallocated, `out=` everywhere, the learning rate and 2/n
folded into the output delta, and no delta computed for the input layer.
"""

from __future__ import annotations

import itertools

import numpy as np

from symbackprop import Layer, Network, activation, loss

Params = dict[str, np.ndarray]
SIZES = (784, 256, 128, 10)


def wide_network() -> Network:
    """The benchmarks' network: layers 784-256-128-10, sigmoid, squared error."""
    return Network(
        name="wide",
        inputs=SIZES[0],
        layers=tuple(Layer(units, activation("sigmoid")) for units in SIZES[1:]),
        loss=loss("squared_error"),
    )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def naive_step(params: Params, X: np.ndarray, Y: np.ndarray, lr: float) -> float:
    depth = len(params) // 2
    acts = [X]
    for layer in range(1, depth + 1):
        acts.append(_sigmoid(acts[-1] @ params[f"W{layer}"].T + params[f"b{layer}"]))
    n = X.shape[0]
    diff = acts[-1] - Y
    value = float(np.sum(diff * diff) / n)
    delta = 2 * diff * acts[-1] * (1 - acts[-1]) / n
    for layer in range(depth, 0, -1):
        grad_w = delta.T @ acts[layer - 1]
        grad_b = delta.sum(axis=0)
        if layer > 1:
            delta = (delta @ params[f"W{layer}"]) * acts[layer - 1] * (1 - acts[layer - 1])
        params[f"W{layer}"] -= lr * grad_w
        params[f"b{layer}"] -= lr * grad_b
    return value


class HandOptimised:
    """One SGD step with buffers reused between calls (per batch size and dtype)."""

    def __init__(self, sizes: tuple[int, ...]) -> None:
        self.sizes = sizes
        self.buffers: dict[tuple[int, np.dtype], dict[str, np.ndarray]] = {}

    def _buffers(self, n: int, dtype: np.dtype) -> dict[str, np.ndarray]:
        key = (n, dtype)
        if key not in self.buffers:
            b: dict[str, np.ndarray] = {}
            for layer, (fan_in, units) in enumerate(itertools.pairwise(self.sizes), start=1):
                b[f"a{layer}"] = np.empty((n, units), dtype)
                b[f"t{layer}"] = np.empty((n, units), dtype)
                b[f"d{layer}"] = np.empty((n, units), dtype)
                b[f"gW{layer}"] = np.empty((units, fan_in), dtype)
                b[f"gb{layer}"] = np.empty(units, dtype)
            self.buffers[key] = b
        return self.buffers[key]

    def step(self, params: Params, X: np.ndarray, Y: np.ndarray, lr: float) -> float:
        n = X.shape[0]
        depth = len(self.sizes) - 1
        buf = self._buffers(n, X.dtype)
        acts = [X]
        for layer in range(1, depth + 1):
            a = buf[f"a{layer}"]
            np.matmul(acts[-1], params[f"W{layer}"].T, out=a)
            a += params[f"b{layer}"]
            a *= 0.5
            np.tanh(a, out=a)
            a *= 0.5
            a += 0.5
            acts.append(a)
        out, t = acts[-1], buf[f"t{depth}"]
        delta = buf[f"d{depth}"]
        np.subtract(out, Y, out=delta)
        value = float(np.vdot(delta, delta)) / n
        np.subtract(1.0, out, out=t)
        t *= out
        delta *= t
        delta *= 2.0 * lr / n
        for layer in range(depth, 0, -1):
            W = params[f"W{layer}"]
            if layer > 1:
                prev, t = acts[layer - 1], buf[f"t{layer - 1}"]
                new_delta = buf[f"d{layer - 1}"]
                np.matmul(delta, W, out=new_delta)
                np.subtract(1.0, prev, out=t)
                t *= prev
                new_delta *= t
            if n == 1:
                W -= np.outer(delta[0], acts[layer - 1][0])
            else:
                grad_w = buf[f"gW{layer}"]
                np.matmul(delta.T, acts[layer - 1], out=grad_w)
                W -= grad_w
            params[f"b{layer}"] -= np.sum(delta, axis=0, out=buf[f"gb{layer}"])
            if layer > 1:
                delta = new_delta
        return value
