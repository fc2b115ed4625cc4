"""An independent oracle for one sample through a network: forward values and every partial
derivative of E by JAX (never imported by the package), and an evaluator that reads the
derivation's notation (a, z, w, b, y, partials, sums, transposes) as numbers from it."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy

from symbackprop import notation as nt
from symbackprop.spec import Network

from .zoo import BUILTIN, LOSSES, ZOO

jax.config.update("jax_enable_x64", True)

Array = np.ndarray
_BY_EXPR = {member.expr: member.fn for member in ZOO}


def activation_fn(net: Network, number: int) -> Callable[[Any], Any]:
    """The oracle's own function for layer `number` of `net`, by name or expression."""
    act = net.layers[number - 1].activation
    if act.builtin:
        return BUILTIN[act.name]
    for expr, fn in _BY_EXPR.items():
        if sympy.simplify(act.expr - _parse(expr)) == 0:
            return fn
    raise KeyError(f"no oracle function for {act.name}")


def _parse(expr: str) -> Any:
    from symbackprop.spec import custom_activation

    return custom_activation(expr).expr


@dataclass
class Sample:
    """Parameters, one sample, and everything JAX computes from them (column vectors n x 1)."""

    net: Network
    W: dict[int, Array]
    b: dict[int, Array]
    x: Array
    y: Array
    a: dict[int, Array] = field(default_factory=dict)
    z: dict[int, Array] = field(default_factory=dict)
    E: float = 0.0
    dW: dict[int, Array] = field(default_factory=dict)
    db: dict[int, Array] = field(default_factory=dict)
    dz: dict[int, Array] = field(default_factory=dict)
    da: dict[int, Array] = field(default_factory=dict)
    jac: dict[int, Array] = field(default_factory=dict)  # da_i/dz_j of each layer
    dz_dW: dict[int, Array] = field(default_factory=dict)  # [j, j', k]
    dz_da: dict[int, Array] = field(default_factory=dict)  # [j, k]


def sample(net: Network, seed: int, *, scale: float = 0.8) -> Sample:
    """Random parameters and one sample (targets fitting the loss), and the oracle's values."""
    rng = np.random.default_rng(seed)
    sizes = net.sizes
    W = {n: rng.normal(0, scale, (sizes[n], sizes[n - 1])) for n in range(1, net.depth + 1)}
    b = {n: rng.normal(0, scale, (sizes[n],)) for n in range(1, net.depth + 1)}
    x = rng.normal(0, 1, (sizes[0],))
    if net.layers[-1].activation.is_softmax:
        y = rng.dirichlet(np.ones(sizes[-1]))
    else:
        y = rng.uniform(0.1, 0.9, sizes[-1])
    fns = [activation_fn(net, n) for n in range(1, net.depth + 1)]
    per_unit = LOSSES[net.loss.name] if net.loss.builtin else None
    if per_unit is None:
        raise KeyError(f"no oracle loss for {net.loss.name}")

    def from_layer(start: int, a_start: Any, params: tuple[Any, Any]) -> Any:
        Ws, bs = params
        a_cur = a_start
        for n in range(start + 1, net.depth + 1):
            a_cur = fns[n - 1](Ws[n] @ a_cur + bs[n])
        return jnp.sum(per_unit(a_cur, y)) + penalty(net, Ws, bs)

    def from_z(number: int, z_val: Any) -> Any:
        return from_layer(number, fns[number - 1](z_val), (W, b))

    out = Sample(net, W, b, x, y)
    a_cur = x
    out.a[0] = x[:, None]
    for n in range(1, net.depth + 1):
        z_val = W[n] @ a_cur + b[n]
        a_cur = np.asarray(fns[n - 1](z_val))
        out.z[n], out.a[n] = z_val[:, None], a_cur[:, None]
        out.jac[n] = np.asarray(jax.jacobian(fns[n - 1])(z_val))
        a_prev = out.a[n - 1][:, 0]
        out.dz_dW[n] = np.asarray(jax.jacobian(lambda w, ap=a_prev, bn=b[n]: w @ ap + bn)(W[n]))
        out.dz_da[n] = np.asarray(jax.jacobian(lambda ap, w=W[n], bn=b[n]: w @ ap + bn)(a_prev))
    out.E = float(from_layer(0, x, (W, b)))
    grads = jax.grad(lambda p: from_layer(0, x, p))((W, b))
    for n in range(1, net.depth + 1):
        out.dW[n] = np.asarray(grads[0][n])
        out.db[n] = np.asarray(grads[1][n])[:, None]
        out.dz[n] = np.asarray(jax.grad(lambda zz, n=n: from_z(n, zz))(out.z[n][:, 0]))[:, None]
    for n in range(0, net.depth + 1):
        grad_a = jax.grad(lambda aa, n=n: from_layer(n, aa, (W, b)))(out.a[n][:, 0])
        out.da[n] = np.asarray(grad_a)[:, None]
    return out


