"""One full training step of every implementation, with pytest-benchmark, in this process.

Run: python -m pytest tests/benchmarks/test_bench_step.py -m bench --benchmark-group-by=group
The README's figures come from `python -m tests.benchmarks.compare` instead (a process per
implementation, interleaved); these are the same steps one after another. The agreement test
is not a benchmark and runs in the default suite: every implementation's step must imply the
generated module's gradients before any of them is worth timing.
"""

from __future__ import annotations

import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from symbackprop.codegen import generate

from .handopt import naive_step
from .impls import IMPLEMENTATIONS, available, make
from .nets import NETS, SHAPES, problem

DTYPES = {"float64": np.float64, "float32": np.float32}


@cache
def _module(net_name: str, folder: Path) -> str:
    path = folder / f"bench_{net_name}.py"
    path.write_text(generate(NETS[net_name].network()).source, encoding="utf-8")
    return str(path)


def _skip_missing(impl: str) -> None:
    if not available(impl):
        pytest.skip(f"{impl} needs an optional extra: pip install -e '.[bench]'")


BASELINES = [i for i in IMPLEMENTATIONS if i not in ("gemm_only", "generated")]


@pytest.mark.parametrize("impl", BASELINES)
@pytest.mark.parametrize("net_name", list(NETS))
def test_every_step_implies_the_generated_gradients(
    impl: str, net_name: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    _skip_missing(impl)
    module = _module(net_name, tmp_path_factory.getbasetemp())
    net = NETS[net_name]
    params, X, Y = problem(net, 5, np.float64, seed=3)
    expected = make("generated", net, params, X, Y, module)
    step = make(impl, net, params, X, Y, module)
    lr = 0.5
    assert step.step(lr) == pytest.approx(expected.step(lr), rel=1e-12)
    # the generated module's readable gradients(), cross-checked here by central differences
    # of the hand-written naive loss at a few entries of every array
    rng = np.random.default_rng(0)
    for key, moved in step.params().items():
        np.testing.assert_allclose(moved, expected.params()[key], rtol=1e-10, atol=1e-13)
        flat = rng.choice(moved.size, size=min(moved.size, 8), replace=False)
        for index in zip(*np.unravel_index(flat, moved.shape), strict=True):
            implied = (params[key][index] - moved[index]) / lr
            assert implied == pytest.approx(_numeric(net_name, key, index), rel=1e-6, abs=1e-9)


def _numeric(net_name: str, key: str, index: tuple[int, ...]) -> float:
    """The central difference of the hand-written naive loss in one parameter."""
    net = NETS[net_name]
    values = []
    for sign in (1, -1):
        params, X, Y = problem(net, 5, np.float64, seed=3)
        params[key][index] += sign * 1e-6
        values.append(naive_step(net, params, X, Y, 0.0))
    return (values[0] - values[1]) / 2e-6


@pytest.mark.bench
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("shape", [f"{net}:{batch}" for net, batch in SHAPES])
@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_step(benchmark, impl: str, shape: str, dtype: str, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    _skip_missing(impl)
    net_name, batch = shape.split(":")
    net = NETS[net_name]
    params, X, Y = problem(net, int(batch), DTYPES[dtype])
    step = make(impl, net, params, X, Y, _module(net_name, tmp_path_factory.getbasetemp()))
    for _ in range(5):
        step.step(0.0)  # warm-up, and the compilation of torch.compile and jax.jit
    time.sleep(0.15)  # let BLAS threads left spinning by the previous benchmark go idle
    benchmark.group = f"{shape} {dtype}"
    benchmark.pedantic(step.step, args=(1e-3,), rounds=50, warmup_rounds=5)
