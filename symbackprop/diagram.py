"""A picture of the network, computed from its layer sizes: where each unit, weight and label goes.

`overview` draws the whole network (layers as columns of units, weights as edges, the loss E at
the right); `focus` draws it around one layer for that layer's backward equations, with what
they use highlighted: the weights of layer l, the units they join (a_k^(l-1) and z_j^(l)) and
the error signal coming back from layer l+1 (or from E at the output).

The model holds geometry (centimetres, y up) and printed labels only; the templates turn it into
TikZ (LaTeX, beamer) or SVG (HTML) without computing anything. Columns with many units show the
first few, dots, and the last; deep networks show the first and last layers and the window
around the layer in focus, with dots for the layers between. Feature maps (image inputs and
the outputs of conv2d and pooling layers) are stacks of squares, one per channel (`Maps`), joined
to the next layer by a window funnelling into one cell (`Window`) or, into a flatten layer's
column, by one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sympy import Eq, Expr, Function, Integer

from . import notation as nt

if TYPE_CHECKING:
    from .ir import View
    from .spec import Network

#: How a unit, edge or label is drawn: `plain`; `weight` the weights (and their label) of the
#: layer in focus; `source` the units of layer l-1 they read; `focus` the units of layer l;
#: `signal` the error signal flowing back into layer l.
Role = Literal["plain", "weight", "source", "focus", "signal"]
#: Where a label sits relative to its point, as TikZ names it (south: the label is above).
Anchor = Literal["south", "north", "center"]

#: A column draws every unit up to this many; a wider one shows MAX_UNITS - 2 units, dots and
#: its last unit.
MAX_UNITS = 6
#: Columns (layers 0..L) drawn in full before the middle of a deep network is elided.
MAX_COLUMNS = 8
#: The focus diagram of a beamer frame is smaller: fewer units and columns.
FOCUS_UNITS = 5
FOCUS_COLUMNS = 5
#: Distances (cm): between units of a column, between columns, and a unit's radius.
UNIT_GAP = 0.6
COLUMN_GAP = 1.8
RADIUS = 0.16
#: Room (cm) around the drawing for labels.
MARGIN = 0.2
LABEL_ROOM = 0.55
#: Pixels per centimetre in SVG.
PX_PER_CM = 48.0
#: A stack of feature maps draws at most this many channels; a deeper one is labelled ×count.
MAX_CHANNELS = 4
#: A map's square: MAP_CELL cm per row and column (less where the network's largest map would
#: pass MAP_MAX), its longer side clamped to MAP_MIN..MAP_MAX cm (the other in proportion, at
#: least MAP_THIN); each channel behind sits CHANNEL_STEP cm right and up; a stack keeps MAP_GAP
#: cm clear of the next layer.
MAP_CELL = 0.15
MAP_MIN = 0.5
MAP_MAX = 1.6
MAP_THIN = 0.2
CHANNEL_STEP = 0.14
MAP_GAP = 0.9


@dataclass(frozen=True)
class Unit:
    """One drawn unit: `layer` 0 for the inputs, `index` counted from 1."""

    layer: int
    index: int
    x: float
    y: float
    role: Role


@dataclass(frozen=True)
class Line:
    """An edge (a weight) or, with `arrow`, the error signal's arrow from (x1, y1) to (x2, y2)."""

    x1: float
    y1: float
    x2: float
    y2: float
    role: Role
    arrow: bool = False


@dataclass(frozen=True)
class Dots:
    """Elided units (`vertical`) or elided layers (horizontal) centred at (x, y)."""

    x: float
    y: float
    vertical: bool


@dataclass(frozen=True)
class Label:
    """Printed maths (`text`, by the format's printer) at (x, y)."""

    x: float
    y: float
    text: str
    anchor: Anchor
    role: Role = "plain"


