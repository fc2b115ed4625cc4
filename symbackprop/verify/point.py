"""The numeric oracle: the network's values at one random point (float64) and the exact
Jacobians between its quantities, computed from the spec alone, independently of the
derivation (so that `verify` can also catch a wrong derivation)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TypeAlias

import numpy as np
import sympy
from numpy.typing import NDArray

from ..derive import activation_rule
from ..errors import SymbackpropError
from ..library import A, Activation, Y, Z
from ..spec import Layer, Network

#: Entries of the largest Jacobian (units x units x fan-in) the numeric check builds.
MAX_JACOBIAN = 4_000_000


Array: TypeAlias = NDArray[np.float64]
#: A value: a number, or a matrix (a vector is a column).
Val: TypeAlias = float | Array


def one_neuron_chain(net: Network) -> Network | None:
    """The one-neuron-per-layer chain of the network's activations and loss (None for softmax)."""
    if any(layer.activation.is_softmax for layer in net.layers):
        return None
    if all(layer.units == 1 for layer in net.layers) and net.inputs == 1:
        return net
    layers = tuple(Layer(1, layer.activation, layer.regularization) for layer in net.layers)
    return Network(
        name=net.name,
        inputs=1,
        layers=layers,
        loss=net.loss,
        source=net.source,
        regularization=net.regularization,
    )


@lru_cache(maxsize=4096)
def _scalar(expr: sympy.Expr, symbol: sympy.Symbol, value: float) -> float:
    return float(expr.evalf(20, subs={symbol: sympy.Float(value, 30)}))


@lru_cache(maxsize=4096)
def _scalar2(expr: sympy.Expr, a: float, y: float) -> float:
    return float(expr.evalf(20, subs={A: sympy.Float(a, 30), Y: sympy.Float(y, 30)}))


