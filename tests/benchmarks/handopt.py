"""NumPy training steps written by hand, the baselines the generated module is measured against.

`naive_step` is the lecture's delta rule as a person would first write it; `HandOptimised` is
the same step with every buffer preallocated, `out=` everywhere, lr and the loss's constant
folded into the output delta, no delta for the input layer and `np.outer` at batch 1;
`GemmOnly` performs the same matrix products and nothing else (a lower bound, not a step).
Activations: sigmoid, tanh, identity, and softmax on the output with cross-entropy.
"""

from __future__ import annotations

import numpy as np

from .nets import Net

Params = dict[str, np.ndarray]


def _activate(act: str, z: np.ndarray) -> np.ndarray:
    if act == "sigmoid":
        return 0.5 + 0.5 * np.tanh(0.5 * z)
    if act == "tanh":
        return np.tanh(z)
    if act == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    return z


def _slope(act: str, a: np.ndarray) -> np.ndarray | float:
    """σ'(z) from the activation's output a = σ(z)."""
    if act == "sigmoid":
        return a * (1 - a)
    if act == "tanh":
        return 1 - a**2
    return 1.0


def naive_step(net: Net, params: Params, X: np.ndarray, Y: np.ndarray, lr: float) -> float:
    """Forward, loss, the delta rule layer by layer, and the SGD update, written plainly."""
    acts = [X]
    for n, _, _, act in net.layers():
        acts.append(_activate(act, acts[-1] @ params[f"W{n}"].T + params[f"b{n}"]))
    out, count = acts[-1], X.shape[0]
    if net.loss == "cross_entropy":
        value = float(-np.sum(Y * np.log(out)) / count)
        delta = (out - Y) / count
    else:
        value = float(np.sum((out - Y) ** 2) / count)
        delta = 2 * (out - Y) * _slope(net.activations[-1], out) / count
    for n in range(net.depth, 0, -1):
        grad_w = delta.T @ acts[n - 1]
        grad_b = delta.sum(axis=0)
        if n > 1:
            delta = (delta @ params[f"W{n}"]) * _slope(net.activations[n - 2], acts[n - 1])
        params[f"W{n}"] -= lr * grad_w
        params[f"b{n}"] -= lr * grad_b
    return value


class HandOptimised:
    """One SGD step with buffers reused between calls (per batch size and dtype)."""

    def __init__(self, net: Net, *, exp_sigmoid: bool = False) -> None:
        self.net = net
        self.exp_sigmoid = exp_sigmoid  # 1 / (1 + exp(-z)), as it is usually written
        self.buffers: dict[tuple[int, np.dtype], Params] = {}

    def _buffers(self, n: int, dtype: np.dtype) -> Params:
        key = (n, dtype)
        if key not in self.buffers:
            b: Params = {}
            for layer, fan_in, units, _ in self.net.layers():
                for name in ("a", "t", "d"):
                    b[f"{name}{layer}"] = np.empty((n, units), dtype)
                b[f"gW{layer}"] = np.empty((units, fan_in), dtype)
                b[f"gb{layer}"] = np.empty(units, dtype)
            self.buffers[key] = b
        return self.buffers[key]

    @staticmethod
    def _slope_into(act: str, a: np.ndarray, t: np.ndarray) -> bool:
        """Write σ'(z) from a = σ(z) into t; False when it is 1 (nothing to multiply)."""
        if act == "sigmoid":
            np.subtract(1.0, a, out=t)
            t *= a
        elif act == "tanh":
            np.multiply(a, a, out=t)
            np.subtract(1.0, t, out=t)
        else:
            return False
        return True

    def step(self, params: Params, X: np.ndarray, Y: np.ndarray, lr: float) -> float:
        n, depth = X.shape[0], self.net.depth
        buf = self._buffers(n, X.dtype)
        acts = [X]
        for layer, _, _, act in self.net.layers():
            a = buf[f"a{layer}"]
            np.matmul(acts[-1], params[f"W{layer}"].T, out=a)
            a += params[f"b{layer}"]
            if act == "sigmoid" and self.exp_sigmoid:
                with np.errstate(over="ignore"):  # exp(-z) = inf gives a = 0, as it should
                    np.negative(a, out=a)
                    np.exp(a, out=a)
                    a += 1.0
                    np.reciprocal(a, out=a)
            elif act == "sigmoid":
                a *= 0.5
                np.tanh(a, out=a)
                a *= 0.5
                a += 0.5
            elif act == "tanh":
                np.tanh(a, out=a)
            elif act == "softmax":
                a -= a.max(axis=1, keepdims=True)
                np.exp(a, out=a)
                a /= a.sum(axis=1, keepdims=True)
            acts.append(a)
        out, t, delta = acts[-1], buf[f"t{depth}"], buf[f"d{depth}"]
        np.subtract(out, Y, out=delta)
        if self.net.loss == "cross_entropy":
            np.log(out, out=t)
            value = -float(np.vdot(Y, t)) / n
            delta *= lr / n
        else:
            value = float(np.vdot(delta, delta)) / n
            if self._slope_into(self.net.activations[-1], out, t):
                delta *= t
            delta *= 2.0 * lr / n
        for layer in range(depth, 0, -1):
            W = params[f"W{layer}"]
            if layer > 1:
                prev, t = acts[layer - 1], buf[f"t{layer - 1}"]
                new_delta = buf[f"d{layer - 1}"]
                np.matmul(delta, W, out=new_delta)
                if self._slope_into(self.net.activations[layer - 2], prev, t):
                    new_delta *= t
            if n == 1:
                W -= np.outer(delta[0], acts[layer - 1][0], out=buf[f"gW{layer}"])
            else:
                W -= np.matmul(delta.T, acts[layer - 1], out=buf[f"gW{layer}"])
            params[f"b{layer}"] -= np.sum(delta, axis=0, out=buf[f"gb{layer}"])
            if layer > 1:
                delta = new_delta
        return value


class GemmOnly:
    """The step's matrix products alone (forward, delta, weight gradient), into fixed buffers."""

    def __init__(self, net: Net, *, exp_sigmoid: bool = False) -> None:
        self.net = net
        self.exp_sigmoid = exp_sigmoid  # 1 / (1 + exp(-z)), as it is usually written
        self.buffers: dict[tuple[int, np.dtype], Params] = {}

    def step(self, params: Params, X: np.ndarray, Y: np.ndarray, lr: float) -> float:
        n = X.shape[0]
        key = (n, X.dtype)
        if key not in self.buffers:
            rng = np.random.default_rng(1)
            self.buffers[key] = {}
            for layer, fan_in, units, _ in self.net.layers():
                self.buffers[key][f"a{layer}"] = np.empty((n, units), X.dtype)
                self.buffers[key][f"d{layer}"] = rng.uniform(-1, 1, (n, units)).astype(X.dtype)
                self.buffers[key][f"gW{layer}"] = np.empty((units, fan_in), X.dtype)
        buf = self.buffers[key]
        a = X
        for layer, _, _, _ in self.net.layers():
            a = np.matmul(a, params[f"W{layer}"].T, out=buf[f"a{layer}"])
        for layer in range(self.net.depth, 0, -1):
            delta, prev = buf[f"d{layer}"], buf[f"a{layer - 1}"] if layer > 1 else X
            if layer > 1:
                np.matmul(delta, params[f"W{layer}"], out=buf[f"d{layer - 1}"])
            if n == 1:
                np.outer(delta[0], prev[0], out=buf[f"gW{layer}"])
            else:
                np.matmul(delta.T, prev, out=buf[f"gW{layer}"])
        return 0.0
