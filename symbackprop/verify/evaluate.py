"""The value of each side of a claim at one point, for given values of l and the unit indices:
the tree evaluated over the oracle's values and Jacobians, with the shapes checked as it goes;
and where two values disagree."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .indices import index_uses
from .point import Key, Point, Val, apply_each
from .tree import (
    Add,
    Call,
    Cases,
    Euler,
    Extremum,
    Index,
    Kron,
    LayerRef,
    Mul,
    Node,
    Num,
    Part,
    Pow,
    Qty,
    SumOver,
    Tr,
    show,
    sigma_layer,
    walk,
)

#: The agreement asked of both sides near zero, besides judge.TOLERANCE; terms of one sum.
ABSOLUTE_TOLERANCE = 1e-12
MAX_SUM_TERMS = 10_000


#: The longest a whole `verify` of one equation may take, in seconds (wall clock).
TIME_LIMIT = 20.0
_DEADLINE = [math.inf]


class TooLong(Exception):
    """Checking an equation ran past its time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Checks inside run until `seconds` from now (the sooner of this and an outer limit)."""
    outer = _DEADLINE[0]
    _DEADLINE[0] = min(outer, time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE[0] = outer


def check_time() -> None:
    """Raise TooLong once the current time limit has passed."""
    if time.monotonic() > _DEADLINE[0]:
        raise TooLong


class Undefined(Exception):
    """A side has no value at this instance; `benign` when the claim simply does not apply."""

    def __init__(self, reason: str, benign: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.benign = benign


class Malformed(Exception):
    """A side has no value anywhere: shapes that do not fit, a tensor where a matrix is needed."""


def _shape(v: Val) -> str:
    if isinstance(v, float):
        return "a number"
    rows, cols = v.shape
    return f"{rows}×{cols}"


class Evaluator:
    """Values of AST nodes at one point, for given layer and index values."""

    def __init__(self, point: Point) -> None:
        self.p = point
        self.depth = point.depth

    def layer(self, ref: LayerRef, env: dict[str, int]) -> int:
        return ref.value(env.get("l"), self.depth)

    def value(self, node: Node, env: dict[str, int]) -> Val:
        if isinstance(node, Num):
            try:
                return float(node.value)
            except OverflowError:
                return math.inf
        if isinstance(node, Euler):
            return math.e
        if isinstance(node, Qty):
            return self.quantity(node, env)
        if isinstance(node, Kron):
            return 1.0 if self.index(node.first, env) == self.index(node.second, env) else 0.0
        if isinstance(node, Part):
            return self.partial(node, env)
        if isinstance(node, Call):
            return self.call(node, env)
        if isinstance(node, Extremum):
            first, second = self.value(node.first, env), self.value(node.second, env)
            pick = np.maximum if node.fn == "max" else np.minimum
            out = pick(first, second)
            return float(out) if np.ndim(out) == 0 else np.asarray(out, dtype=np.float64)
        if isinstance(node, Add):
            total: Val = 0.0
            for sign, term in node.terms:
                total = _add(total, self.value(term, env), sign)
            return total
        if isinstance(node, Mul):
            return self.product(node, env)
        if isinstance(node, Pow):
            return self.power(node, env)
        if isinstance(node, Tr):
            v = self.value(node.arg, env)
            return v if isinstance(v, float) else v.T
        if isinstance(node, SumOver):
            return self.sum(node, env)
        if isinstance(node, Cases):
            return self.cases(node, env)
        raise AssertionError(node)  # pragma: no cover

    def cases(self, node: Cases, env: dict[str, int]) -> Val:
        """The first row whose condition holds (elementwise for vectors); NaN where none does,
        so that it agrees with nothing."""
        compare = {">": np.greater, "<": np.less, ">=": np.greater_equal, "<=": np.less_equal}
        out: Any = math.nan
        for value, condition in reversed(node.rows):
            v = self.value(value, env)
            if condition is None:
                out = v
                continue
            left, op, right = condition
            holds = compare[op](self.value(left, env), self.value(right, env))
            out = np.where(holds, v, out)
        return float(out) if np.ndim(out) == 0 else np.asarray(out, dtype=np.float64)

    def index(self, index: Index, env: dict[str, int]) -> int:
        return index if isinstance(index, int) else env[index]

    def quantity(self, q: Qty, env: dict[str, int]) -> Val:
        if q.kind == "E":
            return self.p.E
        if q.kind in ("lambda", "lambda1"):  # the spec's strength: λ_1 for L1, λ (λ_2) for L2
            reg = self.p.net.penalty(self.layer(q.layer, env) if q.layer is not None else 1)
            return float(reg.l1 if q.kind == "lambda1" else reg.l2)
        assert q.layer is not None or q.kind == "y"
        m = self.layer(q.layer, env) if q.layer is not None else self.depth
        if q.kind == "n":
            return float(self.p.sizes[m])
        value = self.p.array(q.kind, m)
        if not q.indices:
            return value
        where = [self.index(x, env) for x in q.indices]
        for axis, unit in enumerate(where):
            if not 1 <= unit <= value.shape[axis]:
                raise Undefined(
                    f"{show(q)} with unit {unit} does not exist: "
                    f"units are numbered 1 to {value.shape[axis]}"
                )
        return float(value[where[0] - 1, where[1] - 1 if len(where) > 1 else 0])

    def key(self, q: Qty, env: dict[str, int]) -> Key:
        if q.kind == "E":
            return ("E", 0)
        if q.kind == "y":
            return ("y", 0)
        assert q.layer is not None
        return (q.kind, self.layer(q.layer, env))

    def flat(self, q: Qty, env: dict[str, int]) -> int:
        if not q.indices:
            return 0
        where = [self.index(x, env) for x in q.indices]
        key = self.key(q, env)
        shape = self.p.array(key[0], key[1]).shape if key[0] not in ("E",) else (1, 1)
        for axis, unit in enumerate(where):
            if not 1 <= unit <= shape[axis]:
                raise Undefined(f"{show(q)} with unit {unit} does not exist")
        if len(where) == 2:
            return int((where[0] - 1) * shape[1] + where[1] - 1)
        return where[0] - 1

    def partial(self, node: Part, env: dict[str, int]) -> Val:
        num, den = node.num, node.den
        x, y = self.key(num, env), self.key(den, env)
        jac = self.p.jac(x, y)  # softmax included: ∂a_j/∂z_j is its Jacobian's diagonal entry
        if num.indices or den.indices:
            return float(jac[self.flat(num, env), self.flat(den, env)])
        if num.kind == "E":
            shape = self.p.array(y[0], y[1]).shape if y[0] != "y" else self.p.y.shape
            return jac.reshape(shape)
        if den.kind == "w" and jac.shape[0] > 1:
            raise Malformed(f"∂{show(num)}/∂{show(den)} is not a matrix; write it with indices")
        if den.kind == "w":
            return jac.reshape(self.p.W[y[1]].shape)
        return jac

    def call(self, node: Call, env: dict[str, int], diagonal: bool = False) -> Val:
        """A function's value; `diagonal`: the call is a whole factor of a ⊙ product, where a
        softmax σ' is read elementwise, as ∂a_j/∂z_j (its Jacobian's diagonal)."""
        arg = self.value(node.arg, env)
        if node.fn in ("sigma", "sigma_prime"):
            ref = sigma_layer(node)
            m = self.layer(ref, env) if ref is not None else 1  # one activation throughout
            if not 1 <= m <= self.depth:
                raise Undefined(f"layer {m} has no activation σ")
            if self.p.activation(m).is_softmax:
                return self.softmax(node, m, arg, env, diagonal)
            fn = self.p.sigma(m) if node.fn == "sigma" else self.p.sigma_prime(m)
            return apply_each(fn, arg)
        with np.errstate(all="ignore"):
            fns: dict[str, Callable[[Any], Any]] = {
                "exp": np.exp,
                "log": np.log,
                "tanh": np.tanh,
                "sinh": np.sinh,
                "cosh": np.cosh,
                "sqrt": np.sqrt,
                "abs": np.abs,
                "sign": np.sign,
                "heaviside": lambda v: np.heaviside(v, 0.0),
            }
            out = fns[node.fn](arg)
        return float(out) if isinstance(arg, float) else np.asarray(out, dtype=np.float64)

    def softmax(self, node: Call, m: int, arg: Val, env: dict[str, int], diagonal: bool) -> Val:
        """σ or σ' of softmax layer m: σ(z^{(m)}) is the vector a^{(m)}, σ(z_j^{(m)}) its entry
        a_j^{(m)}; σ'(z^{(m)}) is the Jacobian ∂a^{(m)}/∂z^{(m)} (its diagonal inside ⊙) and
        σ'(z_j^{(m)}) the entry ∂a_j^{(m)}/∂z_j^{(m)}, as for any other layer."""
        prime = node.fn == "sigma_prime"
        if isinstance(arg, float):
            inner = node.arg
            if not (isinstance(inner, Qty) and inner.kind == "z" and len(inner.indices) == 1):
                name = "σ'" if prime else "σ"
                raise Malformed(
                    f"layer {m} is softmax, which acts on the whole vector z^{{({m})}}: "
                    f"{name} of one number is not defined there; write {name}(z_j^{{({m})}})"
                )
            unit = self.index(inner.indices[0], env) - 1
            s = self.p.a[m][:, 0]
            if prime:
                return float(s[unit] * (1.0 - s[unit]))
            return float(s[unit])
        if arg.shape[1] != 1:
            raise Malformed(f"softmax (layer {m}) acts on a column vector, not a {_shape(arg)}")
        with np.errstate(all="ignore"):
            e = np.exp(arg - arg.max())
            s = e / e.sum()
        if not prime:
            return np.asarray(s, dtype=np.float64)
        if diagonal:
            return np.asarray(s * (1.0 - s), dtype=np.float64)
        return np.asarray(np.diagflat(s) - s @ s.T, dtype=np.float64)

    def product(self, node: Mul, env: dict[str, int]) -> Val:
        segments: list[Val] = []
        current: Val | None = None
        ops = [op for op, _ in node.factors]
        for n, (op, factor) in enumerate(node.factors):
            alone = op == "odot" or (n + 1 < len(ops) and ops[n + 1] == "odot")
            alone = alone and (n + 1 == len(ops) or ops[n + 1] == "odot")
            alone = alone and (n == 0 or op == "odot")
            v = self.elementwise(factor, env) if alone else self.value(factor, env)
            if op == "odot" and current is not None:
                segments.append(current)
                current = v
            elif current is None:
                current = v
            elif op == "/":
                current = _divide(current, v)
            else:
                current = _times(current, v)
        assert current is not None
        segments.append(current)
        out = segments[0]
        for v in segments[1:]:
            out = _hadamard(out, v)
        return out

    def elementwise(self, node: Node, env: dict[str, int]) -> Val:
        """A whole factor of a ⊙ product: there σ'(z^{(m)}) and ∂a^{(m)}/∂z^{(m)} mean the
        vector of ∂a_j/∂z_j, the Jacobian's diagonal (all of it for an elementwise layer, and
        not all of it for softmax, so an elementwise softmax claim meets the true Jacobian)."""
        if isinstance(node, Call) and node.fn == "sigma_prime":
            return self.call(node, env, diagonal=True)
        value = self.value(node, env)
        if (
            isinstance(node, Part)
            and node.num.kind == "a"
            and node.den.kind == "z"
            and not node.num.indices
            and not node.den.indices
            and isinstance(value, np.ndarray)
            and value.ndim == 2
            and value.shape[0] == value.shape[1]
            and self.key(node.num, env)[1] == self.key(node.den, env)[1]
        ):
            return np.asarray(np.diag(value).reshape(-1, 1), dtype=np.float64)
        return value

    def power(self, node: Pow, env: dict[str, int]) -> Val:
        base = self.value(node.base, env)
        exponent = self.value(node.exponent, env)
        if not isinstance(exponent, float):
            raise Malformed("an exponent must be a number")
        with np.errstate(all="ignore"):
            if isinstance(base, float):
                try:
                    return float(base**exponent) if base > 0 or exponent.is_integer() else math.nan
                except OverflowError:
                    return math.inf
                except ZeroDivisionError:
                    return math.nan
            return np.asarray(np.power(base, exponent), dtype=np.float64)

    def sum(self, node: SumOver, env: dict[str, int]) -> Val:
        low = 1 if node.lower is None else self.value(node.lower, env)
        if node.upper is not None:
            high = self.value(node.upper, env)
        else:
            high = float(self.p.sizes[self.sum_layer(node, env)])
        if not (isinstance(low, float | int) and isinstance(high, float)):
            raise Malformed("the limits of a sum must be numbers")
        if not (float(low).is_integer() and high.is_integer()):
            raise Malformed("the limits of a sum must be whole numbers")
        if high - low > MAX_SUM_TERMS:
            raise Malformed(f"a sum of more than {MAX_SUM_TERMS} terms")
        total: Val = 0.0
        for v in range(int(low), int(high) + 1):
            check_time()
            total = _add(total, self.value(node.body, {**env, node.index: v}), 1)
        return total

    def sum_layer(self, node: SumOver, env: dict[str, int]) -> int:
        for q in walk(node.body):
            if isinstance(q, Qty):
                for letter, layer in index_uses(q):
                    if letter == node.index and layer is not None:
                        return self.layer(layer, env)
        raise Undefined(f"the sum over {node.index} has no range")