@lru_cache(maxsize=64)
def _loss_derivatives(expr: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    return sympy.diff(expr, A), sympy.diff(expr, Y)


def apply_each(fn: Callable[[float], float], value: Val) -> Val:
    """`fn` applied to a number, or to each entry of a matrix."""
    if isinstance(value, float):
        return fn(value)
    return np.asarray(np.vectorize(fn, otypes=[np.float64])(value), dtype=np.float64)


#: A whole quantity of the network: its kind ("a", "z", "w", "b", "y", "E", "delta") and layer.
Key = tuple[str, int]


class Point:
    """The network's values at one random point (float64) and exact Jacobians between them."""

    def __init__(self, net: Network, seed: int, softmax_elementwise: bool = False) -> None:
        """`softmax_elementwise`: the mistaken network where a softmax layer's Jacobian is its
        diagonal alone, as if softmax acted on each unit by itself (to recognise that mistake)."""
        rng = np.random.default_rng(seed)
        sizes = net.sizes
        self.net, self.sizes, self.depth = net, sizes, net.depth
        self.W = {m: rng.uniform(-1.2, 1.2, (sizes[m], sizes[m - 1])) for m in range(1, len(sizes))}
        self.b = {m: rng.uniform(-0.5, 0.5, (sizes[m], 1)) for m in range(1, len(sizes))}
        self.a: dict[int, Array] = {0: rng.uniform(-1.5, 1.5, (sizes[0], 1))}
        y = rng.uniform(0.05, 0.95, (sizes[-1], 1))
        if net.loss.builtin and net.loss.name == "cross_entropy":
            y = y / y.sum()
        self.y = y
        self.z: dict[int, Array] = {}
        self.act_jac: dict[int, Array] = {}
        for m, layer in enumerate(net.layers, start=1):
            z = self.W[m] @ self.a[m - 1] + self.b[m]
            self.z[m] = z
            act = layer.activation
            if act.expr is None:
                e = np.exp(z - z.max())
                a = e / e.sum()
                jacobian = np.diagflat(a) - a @ a.T
                self.act_jac[m] = (
                    np.diagflat(np.diag(jacobian)) if softmax_elementwise else jacobian
                )
            else:
                a = np.asarray(apply_each(self.sigma(m), z))
                self.act_jac[m] = np.diagflat(np.asarray(apply_each(self.sigma_prime(m), z)))
            self.a[m] = a
        loss = net.loss.expr
        d_a, d_y = _loss_derivatives(loss)
        out = self.a[self.depth]
        pairs = list(zip(out[:, 0], y[:, 0], strict=True))
        self.E = float(sum(_scalar2(loss, float(av), float(yv)) for av, yv in pairs))
        #: ∂R/∂w and ∂R/∂b of the regularisation R = Σ_m (l2 Σ w² + l1 Σ |w|), the biases'
        #: likewise where they are penalised, which E includes: keyed ("w", m), ("b", m)
        self.dR: dict[Key, Array] = {}
        for m in range(1, self.depth + 1):
            reg = net.penalty(m)
            l1, l2 = float(reg.l1), float(reg.l2)
            kinds = ("w", "b") if reg.biases else ("w",)
            for kind in kinds:
                value = self.W[m] if kind == "w" else self.b[m]
                self.E += l2 * float(np.sum(value**2)) + l1 * float(np.sum(np.abs(value)))
                self.dR[kind, m] = 2 * l2 * value + l1 * np.sign(value)
        self.dE_da = np.array([[_scalar2(d_a, float(av), float(yv))] for av, yv in pairs])
        self.dE_dy = np.array([[_scalar2(d_y, float(av), float(yv))] for av, yv in pairs])
        self._jac: dict[tuple[Key, Key], Array] = {}

    def activation(self, m: int) -> Activation:
        return self.net.layers[m - 1].activation

    def sigma(self, m: int) -> Callable[[float], float]:
        expr = self.activation(m).expr
        assert expr is not None
        return lambda v: _scalar(expr, Z, float(v))

    def sigma_prime(self, m: int) -> Callable[[float], float]:
        derivative = activation_rule(self.activation(m)).derivative_z
        assert derivative is not None
        return lambda v: _scalar(derivative, Z, float(v))

    def size(self, key: Key) -> int:
        kind, m = key
        if kind == "E":
            return 1
        if kind == "y":
            return self.sizes[-1]
        if kind == "w":
            return self.sizes[m] * self.sizes[m - 1]
        return self.sizes[m]

    def jac(self, x: Key, y: Key) -> Array:
        """d x / d y, flattened to (size x, size y): the true derivative through the network."""
        cached = self._jac.get((x, y))
        if cached is not None:
            return cached
        out = self._jacobian(x, y)
        self._jac[x, y] = out
        return out

    def _jacobian(self, x: Key, y: Key) -> Array:
        if x == y:
            return np.eye(self.size(x))
        kind, m = x
        zero = np.zeros((self.size(x), self.size(y)))
        if kind == "E":
            if y[0] == "y":
                return self.dE_dy.T
            through = self.dE_da.T @ self.jac(("a", self.depth), y)
            if y in self.dR:  # E also depends on each weight (bias) directly, through R
                through = through + self.dR[y].reshape(1, -1)
            return through
        if kind == "a" and m > 0:
            return self.act_jac[m] @ self.jac(("z", m), y)
        if kind == "z":
            out = self.W[m] @ self.jac(("a", m - 1), y)
            if y == ("w", m):
                below = self.sizes[m - 1]
                direct = np.zeros_like(zero)
                for j in range(self.sizes[m]):
                    direct[j, j * below : (j + 1) * below] = self.a[m - 1][:, 0]
                out = out + direct
            if y == ("b", m):
                out = out + np.eye(self.sizes[m])
            return out
        return zero

    def array(self, kind: str, m: int) -> Array:
        """The value of a whole quantity: column vectors, W as a matrix."""
        if kind == "a":
            return self.a[m]
        if kind == "z":
            return self.z[m]
        if kind == "b":
            return self.b[m]
        if kind == "w":
            return self.W[m]
        if kind == "y":
            return self.y
        if kind == "delta":
            return self.jac(("E", 0), ("z", m)).T
        raise AssertionError(kind)  # pragma: no cover


def check_dense(net: Network) -> None:
    """Refuse a network with feature maps: verify reads dense layers' formulas only (yet)."""
    if not net.dense_only:
        kinds = ", ".join(sorted({layer.kind for layer in net.layers} - {"dense"}))
        raise SymbackpropError(
            f"{net.name}: verify and exercise read the formulas of dense layers only, and this"
            f" network has {kinds} layers; `derive --self-check` checks their derivation"
        )


def check_size(net: Network) -> None:
    """Refuse a network whose Jacobians would be too large to build (MAX_JACOBIAN), or that
    has feature maps (`check_dense`)."""
    check_dense(net)
    sizes = net.sizes
    for m in range(1, len(sizes)):
        if sizes[m] * sizes[m] * max(sizes[m - 1], 1) > MAX_JACOBIAN:
            raise SymbackpropError(
                f"{net.name}: layer {m} ({sizes[m]} units) is too wide to check numerically;"
                " verify on a smaller network with the same activations and loss"
            )
