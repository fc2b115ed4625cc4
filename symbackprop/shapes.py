"""Feature-map shapes: the settings of convolution and pooling layers from a spec, and the shape
each layer hands to the next, checked when a network is built (one-line errors naming the
layer). Shapes leave out the batch: (channels, height, width) for a feature map, (units,) flat.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy

from .errors import SpecError

if TYPE_CHECKING:
    from .spec import Layer

#: Layer kinds that slide a window over feature maps (they have a `Grid`); the convolutions.
GRID_KINDS = ("conv1d", "conv2d", "maxpool2d", "avgpool2d")
CONV_KINDS = ("conv1d", "conv2d")
#: Normalisation layers: the width they receive, normalised, scaled and shifted (a `Norm`).
NORM_KINDS = ("layernorm", "batchnorm")
#: Every layer kind a spec may name.
LAYER_KINDS = ("dense", *GRID_KINDS, "flatten", *NORM_KINDS)
#: The fields a spec's layer of each kind may give (besides `kind`).
FIELDS: dict[str, list[str]] = {
    "dense": ["units", "activation", "regularization", "residual"],
    "conv1d": ["filters", "kernel", "stride", "padding", "activation", "regularization"],
    "conv2d": ["filters", "kernel", "stride", "padding", "activation", "regularization"],
    "maxpool2d": ["size", "stride"],
    "avgpool2d": ["size", "stride"],
    "flatten": [],
    "layernorm": ["activation", "eps"],
    "batchnorm": ["activation", "eps", "momentum"],
}
#: The largest kernel, stride, padding or filter count accepted (bounds time and memory).
MAX_GRID = 1024


@dataclass(frozen=True)
class Grid:
    """A window slid over feature maps: its size (kernel) and stride, the zeros padded on each
    side, and for a convolution its number of filters (output channels); one entry per spatial
    axis (rows, columns; a sequence's one)."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...] = (1, 1)
    padding: tuple[int, ...] = (0, 0)
    filters: int = 0


#: PyTorch's defaults: ε of the variance, momentum of the running statistics.
_EPS, _MOMENTUM = sympy.Rational(1, 100000), sympy.Rational(1, 10)


@dataclass(frozen=True)
class Norm:
    """A normalisation layer's settings: ε added to the variance (exact), and for batch norm
    the momentum m of its running statistics, r = (1 - m) r + m · (the batch's), as PyTorch."""

    eps: sympy.Rational = _EPS
    momentum: sympy.Rational = _MOMENTUM


def norm_from(kind: str, table: Mapping[str, Any], where: str) -> Norm:
    """The Norm of a layernorm or batchnorm layer's spec table (PyTorch's defaults)."""
    values = {}
    for key, low, high in (("eps", 0.0, 1.0), ("momentum", 0.0, 1.0)):
        if key not in table:
            continue
        value = table[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not (low < value <= high) or value != value:
            raise _fail(f"{where}.{key}", f"must be a number above {low:g} and at most {high:g}")
        values[key] = sympy.Rational(str(value))
    return Norm(**values)


_LAYER_PATH = re.compile(r"layers\[(\d+)\]")


def spec_error(where: str, message: str) -> SpecError:
    """A SpecError reading '<where>: <message>' (just the message when `where` is empty).

    A path into a layer also gets the layer's number, counted from 1 as in the lecture:
    'layers[1].activation (layer 2): ...'.
    """
    if not where:
        return SpecError(message)
    layer = _LAYER_PATH.match(where)
    note = f" (layer {int(layer[1]) + 1})" if layer else ""
    return SpecError(f"{where}{note}: {message}")


_fail = spec_error


def spatial(kind: str) -> int:
    """The number of spatial axes a layer kind slides over: 1 for conv1d, else 2."""
    return 1 if kind == "conv1d" else 2


def _sizes(value: object, where: str, low: int, dims: int) -> tuple[int, ...]:
    """An int, or a list of `dims` ints ([height, width] in 2-D), each at least `low`."""
    items = list(value) if isinstance(value, list | tuple) else [value] * dims
    whole = [v for v in items if isinstance(v, int) and not isinstance(v, bool)]
    if len(items) != dims or len(whole) != dims:
        expected = "a whole number or [height, width]" if dims == 2 else "a whole number"
        raise _fail(where, f"expected {expected}, got {value!r:.60}")
    if not all(low <= v <= MAX_GRID for v in whole):
        raise _fail(where, f"must be between {low} and {MAX_GRID}, got {value!r:.60}")
    return tuple(whole)


def grid_from(kind: str, table: Mapping[str, Any], where: str) -> Grid:
    """The Grid of a conv1d, conv2d, maxpool2d or avgpool2d layer's spec table."""
    dims = spatial(kind)
    if kind in CONV_KINDS:
        for key in ("filters", "kernel", "activation"):
            if key not in table:
                raise _fail(f"{where}.{key}", "required field is missing")
        filters = table["filters"]
        whole = isinstance(filters, int) and not isinstance(filters, bool)
        if not whole or not 1 <= filters <= MAX_GRID:
            raise _fail(f"{where}.filters", f"must be a whole number from 1 to {MAX_GRID}")
        kernel = _sizes(table["kernel"], f"{where}.kernel", 1, dims)
        stride = _sizes(table.get("stride", 1), f"{where}.stride", 1, dims)
        padding = _padding(table.get("padding", "valid"), kernel, stride, f"{where}.padding")
        return Grid(kernel, stride, padding, filters)
    if "size" not in table:
        raise _fail(f"{where}.size", "required field is missing")
    size = _sizes(table["size"], f"{where}.size", 1, dims)
    stride = _sizes(table.get("stride", list(size)), f"{where}.stride", 1, dims)
    return Grid(size, stride, (0,) * dims)


def _padding(
    value: object, kernel: tuple[int, ...], stride: tuple[int, ...], where: str
) -> tuple[int, ...]:
    """`valid` (none), `same` (an output as large as the input: stride 1, odd kernel), or
    numbers of zeros on each side."""
    if value == "valid":
        return (0,) * len(kernel)
    if value == "same":
        if any(s != 1 for s in stride) or any(k % 2 == 0 for k in kernel):
            raise _fail(
                where,
                '"same" needs stride 1 and an odd kernel (zeros on both sides alike);'
                f" kernel {_shown(kernel)}, stride {stride[0]}: give the padding in numbers",
            )
        return tuple(k // 2 for k in kernel)
    if isinstance(value, str):
        numbers = "a whole number or [height, width]" if len(kernel) == 2 else "a whole number"
        raise _fail(where, f'expected "valid", "same", {numbers}, got {value!r:.60}')
    return _sizes(value, where, 0, len(kernel))


def output_shape(
    kind: str, grid: Grid | None, units: int, shape: tuple[int, ...], where: str
) -> tuple[int, ...]:
    """The shape a layer of `kind` hands on, given the `shape` it receives."""
    if kind == "dense":
        if len(shape) != 1:
            raise _fail(
                where,
                f"a dense layer takes a flat input, but this one receives feature maps"
                f' {_shown(shape)}; put a layer of kind "flatten" before it',
            )
        return (units,)
    if kind == "flatten":
        return (math.prod(shape),)
    if kind in NORM_KINDS:
        if len(shape) != 1:
            raise _fail(
                where,
                f"{kind} normalises a flat layer here, but this one receives feature maps"
                f' {_shown(shape)}; put a layer of kind "flatten" before it',
            )
        return shape
    assert grid is not None
    dims = spatial(kind)
    if len(shape) != dims + 1:
        expected = "(channels, length)" if dims == 1 else "(channels, height, width)"
        listed = "[channels, length]" if dims == 1 else "[channels, height, width]"
        got = f"a flat input of {shape[0]}" if len(shape) == 1 else f"feature maps {_shown(shape)}"
        raise _fail(
            where,
            f"{kind} slides over feature maps {expected}, but this layer receives {got};"
            f" give inputs as {listed}",
        )
    channels, sizes = shape[0], shape[1:]
    kernel, stride, padding = grid.kernel, grid.stride, grid.padding
    padded = tuple(n + 2 * p for n, p in zip(sizes, padding, strict=True))
    if any(k > n for k, n in zip(kernel, padded, strict=True)):
        note = f" (padded: {_shown(padded)})" if any(padding) else ""
        what = "kernel" if kind in CONV_KINDS else "window"
        raise _fail(
            where, f"{kind} {what} {_shown(kernel)} does not fit its {_shown(sizes)} input{note}"
        )
    if any(p >= k for p, k in zip(padding, kernel, strict=True)):
        raise _fail(
            where, f"padding {_shown(padding)} must be smaller than the kernel {_shown(kernel)}"
        )
    out = tuple((n - k) // s + 1 for n, k, s in zip(padded, kernel, stride, strict=True))
    return (grid.filters if kind in CONV_KINDS else channels, *out)


def _shown(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def input_shape(value: object, where: str = "inputs") -> tuple[int, ...]:
    """`inputs`: a number of features, [channels, height, width] of an image, or [channels,
    length] of a sequence."""
    if isinstance(value, list | tuple):
        if len(value) not in (2, 3) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_GRID * 4 for v in value
        ):
            raise _fail(
                where,
                "expected a number of inputs, [channels, height, width] or [channels, length],"
                f" got {value!r:.60}",
            )
        return tuple(int(v) for v in value)
    return ()


def describe(kind: str, grid: Grid | None, shape_out: tuple[int, ...], activation: str) -> str:
    """A layer as a document's title names it: `conv2d 6 filters 5x5, relu; maps 6x24x24`;
    just the activation for a dense layer."""
    if kind == "dense":
        return activation
    if kind in ("flatten", *NORM_KINDS):
        return kind if kind == "flatten" or activation == "identity" else f"{kind}, {activation}"
    assert grid is not None
    conv = kind in CONV_KINDS
    kernel, stride, padding = grid.kernel, grid.stride, grid.padding
    parts = [
        f"{kind} {grid.filters} filters {_shown(kernel)}" if conv else f"{kind} {_shown(kernel)}"
    ]
    if stride != ((1,) * len(kernel) if conv else kernel):
        parts.append(f"stride {stride[0]}" if len(set(stride)) == 1 else f"stride {_shown(stride)}")
    if any(padding):
        same = len(set(padding)) == 1
        parts.append(f"zero padding {padding[0]}" if same else f"zero padding {_shown(padding)}")
    if conv:
        parts.append(activation)
    return ", ".join(parts) + f"; maps {_shown(shape_out)}"


def weight_shape(layer: Layer) -> tuple[int, ...] | None:
    """W's shape in the generated modules: (units, units below) for a dense layer, (filters,
    channels below, kernel rows, kernel columns) for conv2d (one kernel axis for conv1d); None
    for a layer without weights (pooling, flatten)."""
    if layer.kind in CONV_KINDS:
        assert layer.grid is not None
        return (layer.grid.filters, layer.shape_in[0], *layer.grid.kernel)
    if layer.kind == "dense":
        return (layer.units, layer.shape_in[0])
    return None


def parameters(layer: Layer) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """A layer's parameters as the generated modules name and shape them: W and b (dense and
    the convolutions), γ and β as gamma and beta (normalisation layers), none otherwise."""
    shape = weight_shape(layer)
    if shape is not None:
        return (("W", shape), ("b", shape[:1]))
    if layer.kind in NORM_KINDS:
        return (("gamma", (layer.units,)), ("beta", (layer.units,)))
    return ()