def _add(x: Val, y: Val, sign: int) -> Val:
    if isinstance(x, float) or isinstance(y, float) or x.shape == y.shape:
        return x + sign * y
    raise Malformed(f"it adds a {_shape(x)} and a {_shape(y)} matrix")


def _times(x: Val, y: Val) -> Val:
    if isinstance(x, float) or isinstance(y, float):
        return x * y
    if x.shape[1] != y.shape[0]:
        raise Malformed(
            f"a product of a {_shape(x)} and a {_shape(y)} matrix is not defined"
            " (\\odot is the elementwise product)"
        )
    return x @ y


def _divide(x: Val, y: Val) -> Val:
    with np.errstate(all="ignore"):
        if isinstance(y, float):
            if y == 0.0:
                return x * math.inf if isinstance(x, float) else x * np.inf
            return x / y
        if isinstance(x, float) or x.shape == y.shape:
            return np.asarray(x / y, dtype=np.float64)
    raise Malformed(f"it divides a {_shape(x)} by a {_shape(y)} matrix")


def _hadamard(x: Val, y: Val) -> Val:
    if isinstance(x, float) or isinstance(y, float) or x.shape == y.shape:
        return x * y
    raise Malformed(f"\\odot needs equal shapes, not {_shape(x)} and {_shape(y)}")


