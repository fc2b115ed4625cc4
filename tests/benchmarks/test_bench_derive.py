"""Derivation and generation cost against depth and width; `check` against parameter count.

Run: pytest tests/benchmarks/test_bench_derive.py -m bench --benchmark-columns=median,iqr,rounds
The claims measured: derivation time grows linearly with depth and does not depend on width;
`check` compares every entry up to 10^4 parameters and then costs the same however many.
"""

from __future__ import annotations

import itertools

import pytest

from symbackprop import Layer, Network, activation, derive, loss
from symbackprop.codegen import generate
from symbackprop.derive import clear_caches
from symbackprop.gradcheck import gradcheck
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


@pytest.mark.parametrize("depth", [2, 8, 32, 128])
def test_generate_against_depth(benchmark, depth: int) -> None:  # type: ignore[no-untyped-def]
    """Generation alone (templates and printers) from an existing derivation."""
    benchmark.group = "generate vs depth (width 4), derivation given"
    derivation = derive(_net(depth, 4))
    benchmark.pedantic(generate, args=(derivation,), rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("width", [2, 64, 4096])
def test_generate_against_width(benchmark, width: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = "generate vs width (depth 3), derivation given"
    derivation = derive(_net(3, width))
    benchmark.pedantic(generate, args=(derivation,), rounds=3, warmup_rounds=1)


# hidden width w of an 8-w-w-1 tanh network has w^2 + 11w + 1 parameters: 103 .. 998,971,
# with 9,871 and 10,071 on either side of DIRECTIONAL_ABOVE
CHECK_WIDTHS = (6, 26, 94, 95, 311, 994)
CHECK_IDS = [f"{w * w + 11 * w + 1:,} parameters" for w in CHECK_WIDTHS]


@pytest.mark.parametrize("width", CHECK_WIDTHS, ids=CHECK_IDS)
def test_check_against_parameters(benchmark, width: int) -> None:  # type: ignore[no-untyped-def]
    """Entry-by-entry differences up to DIRECTIONAL_ABOVE parameters, then random directions."""
    net = Network(
        name="bench",
        inputs=8,
        layers=(
            Layer(width, activation("tanh")),
            Layer(width, activation("tanh")),
            Layer(1, activation("identity")),
        ),
        loss=loss("squared_error"),
    )
    derivation = derive(net)
    benchmark.group = "check vs parameter count"
    assert sum(units * (fan_in + 1) for fan_in, units in itertools.pairwise(net.sizes)) == (
        width * width + 11 * width + 1
    )
    result = benchmark.pedantic(gradcheck, args=(derivation,), rounds=3, warmup_rounds=0)
    assert result.ok
