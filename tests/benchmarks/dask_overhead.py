"""What a training step of the array-API module costs on Dask, beside NumPy: not a test.

    python -m tests.benchmarks.dask_overhead [--steps 20]

The xor network and the wide 784-256-128-10 network, minibatches of 256 rows from 8,192 rows
chunked by 2,048, on Dask's threaded scheduler and on a LocalCluster of two worker processes,
against the NumPy module's sgd_step on the same minibatches; prints the median seconds per
step and the overhead per step (Dask minus NumPy). The README's Dask figure comes from here.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from symbackprop import Network, load_spec
from symbackprop.codegen import generate, load_module

from . import nets

WIDE = nets.WIDE.network()  # the benchmarks' wide 784-256-128-10 sigmoid network


def _median_step(step, steps: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(steps):
        begin = time.perf_counter()
        step()
        times.append(time.perf_counter() - begin)
    return statistics.median(times)


def measure(network: Network, steps: int) -> dict[str, float]:
    """Median seconds per step of one network: NumPy, Dask threads, Dask on two processes."""
    import dask
    import dask.array as da
    import distributed

    reference = load_module(generate(network).source, network.name)
    module = load_module(generate(network, backend="array-api").source, network.name)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8192, network.sizes[0]))
    Y = rng.uniform(size=(8192, network.sizes[-1]))
    params = reference.init_params(0)
    rows = np.arange(256)
    figures = {
        "numpy": _median_step(lambda: reference.sgd_step(params, X[rows], Y[rows], 1e-3), steps)
    }

    def dask_step() -> None:
        inputs, targets = state["inputs"], state["targets"]
        batch = (da.take(inputs, index, axis=0), da.take(targets, index, axis=0))
        stepped = module.sgd_step(state["params"], *batch, 1e-3)
        state["params"], value = module._persisted(stepped)
        float(value)

    def start() -> None:  # the data where the scheduler keeps it, not inside every graph
        state["inputs"], state["targets"] = dask.persist(
            da.from_array(X, chunks=2048), da.from_array(Y, chunks=2048)
        )
        state["params"] = {k: da.from_array(v) for k, v in params.items()}

    index = da.from_array(rows)
    state: dict[str, Any] = {}
    with dask.config.set(scheduler="threads"):
        start()
        figures["dask threads"] = _median_step(dask_step, steps)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        start()
        figures["dask 2 processes"] = _median_step(dask_step, steps)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    options = parser.parse_args()
    for network in (load_spec("xor"), WIDE):
        figures = measure(network, options.steps)
        line = "  ".join(f"{k} {v * 1e3:8.2f} ms" for k, v in figures.items())
        print(f"{network.name:5s} batch 256: {line}")


if __name__ == "__main__":
    main()
