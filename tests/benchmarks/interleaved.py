"""Interleaved timing of one SGD step: generated module vs hand-written NumPy, same process.

    python -m tests.benchmarks.interleaved            # prints the README table

Each sample times a few consecutive steps of one implementation; implementations take turns
sample by sample (rotating the order), with a short pause between samples so OpenBLAS threads
left spinning by one do not slow the next. Medians over the samples; ratios to hand-optimised.
"""

from __future__ import annotations

import itertools
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from symbackprop.codegen import generate
from symbackprop.gradcheck import load_module

from .handopt import SIZES, HandOptimised, naive_step, wide_network

Step = Callable[[dict[str, np.ndarray], np.ndarray, np.ndarray, float], float]


def implementations() -> dict[str, Step]:
    module = load_module(generate(wide_network()).source, "wide")
    return {
        "generated": module.sgd_step,
        "hand_optimised": HandOptimised(SIZES).step,
        "naive": naive_step,
    }


def measure(batch: int, dtype: type, samples: int = 41) -> dict[str, float]:
    """Median seconds per step of each implementation at one shape."""
    impls = implementations()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, SIZES[0])).astype(dtype)
    Y = rng.uniform(size=(batch, SIZES[-1])).astype(dtype)
    state = {}
    for name in impls:
        params = {}
        for layer, (fan_in, units) in enumerate(itertools.pairwise(SIZES), start=1):
            scale = np.sqrt(2.0 / (fan_in + units))
            params[f"W{layer}"] = (scale * rng.normal(size=(units, fan_in))).astype(dtype)
            params[f"b{layer}"] = np.zeros(units, dtype)
        state[name] = params
    steps = max(1, int(20 * 32 / max(batch, 32)))
    for name, step in impls.items():
        for _ in range(3):
            step(state[name], X, Y, 1e-4)
    times: dict[str, list[float]] = {name: [] for name in impls}
    order = list(impls)
    for sample in range(samples):
        rotated = order[sample % len(order) :] + order[: sample % len(order)]
        for name in rotated:
            time.sleep(0.03)
            start = time.perf_counter()
            for _ in range(steps):
                impls[name](state[name], X, Y, 1e-4)
            times[name].append((time.perf_counter() - start) / steps)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "OpenBLAS default")
    print(f"layers {SIZES}, sigmoid, squared_error; {platform.processor() or platform.machine()},")
    print(f"{os.cpu_count()} CPUs, threads: {threads}; NumPy {np.__version__}")
    print()
    print("| batch | dtype | generated | hand-optimised | naive | generated / hand-optimised |")
    print("|---|---|---|---|---|---|")
    for dtype in (np.float64, np.float32):
        for batch in (1, 32, 256, 2048):
            result = measure(batch, dtype, samples=41 if batch < 2048 else 15)
            cells = [f"{result[k] * 1e6:,.0f} µs" for k in ("generated", "hand_optimised", "naive")]
            ratio = result["generated"] / result["hand_optimised"]
            print(f"| {batch} | {np.dtype(dtype).name} | {' | '.join(cells)} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