@dataclass(frozen=True)
class Square:
    """A rectangle from (x1, y1), lower left, to (x2, y2), upper right."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def corners(self) -> tuple[tuple[float, float], ...]:
        """Its corners anticlockwise from the lower left (an SVG polygon's points)."""
        return ((self.x1, self.y1), (self.x2, self.y1), (self.x2, self.y2), (self.x1, self.y2))


@dataclass(frozen=True)
class Maps:
    """A feature-map layer as a stack of squares, one per channel (at most MAX_CHANNELS),
    `squares` from the back to the front (lower left); `shape` is (channels, rows, columns)."""

    layer: int
    shape: tuple[int, ...]
    x: float
    squares: tuple[Square, ...]
    role: Role

    @property
    def front(self) -> Square:
        return self.squares[-1]


@dataclass(frozen=True)
class Window:
    """A convolution's or pooling window: the `window` on the front map of the layer below,
    the `cell` of the front map above that it computes, and the `funnel` joining them."""

    window: Square
    cell: Square
    funnel: tuple[tuple[float, float], ...]
    role: Role


class Times(Function):
    """A map's shape printed as 8 × 6 × 6 (a single number n as × n, a count of channels)."""

    def _latex(self, printer: object) -> str:
        text = r" \times ".join(str(arg) for arg in self.args)
        return text if len(self.args) > 1 else r"\times " + text

    def _mathml_presentation(self, printer: object) -> object:
        dom = printer.dom  # type: ignore[attr-defined]
        row = dom.createElement("mrow")
        for number, arg in enumerate(self.args):
            if number or len(self.args) == 1:
                sign = dom.createElement("mo")
                sign.appendChild(dom.createTextNode("\N{MULTIPLICATION SIGN}"))
                row.appendChild(sign)
            digits = dom.createElement("mn")
            digits.appendChild(dom.createTextNode(str(arg)))
            row.appendChild(digits)
        return row


@dataclass(frozen=True)
class Diagram:
    """Everything a template draws, and the bounding box (cm) that holds it with its labels."""

    units: tuple[Unit, ...]
    lines: tuple[Line, ...]
    dots: tuple[Dots, ...]
    labels: tuple[Label, ...]
    loss: tuple[float, float]  # where the loss E sits
    loss_role: Role
    focus: int | None  # the layer in focus, None for the overview
    xmin: float
    xmax: float
    ymin: float
    ymax: float
    radius: float = RADIUS
    maps: tuple[Maps, ...] = ()
    windows: tuple[Window, ...] = ()

    @property
    def width_px(self) -> float:
        return round((self.xmax - self.xmin) * PX_PER_CM, 1)

    @property
    def height_px(self) -> float:
        return round((self.ymax - self.ymin) * PX_PER_CM, 1)

    def px(self, x: float) -> float:
        """SVG x of a point at x cm."""
        return round((x - self.xmin) * PX_PER_CM, 1)

    def py(self, y: float) -> float:
        """SVG y (downwards) of a point at y cm."""
        return round((self.ymax - y) * PX_PER_CM, 1)

    @property
    def r_px(self) -> float:
        return round(self.radius * PX_PER_CM, 1)


def shown_units(count: int, most: int = MAX_UNITS) -> list[int | None]:
    """The units a column of `count` draws, from the top, None where dots stand for the rest."""
    if count <= most:
        return list(range(1, count + 1))
    return [*range(1, most - 1), None, count]


def shown_layers(
    depth: int, window: tuple[int, ...] = (), most: int = MAX_COLUMNS, ends: int = 2
) -> list[int]:
    """The layers (0 the inputs) drawn of a `depth`-layer network: all, if at most `most`
    columns; else the first `ends`, the last `ends` and those in `window` and next to them."""
    if depth + 1 <= most:
        return list(range(depth + 1))
    keep = {*range(ends), *range(depth + 1 - ends, depth + 1)}
    for layer in window:
        keep.update({layer - 1, layer, layer + 1})
    return sorted(n for n in keep if 0 <= n <= depth)


Show = Callable[[Expr], str]


def overview(network: Network, show: Show) -> Diagram:
    """The whole network: a column per layer labelled a^(l), n^(l) = count where elided."""
    return _build(network, show, None, "index")


def focus(network: Network, layer: int, view: View, show: Show) -> Diagram:
    """The network around `layer`, highlighting what its backward equations in `view` use:
    the weights into it, the units they join, and the signal from layer + 1 (E at the output)."""
    if not 1 <= layer <= network.depth:
        raise ValueError(f"layer {layer} is not a layer of {network.name} (1 to {network.depth})")
    return _build(network, show, layer, view)


def map_shapes(network: Network) -> dict[int, tuple[int, ...]]:
    """The layers (0 the inputs) that hand on feature maps, with their shapes: (channels, rows,
    columns), or (channels, length) for sequences."""
    shapes: dict[int, tuple[int, ...]] = {}
    if network.input_shape:
        shapes[0] = tuple(network.input_shape)
    for number, layer in enumerate(network.layers, start=1):
        if len(layer.shape_out) > 1:
            shapes[number] = tuple(layer.shape_out)
    return shapes


def _plane(sizes: tuple[int, ...]) -> tuple[int, int]:
    """Rows and columns of a map's (or a window's) sizes: a sequence's length is one row."""
    return (sizes[0], sizes[1]) if len(sizes) > 1 else (1, sizes[0])


def _cell(shapes: dict[int, tuple[int, ...]]) -> float:
    """The side (cm) of a map's cell: MAP_CELL, or less so the largest map fits MAP_MAX."""
    longest = max((max(_plane(shape[1:])) for shape in shapes.values()), default=1)
    return min(MAP_CELL, MAP_MAX / longest)


def _map_size(rows: int, columns: int, cell: float) -> tuple[float, float]:
    """Width and height (cm) of one channel's square: in proportion to columns x rows."""
    longest = max(rows, columns)
    scale = min(max(longest * cell, MAP_MIN), MAP_MAX) / longest
    return max(columns * scale, MAP_THIN), max(rows * scale, MAP_THIN)


def _stack(layer: int, shape: tuple[int, ...], x: float, role: Role, cell: float) -> Maps:
    """The squares of a `shape` stack centred at (x, 0), the front one lower left."""
    channels, (rows, columns) = shape[0], _plane(shape[1:])
    width, height = _map_size(rows, columns, cell)
    drawn = min(channels, MAX_CHANNELS)
    left = x - (width + (drawn - 1) * CHANNEL_STEP) / 2
    bottom = -(height + (drawn - 1) * CHANNEL_STEP) / 2
    squares = []
    for behind in reversed(range(drawn)):
        x1, y1 = left + behind * CHANNEL_STEP, bottom + behind * CHANNEL_STEP
        squares.append(Square(x1, y1, x1 + width, y1 + height))
    return Maps(layer, shape, x, tuple(squares), role)


def _half_width(shape: tuple[int, ...] | None, cell: float) -> float:
    """Half the width (cm) a layer takes: a unit's radius, or half its stack of maps."""
    if shape is None:
        return RADIUS
    width = _map_size(*_plane(shape[1:]), cell)[0]
    return (width + (min(shape[0], MAX_CHANNELS) - 1) * CHANNEL_STEP) / 2


def _window(below: Maps, above: Maps, kernel: tuple[int, ...], role: Role) -> Window:
    """The window of `kernel` (rows, columns) at the top left of `below`'s front map and the
    top-left cell of `above`'s that it computes."""
    src, dst = below.front, above.front
    (rows, columns), (kh, kw) = _plane(below.shape[1:]), _plane(kernel)
    cell_w, cell_h = (src.x2 - src.x1) / columns, (src.y2 - src.y1) / rows
    window = Square(
        src.x1, src.y2 - min(kh, rows) * cell_h, src.x1 + min(kw, columns) * cell_w, src.y2
    )
    rows, columns = _plane(above.shape[1:])
    out_w, out_h = (dst.x2 - dst.x1) / columns, (dst.y2 - dst.y1) / rows
    cell = Square(dst.x1, dst.y2 - out_h, dst.x1 + out_w, dst.y2)
    funnel = (
        (window.x2, window.y2),
        (cell.x1, cell.y2),
        (cell.x1, cell.y1),
        (window.x2, window.y1),
    )
    return Window(window, cell, funnel, role)


def _build(network: Network, show: Show, at: int | None, view: View) -> Diagram:
    depth = network.depth
    sizes = network.sizes
    shapes = map_shapes(network)
    cell = _cell(shapes)
    most_units = MAX_UNITS if at is None else FOCUS_UNITS
    if at is None:
        layers = shown_layers(depth, (), MAX_COLUMNS)
    else:
        layers = shown_layers(depth, (at,), FOCUS_COLUMNS, ends=1)

    def gap(left: int | None, right: int | None) -> float:
        """From one column's x to the next (None: dots or E): COLUMN_GAP, or more to clear
        a stack of maps."""
        sides = [shapes.get(n) if n is not None else None for n in (left, right)]
        if all(shape is None for shape in sides):
            return COLUMN_GAP
        return max(COLUMN_GAP, _half_width(sides[0], cell) + _half_width(sides[1], cell) + MAP_GAP)

    # x of each drawn layer; a skipped run of layers takes one column of horizontal dots
    xs: dict[int, float] = {}
    dots: list[Dots] = []
    x = 0.0
    for number, layer in enumerate(layers):
        if number and layer != layers[number - 1] + 1:
            dots.append(Dots(x, 0.0, vertical=False))
            x += gap(None, layer)
        xs[layer] = x
        x += gap(layer, layers[number + 1] if number + 1 < len(layers) else None)
    loss_x = x

    def role(layer: int) -> Role:
        if at is None:
            return "plain"
        return "focus" if layer == at else "source" if layer == at - 1 else "plain"

    units: list[Unit] = []
    columns: dict[int, list[Unit]] = {}
    stacks: dict[int, Maps] = {}
    for layer in layers:
        if layer in shapes:
            stacks[layer] = _stack(layer, shapes[layer], xs[layer], role(layer), cell)
            columns[layer] = []
            continue
        slots = shown_units(sizes[layer], most_units)
        top = (len(slots) - 1) * UNIT_GAP / 2
        column: list[Unit] = []
        for slot, index in enumerate(slots):
            y = top - slot * UNIT_GAP
            if index is None:
                dots.append(Dots(xs[layer], y, vertical=True))
                continue
            column.append(Unit(layer, index, xs[layer], y, role(layer)))
        columns[layer] = column
        units.extend(column)

    def edge_role(into: int) -> Role:
        if at is None:
            return "plain"
        return "weight" if into == at else "signal" if into == at + 1 else "plain"

    lines: list[Line] = []
    windows: list[Window] = []
    for number, layer in enumerate(layers[1:], start=1):
        below = layers[number - 1]
        if below != layer - 1:
            continue  # elided layers between: no edges across the dots
        if layer in stacks and below in stacks:
            grid = network.layers[layer - 1].grid
            kernel = tuple(grid.kernel) if grid is not None else (1,)
            windows.append(_window(stacks[below], stacks[layer], kernel, edge_role(layer)))
            continue
        if below in stacks:  # maps into a flat column (flatten): one line
            start = max(square.x2 for square in stacks[below].squares)
            lines.append(Line(start, 0.0, xs[layer], 0.0, edge_role(layer)))
            continue
        for dst in columns[layer]:
            for src in columns[below]:
                lines.append(Line(src.x, src.y, dst.x, dst.y, edge_role(layer)))
    loss_role: Role = "signal" if at == depth else "plain"
    for src in columns[depth]:
        lines.append(Line(src.x, src.y, loss_x, 0.0, loss_role))

    flat = [sizes[n] for n in layers if n not in stacks]
    height = max(len(shown_units(size, most_units)) for size in flat)
    top = (height - 1) * UNIT_GAP / 2 + RADIUS
    for stack in stacks.values():
        top = max(top, max(square.y2 for square in stack.squares))
    labels: list[Label] = []
    if at is None:
        for layer in layers:
            labels.append(Label(xs[layer], -top - 0.1, show(nt.Act(Integer(layer))), "north"))
            if layer in stacks:
                labels.append(Label(xs[layer], top + 0.1, show(Times(*shapes[layer])), "south"))
            elif sizes[layer] > most_units:
                count = Eq(nt.Width(Integer(layer)), Integer(sizes[layer]), evaluate=False)
                labels.append(Label(xs[layer], top + 0.1, show(count), "south"))
    else:
        labels.extend(_focus_labels(network, at, view, xs, loss_x, top, show))
        # the signal's arrow, under the columns, from layer at + 1 (or E) back to layer at
        start = loss_x if at == depth else xs[at + 1]
        y = -top - 0.25
        lines.append(Line(start - RADIUS, y, xs[at] + RADIUS, y, "signal", arrow=True))
    for stack in stacks.values():
        if stack.shape[0] > MAX_CHANNELS:
            front = stack.front
            middle = ((front.x1 + front.x2) / 2, (front.y1 + front.y2) / 2 + 0.15)
            labels.append(Label(*middle, show(Times(stack.shape[0])), "north"))
    left = -_half_width(shapes.get(layers[0]), cell)
    return Diagram(
        units=tuple(units),
        lines=tuple(lines),
        dots=tuple(dots),
        labels=tuple(labels),
        loss=(loss_x, 0.0),
        loss_role=loss_role,
        focus=at,
        xmin=left - MARGIN - 0.4,
        xmax=loss_x + RADIUS + MARGIN + 0.4,
        ymin=-top - LABEL_ROOM - (0.3 if at is not None else 0.0),
        ymax=top + LABEL_ROOM,
        maps=tuple(stacks.values()),
        windows=tuple(windows),
    )


def _focus_labels(
    network: Network,
    at: int,
    view: View,
    xs: dict[int, float],
    loss_x: float,
    top: float,
    show: Show,
) -> list[Label]:
    """The lecture's names of what layer `at`'s equations use, in `view`'s notation: a_k^(l-1)
    over layer l-1, z_j^(l) over layer l, w_jk^(l) on the weights, the signal under its arrow.
    Around feature maps the names go without indices, as the layer's equations index maps by
    channel, row and column; a pooling or flatten layer has no weights and hands on a^(l)."""
    depth = network.depth
    layer = network.layers[at - 1]
    here, below = Integer(at), Integer(at - 1)
    weight: Expr | None
    if view == "index" and layer.kind == "dense":
        source, into, weight = nt.Act(below, nt.k), nt.Pre(here, nt.j), nt.Weight(here, nt.j, nt.k)
        signal: Expr = nt.Partial(nt.E, nt.Act(here, nt.j))
    else:
        source, into = nt.Act(below), nt.Pre(here)
        weight = nt.Weight(here) if view == "chain" else nt.WeightMatrix(here)
        if not layer.has_parameters:
            into, weight = nt.Act(here), None
        signal = nt.Partial(nt.E, nt.Act(here))
        if view == "vector" and at < depth and network.layers[at].has_parameters:
            signal = nt.Delta(Integer(at + 1))
    y = top + 0.1
    labels = [
        Label(xs[at - 1], y, show(source), "south", "source"),
        Label(xs[at], y, show(into), "south", "focus"),
    ]
    if weight is not None:
        labels.append(Label((xs[at - 1] + xs[at]) / 2, y, show(weight), "south", "weight"))
    start = loss_x if at == depth else xs[at + 1]
    labels.append(Label((start + xs[at]) / 2, -top - 0.35, show(signal), "north", "signal"))
    return labels
