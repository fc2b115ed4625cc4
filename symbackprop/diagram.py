"""A picture of the network, computed from its layer sizes: where each unit, weight and label goes.

`overview` draws the whole network (layers as columns of units, weights as edges, the loss E at
the right); `focus` draws it around one layer for that layer's backward equations, with what
they use highlighted: the weights of layer l, the units they join (a_k^(l-1) and z_j^(l)) and
the error signal coming back from layer l+1 (or from E at the output).

The model holds geometry (centimetres, y up) and printed labels only; the templates turn it into
TikZ (LaTeX, beamer) or SVG (HTML) without computing anything. Columns with many units show the
first few, dots, and the last; deep networks show the first and last layers and the window
around the layer in focus, with dots for the layers between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sympy import Eq, Expr, Integer

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


def _build(network: Network, show: Show, at: int | None, view: View) -> Diagram:
    depth = network.depth
    sizes = network.sizes
    most_units = MAX_UNITS if at is None else FOCUS_UNITS
    if at is None:
        layers = shown_layers(depth, (), MAX_COLUMNS)
    else:
        layers = shown_layers(depth, (at,), FOCUS_COLUMNS, ends=1)

    # x of each drawn layer; a skipped run of layers takes one column of horizontal dots
    xs: dict[int, float] = {}
    dots: list[Dots] = []
    x = 0.0
    for number, layer in enumerate(layers):
        if number and layer != layers[number - 1] + 1:
            dots.append(Dots(x, 0.0, vertical=False))
            x += COLUMN_GAP
        xs[layer] = x
        x += COLUMN_GAP
    loss_x = x

    def role(layer: int) -> Role:
        if at is None:
            return "plain"
        return "focus" if layer == at else "source" if layer == at - 1 else "plain"

    units: list[Unit] = []
    columns: dict[int, list[Unit]] = {}
    for layer in layers:
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
    for number, layer in enumerate(layers[1:], start=1):
        below = layers[number - 1]
        if below != layer - 1:
            continue  # elided layers between: no edges across the dots
        for dst in columns[layer]:
            for src in columns[below]:
                lines.append(Line(src.x, src.y, dst.x, dst.y, edge_role(layer)))
    loss_role: Role = "signal" if at == depth else "plain"
    for src in columns[depth]:
        lines.append(Line(src.x, src.y, loss_x, 0.0, loss_role))

    height = max(len(shown_units(size, most_units)) for size in (sizes[n] for n in layers))
    top = (height - 1) * UNIT_GAP / 2 + RADIUS
    labels: list[Label] = []
    if at is None:
        for layer in layers:
            labels.append(Label(xs[layer], -top - 0.1, show(nt.Act(Integer(layer))), "north"))
            if sizes[layer] > most_units:
                count = Eq(nt.Width(Integer(layer)), Integer(sizes[layer]), evaluate=False)
                labels.append(Label(xs[layer], top + 0.1, show(count), "south"))
    else:
        labels.extend(_focus_labels(at, depth, view, xs, columns, loss_x, top, show))
        # the signal's arrow, under the columns, from layer at + 1 (or E) back to layer at
        start = loss_x if at == depth else xs[at + 1]
        y = -top - 0.25
        lines.append(Line(start - RADIUS, y, xs[at] + RADIUS, y, "signal", arrow=True))
    return Diagram(
        units=tuple(units),
        lines=tuple(lines),
        dots=tuple(dots),
        labels=tuple(labels),
        loss=(loss_x, 0.0),
        loss_role=loss_role,
        focus=at,
        xmin=-RADIUS - MARGIN - 0.4,
        xmax=loss_x + RADIUS + MARGIN + 0.4,
        ymin=-top - LABEL_ROOM - (0.3 if at is not None else 0.0),
        ymax=top + LABEL_ROOM,
    )


def _focus_labels(
    at: int,
    depth: int,
    view: View,
    xs: dict[int, float],
    columns: dict[int, list[Unit]],
    loss_x: float,
    top: float,
    show: Show,
) -> list[Label]:
    """The lecture's names of what layer `at`'s equations use, in `view`'s notation: a_k^(l-1)
    over layer l-1, z_j^(l) over layer l, w_jk^(l) on the weights, the signal under its arrow."""
    here, below = Integer(at), Integer(at - 1)
    if view == "index":
        source, into, weight = nt.Act(below, nt.k), nt.Pre(here, nt.j), nt.Weight(here, nt.j, nt.k)
        signal: Expr = nt.Partial(nt.E, nt.Act(here, nt.j))
    else:
        source, into = nt.Act(below), nt.Pre(here)
        weight = nt.Weight(here) if view == "chain" else nt.WeightMatrix(here)
        signal = nt.Partial(nt.E, nt.Act(here))
        if view == "vector" and at < depth:
            signal = nt.Delta(Integer(at + 1))
    y = top + 0.1
    labels = [
        Label(xs[at - 1], y, show(source), "south", "source"),
        Label(xs[at], y, show(into), "south", "focus"),
        Label((xs[at - 1] + xs[at]) / 2, y, show(weight), "south", "weight"),
    ]
    start = loss_x if at == depth else xs[at + 1]
    labels.append(Label((start + xs[at]) / 2, -top - 0.35, show(signal), "north", "signal"))
    return labels
