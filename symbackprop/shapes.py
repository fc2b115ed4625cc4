"""Feature-map shapes: the settings of convolution and pooling layers from a spec, and the shape
each layer hands to the next, checked when a network is built (one-line errors naming the
layer). Shapes leave out the batch: (channels, height, width) for a feature map, (units,) flat.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import SpecError

#: Layer kinds that slide a window over feature maps (they have a `Grid`).
GRID_KINDS = ("conv2d", "maxpool2d", "avgpool2d")
#: Every layer kind a spec may name.
LAYER_KINDS = ("dense", *GRID_KINDS, "flatten")
#: The fields a spec's layer of each kind may give (besides `kind`).
FIELDS: dict[str, list[str]] = {
    "dense": ["units", "activation", "regularization"],
    "conv2d": ["filters", "kernel", "stride", "padding", "activation", "regularization"],
    "maxpool2d": ["size", "stride"],
    "avgpool2d": ["size", "stride"],
    "flatten": [],
}
#: The largest kernel, stride, padding or filter count accepted (bounds time and memory).
MAX_GRID = 1024


@dataclass(frozen=True)
class Grid:
    """A window slid over feature maps: its size (kernel) and stride, the zeros padded on each
    side, and for a convolution its number of filters (output channels)."""

    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    filters: int = 0


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


def _pair(value: object, where: str, low: int) -> tuple[int, int]:
    """An int or a [height, width] pair of ints, each at least `low`."""
    items = list(value) if isinstance(value, list | tuple) else [value, value]
    whole = [v for v in items if isinstance(v, int) and not isinstance(v, bool)]
    if len(items) != 2 or len(whole) != 2:
        raise _fail(where, f"expected a whole number or [height, width], got {value!r:.60}")
    first, second = whole
    if not (low <= first <= MAX_GRID and low <= second <= MAX_GRID):
        raise _fail(where, f"must be between {low} and {MAX_GRID}, got {value!r:.60}")
    return first, second


def grid_from(kind: str, table: Mapping[str, Any], where: str) -> Grid:
    """The Grid of a conv2d, maxpool2d or avgpool2d layer's spec table."""
    if kind == "conv2d":
        for key in ("filters", "kernel", "activation"):
            if key not in table:
                raise _fail(f"{where}.{key}", "required field is missing")
        filters = table["filters"]
        if (
            isinstance(filters, bool)
            or not isinstance(filters, int)
            or not 1 <= filters <= MAX_GRID
        ):
            raise _fail(f"{where}.filters", f"must be a whole number from 1 to {MAX_GRID}")
        kernel = _pair(table["kernel"], f"{where}.kernel", 1)
        stride = _pair(table.get("stride", 1), f"{where}.stride", 1)
        padding = _padding(table.get("padding", "valid"), kernel, stride, f"{where}.padding")
        return Grid(kernel, stride, padding, filters)
    if "size" not in table:
        raise _fail(f"{where}.size", "required field is missing")
    size = _pair(table["size"], f"{where}.size", 1)
    stride = _pair(table.get("stride", list(size)), f"{where}.stride", 1)
    return Grid(size, stride)


def _padding(
    value: object, kernel: tuple[int, int], stride: tuple[int, int], where: str
) -> tuple[int, int]:
    """`valid` (none), `same` (an output as large as the input: stride 1, odd kernel), or
    numbers of zeros on each side."""
    if value == "valid":
        return (0, 0)
    if value == "same":
        if stride != (1, 1) or kernel[0] % 2 == 0 or kernel[1] % 2 == 0:
            raise _fail(
                where,
                '"same" needs stride 1 and an odd kernel (zeros on both sides alike);'
                f" kernel {kernel[0]}x{kernel[1]}, stride {stride[0]}: give the padding in numbers",
            )
        return (kernel[0] // 2, kernel[1] // 2)
    if isinstance(value, str):
        raise _fail(
            where, f'expected "valid", "same", a whole number or [height, width], got {value!r:.60}'
        )
    return _pair(value, where, 0)


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
    assert grid is not None
    if len(shape) != 3:
        raise _fail(
            where,
            f"{kind} slides over feature maps (channels, height, width), but this layer"
            f" receives a flat input of {shape[0]}; give inputs as [channels, height, width]",
        )
    channels, height, width = shape
    (kh, kw), (sh, sw), (ph, pw) = grid.kernel, grid.stride, grid.padding
    if kh > height + 2 * ph or kw > width + 2 * pw:
        padded = f" (padded: {height + 2 * ph}x{width + 2 * pw})" if ph or pw else ""
        what = "kernel" if kind == "conv2d" else "window"
        raise _fail(
            where,
            f"{kind} {what} {kh}x{kw} does not fit its {height}x{width} input{padded}",
        )
    if ph >= kh or pw >= kw:
        raise _fail(where, f"padding {ph}x{pw} must be smaller than the kernel {kh}x{kw}")
    out = ((height + 2 * ph - kh) // sh + 1, (width + 2 * pw - kw) // sw + 1)
    return (grid.filters if kind == "conv2d" else channels, *out)


def _shown(shape: tuple[int, ...]) -> str:
    return "x".join(str(s) for s in shape)


def input_shape(value: object, where: str = "inputs") -> tuple[int, ...]:
    """`inputs`: a number of features, or [channels, height, width] of an image."""
    if isinstance(value, list | tuple):
        if len(value) != 3 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_GRID * 4 for v in value
        ):
            raise _fail(
                where,
                f"expected a number of inputs or [channels, height, width], got {value!r:.60}",
            )
        return tuple(int(v) for v in value)
    return ()


def describe(kind: str, grid: Grid | None, shape_out: tuple[int, ...], activation: str) -> str:
    """A layer as a document's title names it: `conv2d 6 filters 5x5, relu; maps 6x24x24`;
    just the activation for a dense layer."""
    if kind == "dense":
        return activation
    if kind == "flatten":
        return "flatten"
    assert grid is not None
    (kh, kw), (sh, sw), (ph, pw) = grid.kernel, grid.stride, grid.padding
    parts = [
        f"{kind} {grid.filters} filters {kh}x{kw}" if kind == "conv2d" else f"{kind} {kh}x{kw}"
    ]
    if (sh, sw) != ((1, 1) if kind == "conv2d" else (kh, kw)):
        parts.append(f"stride {sh}" if sh == sw else f"stride {sh}x{sw}")
    if (ph, pw) != (0, 0):
        parts.append(f"zero padding {ph}" if ph == pw else f"zero padding {ph}x{pw}")
    if kind == "conv2d":
        parts.append(activation)
    return ", ".join(parts) + f"; maps {_shown(shape_out)}"