def penalty(net: Network, Ws: dict[int, Any], bs: dict[int, Any]) -> Any:
    """The regularisation term by hand: Σ_l (l2 Σ w² + l1 Σ |w|) over the weights, and over
    the biases where the spec says `biases = true`, read from the spec's numbers (0 for a
    network without one)."""
    total: Any = 0.0
    for n in range(1, net.depth + 1):
        reg = net.penalty(n)
        l1, l2 = float(reg.l1), float(reg.l2)
        for array in (Ws[n], bs[n]) if reg.biases else (Ws[n],):
            total = total + l2 * jnp.sum(array**2) + l1 * jnp.sum(jnp.abs(array))
    return total


class Unknown(Exception):
    """An expression the evaluator has no numeric meaning for."""


_FUNCS: dict[type, Callable[..., Any]] = {
    sympy.exp: np.exp,
    sympy.log: np.log,
    sympy.tanh: np.tanh,
    sympy.cosh: np.cosh,
    sympy.sinh: np.sinh,
    sympy.sin: np.sin,
    sympy.cos: np.cos,
    sympy.Abs: np.abs,
    sympy.sign: np.sign,
    sympy.erf: np.vectorize(math.erf),
}


class Evaluator:
    """Numbers for the notation at concrete layers and unit indices (1-based, as printed)."""

    def __init__(self, s: Sample, indices: dict[sympy.Symbol, int]) -> None:
        self.s = s
        self.indices = dict(indices)

    def layer(self, expr: Any) -> int:
        value = expr.xreplace({}) if hasattr(expr, "xreplace") else expr
        if not value.is_Integer:
            raise Unknown(f"symbolic layer {value}")
        return int(value)

    def index(self, expr: Any) -> int:
        value = self(expr)
        return int(np.asarray(value).item()) - 1

    def pick(self, table: dict[int, Array], q: Any) -> Any:
        arr = table[self.layer(q.args[0])]
        if len(q.args) == 1:
            return arr
        return arr[tuple(self.index(ix) for ix in q.args[1:])]

    def partial(self, num: Any, den: Any) -> Any:
        s = self.s
        if num == nt.E:
            tables = {nt.Act: s.da, nt.Pre: s.dz, nt.Bias: s.db}
            if isinstance(den, nt.Weight | nt.WeightMatrix):
                return self.pick(s.dW, den)
            if type(den) in tables:
                return self.pick(tables[type(den)], den)
            raise Unknown(f"dE/d{den}")
        if isinstance(num, nt.Act) and isinstance(den, nt.Pre):
            layer = self.layer(num.args[0])
            if layer != self.layer(den.args[0]):
                raise Unknown("da/dz across layers")
            jac = s.jac[layer]
            if len(num.args) == 1:
                return jac
            return jac[self.index(num.args[1]), self.index(den.args[1])]
        if isinstance(num, nt.Pre) and isinstance(den, nt.Weight):
            layer = self.layer(num.args[0])
            if len(num.args) == 1:  # the one-neuron chain: dz/dw for a single unit
                return s.dz_dW[layer][0, 0, 0]
            j = self.index(num.args[1])
            return s.dz_dW[layer][j, self.index(den.args[1]), self.index(den.args[2])]
        if isinstance(num, nt.Pre) and isinstance(den, nt.Bias):
            same = len(num.args) == 1 or self.index(num.args[1]) == self.index(den.args[1])
            return 1.0 if same else 0.0
        if isinstance(num, nt.Pre) and isinstance(den, nt.Act):
            layer = self.layer(num.args[0])
            if self.layer(den.args[0]) != layer - 1:
                raise Unknown("dz/da not from the layer below")
            table = s.dz_da[layer]
            if len(num.args) == 1:
                return table[0, 0]
            return table[self.index(num.args[1]), self.index(den.args[1])]
        raise Unknown(f"d{num}/d{den}")

    def __call__(self, expr: Any) -> Any:
        s = self.s
        if isinstance(expr, sympy.Symbol):
            if expr in self.indices:
                return float(self.indices[expr])
            if expr == nt.E:
                return s.E
            raise Unknown(f"free symbol {expr}")
        if expr.is_Number or expr.is_NumberSymbol:
            return float(expr)
        if isinstance(expr, nt.Decay):  # λ (order 2) or λ₁ of the spec, at a layer or all
            reg = s.net.penalty(1 if expr.layer is None else self.layer(expr.layer))
            return float(reg.l2 if expr.order == 2 else reg.l1)
        if isinstance(expr, nt.Act):
            return self.pick(s.a, expr)
        if isinstance(expr, nt.Pre):
            return self.pick(s.z, expr)
        if isinstance(expr, nt.Weight | nt.WeightMatrix):
            return self.pick(s.W, expr)
        if isinstance(expr, nt.Bias):
            return self.pick({n: v[:, None] for n, v in s.b.items()}, expr)
        if isinstance(expr, nt.Delta):
            return s.dz[self.layer(expr.args[0])]
        if isinstance(expr, nt.Width):
            return float(s.net.sizes[self.layer(expr.args[0])])
        if isinstance(expr, nt.Target):
            y = s.y[:, None]
            return y if not expr.args else y[self.index(expr.args[0]), 0]
        if isinstance(expr, nt.Partial):
            return self.partial(*expr.args)
        if isinstance(expr, nt.SigmaPrime):
            # sigma' read as the diagonal of the layer's Jacobian: true for elementwise layers,
            # and exactly the mistake of treating a softmax elementwise otherwise.
            z = expr.args[0]
            diag = np.diag(s.jac[self.layer(z.args[0])])[:, None]
            return diag if len(z.args) == 1 else diag[self.index(z.args[1]), 0]
        if isinstance(expr, nt.Chain | sympy.Mul | nt.Hadamard):
            out: Any = 1.0
            for arg in expr.args:
                out = out * self(arg)
            return out
        if isinstance(expr, sympy.Add | nt.Affine):
            return sum((self(arg) for arg in expr.args), start=0.0)
        if isinstance(expr, nt.Sigma):
            # σ of a layer's own z: the oracle's output of that layer, computed by its own
            # function (so the concrete forms after it are checked against it)
            z = expr.args[0]
            out = s.a[self.layer(z.args[0])]
            if z == nt.Pre(z.args[0]) or len(z.args) == 1:
                return out
            return out[self.index(z.args[1]), 0]
        if isinstance(expr, nt.Softmax):
            values = np.asarray(self(expr.args[0]), dtype=float)
            shifted = np.exp(values - values.max())
            return shifted / shifted.sum()
        if isinstance(expr, sympy.Pow):
            return np.power(self(expr.base), self(expr.exp))
        if isinstance(expr, nt.MatProd):
            out = self(expr.args[0])
            for arg in expr.args[1:]:
                out = np.atleast_2d(out) @ np.atleast_2d(self(arg))
            return out if np.size(out) != 1 else float(np.asarray(out).item())
        if isinstance(expr, nt.Transposed):
            return np.atleast_2d(self(expr.args[0])).T
        if isinstance(expr, nt.Elementwise):
            return self(expr.args[0])
        if isinstance(expr, sympy.KroneckerDelta):
            return float(self.index(expr.args[0]) == self.index(expr.args[1]))
        if isinstance(expr, sympy.Heaviside):
            at_zero = float(expr.args[1]) if len(expr.args) > 1 else 0.5
            return np.heaviside(self(expr.args[0]), at_zero)
        if isinstance(expr, sympy.Max | sympy.Min):
            pick = np.maximum if isinstance(expr, sympy.Max) else np.minimum
            values = [self(arg) for arg in expr.args]
            out = values[0]
            for value in values[1:]:
                out = pick(out, value)
            return out
        if isinstance(expr, sympy.Piecewise):
            out = np.nan
            for piece, cond in reversed(expr.args):
                out = np.where(self.condition(cond), self(piece), out)
            return out
        if isinstance(expr, sympy.Sum):
            (var, low, high) = expr.limits[0]
            inner = (
                expr.function
                if len(expr.limits) == 1
                else sympy.Sum(expr.function, *expr.limits[1:])
            )
            total: Any = 0.0
            for value in range(int(self(low)), int(self(high)) + 1):
                total = total + Evaluator(self.s, {**self.indices, var: value})(inner)
            return total
        func = type(expr)
        if func in _FUNCS:
            return _FUNCS[func](*(self(arg) for arg in expr.args))
        raise Unknown(f"{func.__name__}: {expr}")

    def condition(self, cond: Any) -> Any:
        if cond is sympy.true:
            return True
        compare = {
            sympy.StrictGreaterThan: np.greater,
            sympy.StrictLessThan: np.less,
            sympy.GreaterThan: np.greater_equal,
            sympy.LessThan: np.less_equal,
        }
        if type(cond) in compare:
            return compare[type(cond)](self(cond.lhs), self(cond.rhs))
        raise Unknown(f"condition {cond}")


def index_values(expr_free: set[Any], s: Sample, layer: int) -> list[dict[Any, int]]:
    """Every binding of the free unit indices i, j (layer `layer`) and k (the layer below)."""
    ranges = {
        nt.i: range(1, s.net.sizes[layer] + 1),
        nt.j: range(1, s.net.sizes[layer] + 1),
        nt.k: range(1, s.net.sizes[layer - 1] + 1),
    }
    names = sorted((q for q in expr_free if q in ranges), key=str)
    return [
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(ranges[q] for q in names))
    ]


def close(left: Any, right: Any, rtol: float = 1e-9) -> bool:
    left, right = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    if left.shape != right.shape and left.size == right.size:
        left, right = left.reshape(-1), right.reshape(-1)
    scale = max(1.0, float(np.max(np.abs(right), initial=0.0)))
    return bool(
        np.all(np.isfinite(left)) and np.allclose(left, right, rtol=rtol, atol=rtol * scale)
    )
