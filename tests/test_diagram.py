"""The network diagram's model: what is drawn where, elided and highlighted, from the IR."""

from __future__ import annotations

import re

import pytest

from symbackprop import derive, load_spec
from symbackprop.diagram import (
    MAX_COLUMNS,
    MAX_UNITS,
    Diagram,
    focus,
    overview,
    shown_layers,
    shown_units,
)
from symbackprop.printing.latex import latex
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
