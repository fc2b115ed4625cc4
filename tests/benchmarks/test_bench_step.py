"""One SGD step of the generated module against hand-written NumPy, same process, same data.

Run: pytest tests/benchmarks/test_bench_step.py -m bench --benchmark-group-by=param
Layers [784, 256, 128, 10], sigmoid, squared_error; float64 and float32; batch 1..2048.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from symbackprop.codegen import generate
from symbackprop.gradcheck import load_module

from .handopt import SIZES, HandOptimised, naive_step, wide_network

pytestmark = pytest.mark.bench
MODULE = load_module(generate(wide_network()).source, "wide")
HAND = HandOptimised(SIZES)
IMPLEMENTATIONS = {
    "generated": MODULE.sgd_step,
    "hand_optimised": HAND.step,
    "naive": naive_step,
}


def _data(batch: int, dtype: type) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, SIZES[0])).astype(dtype)
    Y = rng.uniform(size=(batch, SIZES[-1])).astype(dtype)
    return MODULE.init_params(seed=0, dtype=dtype), X, Y


def test_implementations_agree() -> None:
    for batch in (1, 32):
        results = []
        for step in IMPLEMENTATIONS.values():
            params, X, Y = _data(batch, np.float64)
            value = step(params, X, Y, 0.1)
            results.append((value, params))
        for value, params in results[1:]:
            assert value == pytest.approx(results[0][0], rel=1e-12)
            for key in params:
                np.testing.assert_allclose(params[key], results[0][1][key], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("batch", [1, 32, 256, 2048])
@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_step(benchmark, impl: str, batch: int, dtype: type) -> None:  # type: ignore[no-untyped-def]
    params, X, Y = _data(batch, dtype)
    step = IMPLEMENTATIONS[impl]
    time.sleep(0.15)  # let OpenBLAS threads of the previous benchmark go idle
    benchmark.group = f"batch {batch} {np.dtype(dtype).name}"
    benchmark.pedantic(step, args=(params, X, Y, 1e-3), rounds=200, warmup_rounds=10)
