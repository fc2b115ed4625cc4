"""Derivation cost against depth and width (cold caches each round).

Run: pytest tests/benchmarks -m bench --benchmark-columns=median,iqr,rounds
The claim measured: time grows linearly with depth and does not depend on width.
"""

from __future__ import annotations

import pytest

from symbackprop import Layer, Network, activation, derive, loss
from symbackprop.derive import clear_caches
from symbackprop.render import render

pytestmark = pytest.mark.bench


def _net(depth: int, width: int) -> Network:
    hidden = [Layer(width, activation("tanh" if n % 2 else "sigmoid")) for n in range(depth - 1)]
    return Network(
        name="bench",
        inputs=width,
        layers=(*hidden, Layer(width, activation("sigmoid"))),
        loss=loss("squared_error"),
    )


def _cold_derive(net: Network) -> None:
    clear_caches()
    derive(net)


@pytest.mark.parametrize("depth", [2, 8, 32, 128])
def test_derive_against_depth(benchmark, depth: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "derive vs depth (width 4)"
    benchmark.pedantic(_cold_derive, args=(_net(depth, 4),), rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("width", [2, 64, 4096])
def test_derive_against_width(benchmark, width: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "derive vs width (depth 3)"
    benchmark.pedantic(_cold_derive, args=(_net(3, width),), rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("depth", [2, 32, 128])
def test_render_latex_against_depth(benchmark, depth: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "derive + LaTeX vs depth (width 4)"

    def run() -> None:
        clear_caches()
        render(derive(_net(depth, 4)), "latex")

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("depth", [2, 8, 32, 128])
def test_derive_warm_against_depth(benchmark, depth: int) -> None:  # type: ignore[no-untyped-def]
    """Rules and templates already derived: what each further layer costs."""
    benchmark.group = "derive vs depth, rules cached (width 4)"
    net = _net(depth, 4)
    derive(net)
    benchmark.pedantic(derive, args=(net,), rounds=5, warmup_rounds=1)
