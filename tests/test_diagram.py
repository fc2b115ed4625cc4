"""The network diagram's model: what is drawn where, elided and highlighted, from the IR."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest

from symbackprop import derive, load_spec
from symbackprop.diagram import (
    COLUMN_GAP,
    MAP_MAX,
    MAP_MIN,
    MAX_CHANNELS,
    MAX_COLUMNS,
    MAX_UNITS,
    RADIUS,
    Diagram,
    Window,
    focus,
    overview,
    shown_layers,
    shown_units,
)
from symbackprop.printing.latex import latex
from symbackprop.printing.mathml import mathml
from symbackprop.render import render
from symbackprop.spec import load_spec_text

from .test_latex import BIG, deep_spec


def _inside(d: Diagram) -> bool:
    points = [(u.x, u.y) for u in d.units] + [(p.x, p.y) for p in d.labels]
    points += [(e.x1, e.y1) for e in d.lines] + [(e.x2, e.y2) for e in d.lines]
    return all(d.xmin <= x <= d.xmax and d.ymin <= y <= d.ymax for x, y in points)


def test_wide_columns_show_the_first_units_dots_and_the_last() -> None:
    assert shown_units(3) == [1, 2, 3]
    assert shown_units(MAX_UNITS) == list(range(1, MAX_UNITS + 1))
    assert shown_units(1000) == [1, 2, 3, 4, None, 1000]
    d = overview(load_spec_text(BIG["wide"]), latex)
    per_column = {u.layer for u in d.units}
    assert per_column == {0, 1, 2, 3}
    assert max(sum(u.layer == n for u in d.units) for n in per_column) == MAX_UNITS - 1
    assert sum(dot.vertical for dot in d.dots) == 2  # the two 1,000-unit layers
    assert "n^{(1)} = 1000" in [label.text for label in d.labels]
    assert _inside(d)


def test_deep_networks_elide_middle_layers() -> None:
    assert shown_layers(3) == [0, 1, 2, 3]
    assert shown_layers(20) == [0, 1, 19, 20]
    assert shown_layers(20, (10,), 5, ends=1) == [0, 9, 10, 11, 20]
    d = overview(load_spec_text(BIG["deep"]), latex)
    assert len({u.layer for u in d.units}) <= MAX_COLUMNS
    assert [dot.vertical for dot in d.dots] == [False]
    # no edge crosses the elided layers
    xs = sorted({u.x for u in d.units})
    assert all(abs(e.x2 - e.x1) < 2.0 for e in d.lines if not e.arrow)
    assert len(xs) == 4 and _inside(d)


def test_a_layers_focus_highlights_what_its_equations_use() -> None:
    net = load_spec("seed_chain")  # 1-1-1-1
    d = focus(net, 2, "index", latex)
    weights = [e for e in d.lines if e.role == "weight"]
    signal = [e for e in d.lines if e.role == "signal"]
    x = {u.layer: u.x for u in d.units}
    assert weights and all((e.x1, e.x2) == (x[1], x[2]) for e in weights)
    assert any(e.arrow for e in signal)
    assert all((e.x1, e.x2) == (x[2], x[3]) for e in signal if not e.arrow)
    roles = {u.layer: u.role for u in d.units}
    assert roles == {0: "plain", 1: "source", 2: "focus", 3: "plain"}
    labels = {label.role: label.text for label in d.labels}
    assert labels == {
        "source": "a_{k}^{(1)}",
        "focus": "z_{j}^{(2)}",
        "weight": "w_{jk}^{(2)}",
        "signal": r"\frac{\partial E}{\partial a_{j}^{(2)}}",
    }
    assert focus(net, 2, "vector", latex).labels[-1].text == r"\delta^{(3)}"
    assert focus(net, 2, "chain", latex).labels[2].text == "w^{(2)}"
    assert _inside(d)


def test_the_output_layer_gets_its_signal_from_the_loss() -> None:
    net = load_spec("classifier")
    d = focus(net, net.depth, "vector", latex)
    assert d.loss_role == "signal"
    into_loss = [e for e in d.lines if e.x2 == d.loss[0] and not e.arrow]
    assert into_loss and all(e.role == "signal" for e in into_loss)
    assert overview(net, latex).loss_role == "plain"
    with pytest.raises(ValueError, match="not a layer"):
        focus(net, 3, "index", latex)


@pytest.mark.parametrize("name", ["seed_chain", "classifier"])
def test_every_layer_frame_of_a_deck_has_one_diagram(name: str) -> None:
    derivation = derive(load_spec(name))
    deck = render(derivation, "beamer")
    frames = re.split(r"\\begin\{frame\}", deck)
    pictures = deck.count(r"\begin{tikzpicture}")
    assert pictures == 1 + len(derivation.views) * derivation.network.depth
    assert r"\begin{tikzpicture}" in frames[1]  # the title frame: the whole network
    assert render(derivation, "latex").count(r"\begin{tikzpicture}") == 1


def test_deep_focus_keeps_the_window_around_the_layer() -> None:
    net = load_spec_text(deep_spec(20))
    d = focus(net, 10, "index", latex)
    assert sorted({u.layer for u in d.units}) == [0, 9, 10, 11, 20]
    assert _inside(d)


def _maps_inside(d: Diagram) -> bool:
    corners = [p for m in d.maps for s in m.squares for p in s.corners]
    corners += [p for w in d.windows for p in (*w.funnel, *w.window.corners, *w.cell.corners)]
    return _inside(d) and all(d.xmin <= x <= d.xmax and d.ymin <= y <= d.ymax for x, y in corners)


LENET = """
name = "lenet_like"
inputs = [1, 28, 28]
loss = "cross_entropy"
[[layers]]
kind = "conv2d"
filters = 6
kernel = 5
padding = "same"
activation = "relu"
[[layers]]
kind = "avgpool2d"
size = 2
[[layers]]
kind = "conv2d"
filters = 3
kernel = [3, 5]
stride = 2
activation = "tanh"
[[layers]]
kind = "flatten"
[[layers]]
units = 10
activation = "softmax"
"""


def test_a_cnns_feature_maps_are_stacks_of_squares() -> None:
    net = load_spec("digits_cnn")  # 1x8x8 -> conv 8x6x6 -> maxpool 8x3x3 -> flatten 72 -> 10
    d = overview(net, latex)
    assert [(m.layer, m.shape) for m in d.maps] == [(0, (1, 8, 8)), (1, (8, 6, 6)), (2, (8, 3, 3))]
    assert [len(m.squares) for m in d.maps] == [1, MAX_CHANNELS, MAX_CHANNELS]
    assert {u.layer for u in d.units} == {3, 4}  # flatten and dense stay columns of units
    texts = [label.text for label in d.labels]
    assert {r"1 \times 8 \times 8", r"8 \times 6 \times 6", r"8 \times 3 \times 3"} <= set(texts)
    assert texts.count(r"\times 8") == 2  # the channels not drawn
    assert "n^{(3)} = 72" in texts and "a^{(1)}" in texts
    # squares in proportion to rows x columns, clamped; the front one lower left
    sides = [m.front.x2 - m.front.x1 for m in d.maps]
    assert sides[0] > sides[1] > sides[2] == pytest.approx(MAP_MIN)
    for m in d.maps:
        assert all(s.x1 > m.front.x1 and s.y1 > m.front.y1 for s in m.squares[:-1])
    # maps to maps: one window each (conv 3x3, pool 2x2); maps to flatten: one line
    assert len(d.windows) == 2
    conv = d.windows[0]
    assert conv.window.x2 - conv.window.x1 == pytest.approx(3 / 8 * sides[0])
    flatten_x = {u.x for u in d.units if u.layer == 3}
    into_flatten = [e for e in d.lines if e.x2 in flatten_x and e.x1 < min(flatten_x)]
    right = max(sq.x2 for sq in d.maps[2].squares)
    assert [(e.x1, e.y1, e.y2) for e in into_flatten if e.x1 == right] == [(right, 0.0, 0.0)]
    assert len([e for e in d.lines if e.x1 < min(flatten_x)]) == 1
    assert _maps_inside(d)
    # no all-to-all edges left from the 288 "units" of a feature map
    assert len(d.lines) == 1 + 5 * 5 + 5  # columns of 72 and 10 show 5 units each


def test_a_cnns_mathml_labels_and_a_bigger_network() -> None:
    d = overview(load_spec_text(LENET), mathml)
    assert [m.shape for m in d.maps] == [(1, 28, 28), (6, 28, 28), (6, 14, 14), (3, 6, 5)]
    assert "<mn>6</mn><mo>&#215;</mo><mn>28</mn>" in d.labels[1].text + d.labels[3].text
    big = d.maps[1].front
    assert big.x2 - big.x1 == pytest.approx(MAP_MAX)
    half = d.maps[2].front  # 14x14: half the side of 28x28, the network's largest
    assert half.x2 - half.x1 == pytest.approx(MAP_MAX / 2)
    small = d.maps[3].front  # 6 rows, 5 columns: narrower than tall
    assert small.x2 - small.x1 < small.y2 - small.y1
    assert [len(m.squares) for m in d.maps] == [1, MAX_CHANNELS, MAX_CHANNELS, 3]
    assert sum(label.text.count("&#215;") == 1 for label in d.labels) == 2  # ×6 twice, not ×3
    # stacks do not overlap their neighbours
    boxes = [(min(s.x1 for s in m.squares), max(s.x2 for s in m.squares)) for m in d.maps]
    assert all(right < left for (_, right), (left, _) in pairwise(boxes))
    assert _maps_inside(d)
    assert _maps_inside(focus(load_spec_text(LENET), 3, "vector", mathml))


@pytest.mark.parametrize(
    ("layer", "labels"),
    [
        (1, {"source": "a^{(0)}", "weight": "W^{(1)}", "focus": "z^{(1)}"}),
        (2, {"source": "a^{(1)}", "focus": "a^{(2)}"}),  # pooling: no weights
        (3, {"source": "a^{(2)}", "focus": "a^{(3)}"}),
        (4, {"source": "a_{k}^{(3)}", "weight": "w_{jk}^{(4)}", "focus": "z_{j}^{(4)}"}),
    ],
)
def test_a_cnn_layers_focus_highlights_maps_windows_and_signal(
    layer: int, labels: dict[str, str]
) -> None:
    net = load_spec("digits_cnn")
    d = focus(net, layer, "index", latex)
    roles = {m.layer: m.role for m in d.maps} | {u.layer: u.role for u in d.units}
    assert roles == {
        n: "focus" if n == layer else "source" if n == layer - 1 else "plain" for n in range(5)
    }
    into = {1: "window", 2: "window", 3: "line", 4: "edges"}
    weight = [w for w in d.windows if w.role == "weight"] + [
        e for e in d.lines if e.role == "weight"
    ]
    assert weight and all(isinstance(w, Window) == (into[layer] == "window") for w in weight)
    if into[layer] == "line":
        assert len(weight) == 1
    signal = [w for w in d.windows if w.role == "signal"] + [
        e for e in d.lines if e.role == "signal" and not e.arrow
    ]
    assert signal or layer == net.depth
    assert [e.arrow for e in d.lines if e.role == "signal"].count(True) == 1
    assert (d.loss_role == "signal") == (layer == net.depth)
    shown = {label.role: label.text for label in d.labels if label.role != "plain"}
    assert {k: v for k, v in shown.items() if k != "signal"} == labels
    assert "signal" in shown
    assert _maps_inside(d)


def test_vector_view_signal_into_a_layer_below_pooling_is_de_da() -> None:
    net = load_spec("digits_cnn")

    def signal(layer: int) -> str:
        d = focus(net, layer, "vector", latex)
        return next(label.text for label in d.labels if label.role == "signal")

    assert signal(1) == r"\frac{\partial E}{\partial a^{(1)}}"  # no delta^(2): pooling has no z
    assert signal(3) == r"\delta^{(4)}"


@pytest.mark.parametrize("name", ["seed_chain", "classifier"])
def test_dense_networks_draw_no_maps(name: str) -> None:
    net = load_spec(name)
    for d in (overview(net, latex), focus(net, 1, "vector", mathml)):
        assert d.maps == () and d.windows == ()
        assert d.xmin == -RADIUS - 0.2 - 0.4
        xs = sorted({u.x for u in d.units})
        assert all(b - a == pytest.approx(COLUMN_GAP) for a, b in pairwise(xs))