def first_difference(
    left: Val, right: Val, tolerance: float
) -> tuple[tuple[int, int], float, float] | None:
    """The first entry where the sides disagree, or None when they agree everywhere."""
    if isinstance(left, float) or isinstance(right, float) or left.shape == right.shape:
        lv, rv = np.broadcast_arrays(np.atleast_2d(left), np.atleast_2d(right))
    elif left.size == 1 and right.size == 1:
        lv, rv = left.reshape(1, 1), right.reshape(1, 1)
    else:
        raise Malformed(f"the left side is {_shape(left)} and the right side {_shape(right)}")
    with np.errstate(all="ignore"):
        scale = np.maximum(np.abs(lv), np.abs(rv))
        close = np.abs(lv - rv) <= tolerance * scale + ABSOLUTE_TOLERANCE
    bad = ~(close & np.isfinite(lv) & np.isfinite(rv))  # inf and nan are no real values
    if not bad.any():
        return None
    r, c = (int(v) for v in np.argwhere(bad)[0])
    return (r, c), float(lv[r, c]), float(rv[r, c])


def as_jacobian(side: Node, value: Val, other: Val) -> tuple[Val, Val]:
    """A side that is ∂a^{(m)}/∂z^{(m)} (a square matrix) against a column: the column is read
    as the elementwise derivative, the diagonal matrix diag(v).  Elementwise layers agree
    with it; softmax's Jacobian does not (off its diagonal)."""
    if (
        isinstance(side, Part)
        and (side.num.kind, side.den.kind) == ("a", "z")
        and not side.num.indices
        and not side.den.indices
        and side.num.layer == side.den.layer
        and isinstance(value, np.ndarray)
        and isinstance(other, np.ndarray)
        and value.shape[0] == value.shape[1] > 1
        and other.shape == (value.shape[0], 1)
    ):
        return value, np.asarray(np.diagflat(other), dtype=np.float64)
    return value, other
