"""The feature-map operators of convolution and pooling layers (⋆, rot180, maxpool, vec, ...),
laid out alike by the LaTeX and the text printer: a mixin whose class attributes give each
printer's signs, as `common.LectureLayout` does for the products."""

from __future__ import annotations

from typing import Any

import sympy
from sympy import Expr

from .. import notation as n


def _numbers(pair: Expr) -> tuple[int, ...]:
    return tuple(int(x) for x in pair.args)


def settings(
    stride: Expr, padding: Expr | None, usual: tuple[int, ...] | None, times: str
) -> list[str]:
    """`s=2` and `P=1` (`s=2x1` where the axes differ) for a stride other than `usual` (1 on
    every axis by default) and a padding other than none."""
    steps = _numbers(stride)
    pads = _numbers(padding) if padding is not None else (0,) * len(steps)
    parts = []
    if steps != (usual or (1,) * len(steps)):
        parts.append(
            f"s={steps[0]}" if len(set(steps)) == 1 else f"s={times.join(map(str, steps))}"
        )
    if any(pads):
        parts.append(f"P={pads[0]}" if len(set(pads)) == 1 else f"P={times.join(map(str, pads))}")
    return parts


class MapLayout:
    """Printing of notation's feature-map operators; `_print` is the SymPy printer's."""

    #: The signs: correlation, its full form, the operator-name and subscript markup.
    star: str
    full_star: str
    times: str
    _print: Any

    def _name(self, name: str) -> str:
        raise NotImplementedError

    def _sub(self, text: str) -> str:
        raise NotImplementedError

    def _args(self, text: str) -> str:
        raise NotImplementedError

    def _stride_text(
        self, stride: Expr, padding: Expr | None = None, usual: tuple[int, ...] | None = None
    ) -> str:
        """`s=2, P=1` where the stride or the padding is not the usual one (1, a pooling
        window's size; no padding)."""
        parts = settings(stride, padding, usual, self.times)
        return self._sub(",".join(parts)) if parts else ""

    def _window(self, window: Expr) -> str:
        return self.times.join(str(x) for x in _numbers(window))

    def _print_Correlate(self, expr: n.Correlate) -> str:
        weights, maps, stride, padding = expr.args
        star = self.star + self._stride_text(stride, padding)
        return f"{self._print(weights)} {star} {self._print(maps)}"

    def _print_KernelGradient(self, expr: n.KernelGradient) -> str:
        maps, delta, _, stride, padding = expr.args
        star = self.star + self._stride_text(stride, padding)
        return f"{self._print(maps)} {star} {self._print(delta)}"

    def _print_InputGradient(self, expr: n.InputGradient) -> str:
        delta, weights, _, stride, padding = expr.args
        star = self.full_star + self._stride_text(stride, padding)
        rotated = self._name("rot180") + self._args(str(self._print(weights)))
        return f"{self._print(delta)} {star} {rotated}"

    def _print_PerChannel(self, expr: n.PerChannel) -> str:
        return str(self._print(expr.args[0]))

    def _print_MapSum(self, expr: n.MapSum) -> str:
        positions = "i,j" if int(expr.args[1]) == 2 else "i"
        return self._map_sum(str(self._print(expr.args[0])), positions)

    def _map_sum(self, body: str, positions: str) -> str:
        raise NotImplementedError

    def _print_Pool(self, expr: n.Pool) -> str:
        op, maps, window, stride = expr.args
        name = self._name(f"{op}pool") + self._sub(self._window(window))
        name += self._stride_text(stride, usual=_numbers(window))
        return name + self._args(str(self._print(maps)))

    def _print_PoolGradient(self, expr: n.PoolGradient) -> str:
        op, upstream, maps, _, _, window, stride = expr.args
        name = self._name("route" if str(op) == "max" else "spread")
        name += self._sub(self._window(window))
        name += self._stride_text(stride, usual=_numbers(window))
        inner = str(self._print(upstream))
        if str(op) == "max":
            inner += f"; {self._print(maps)}"
        return name + self._args(inner)

    def _print_Flatten(self, expr: n.Flatten) -> str:
        return self._name("vec") + self._args(str(self._print(expr.args[0])))

    def _print_Unflatten(self, expr: n.Unflatten) -> str:
        shape = self.times.join(str(s) for s in _numbers(expr.args[1]))
        return self._inverse_vec(shape) + self._args(str(self._print(expr.args[0])))

    def _inverse_vec(self, shape: str) -> str:
        raise NotImplementedError

    def _print_Upstream(self, expr: n.Upstream) -> str:
        return str(self._print(n.Partial(n.E, n.Act(expr.layer))))

    def _print_WindowMax(self, expr: n.WindowMax) -> str:
        body, *limits = expr.args
        ranges = ",".join(self._range(*limit) for limit in reversed(limits))
        return f"{self._max}{self._sub(ranges)} {self._print(body)}"

    _max: str

    def _range(self, index: Expr, low: Expr, high: Expr) -> str:
        raise NotImplementedError

    def _print_IsArgmax(self, expr: n.IsArgmax) -> str:
        layer, channel, row, col, p, q = expr.args
        maps = self._print(n.Act(layer - 1, channel))
        window = f"({self._print(row)},{self._print(col)})"
        where = self._name("argmax") + self._sub(window) + " " + str(maps)
        return self._iverson(f"({self._print(p)},{self._print(q)}) = {where}")

    def _print_InWindow(self, expr: n.InWindow) -> str:
        p, q, row, col, stride, window = expr.args
        (sh, sw), (kh, kw) = _numbers(stride), _numbers(window)
        conditions = [
            self._between(sympy.Integer(sh) * row, p, sympy.Integer(sh) * row + kh),
            self._between(sympy.Integer(sw) * col, q, sympy.Integer(sw) * col + kw),
        ]
        return self._iverson(", ".join(conditions))

    def _between(self, low: Expr, x: Expr, high: Expr) -> str:
        raise NotImplementedError

    def _iverson(self, condition: str) -> str:
        raise NotImplementedError
