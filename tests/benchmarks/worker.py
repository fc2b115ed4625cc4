"""One implementation in its own process, driven by `compare` over JSON lines on stdin/stdout.

    python -m tests.benchmarks.worker IMPL             # serve commands: setup, grad, time, quit
    python -m tests.benchmarks.worker IMPL --memory NET DATA MODULE STEPS [--traced]  # peak RSS

Each implementation runs in a process of its own so that no two BLAS thread pools (NumPy's
OpenBLAS, PyTorch's, XLA's) share a process, and peak memory is that implementation's alone.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

from .impls import OPTIONAL, Impl, make
from .nets import Net


def _rss_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of this process, in KiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _load(data: str) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    with np.load(data) as arrays:
        params = {k: arrays[k] for k in arrays.files if k not in ("X", "Y")}
        return params, arrays["X"], arrays["Y"]


def serve(name: str) -> None:
    impl: Impl | None = None
    for line in sys.stdin:
        request: dict[str, Any] = json.loads(line)
        reply: dict[str, Any] = {}
        if request["cmd"] == "setup":
            params, X, Y = _load(request["data"])
            net = Net.from_dict(request["net"])
            start = time.perf_counter()
            impl = make(name, net, params, X, Y, request.get("module"))
            for _ in range(request["warmup"]):
                impl.step(0.0)
            reply["setup_seconds"] = time.perf_counter() - start
        elif request["cmd"] == "grad":
            assert impl is not None
            before = {k: v.astype(np.float64) for k, v in impl.params().items()}
            reply["loss"] = impl.step(1.0)
            after = impl.params()
            np.savez(request["out"], **{k: before[k] - after[k] for k in before})
        elif request["cmd"] == "time":
            assert impl is not None
            lr, steps = request["lr"], request["steps"]
            start = time.perf_counter()
            for _ in range(steps):
                impl.step(lr)
            reply["seconds"] = (time.perf_counter() - start) / steps
        elif request["cmd"] == "quit":
            return
        print(json.dumps(reply), flush=True)


def memory(name: str, net_json: str, data: str, module: str, steps: int, traced: bool) -> None:
    """Print the RSS after importing what the implementation needs and the peak over the run;
    `traced`: instead, the peak of NumPy's allocations (tracemalloc) from the first step on."""
    if name in OPTIONAL:
        importlib.import_module(OPTIONAL[name])
        if name == "jax_jit":
            importlib.import_module("jax.numpy")
    imported = _rss_kib("VmRSS")
    params, X, Y = _load(data)
    loaded = _rss_kib("VmRSS")
    impl = make(name, Net.from_dict(json.loads(net_json)), params, X, Y, module)
    if traced:
        tracemalloc.start()
    for _ in range(steps):
        impl.step(1e-3)
    if traced:
        print(json.dumps({"traced_kib": tracemalloc.get_traced_memory()[1] // 1024}))
        return
    peak = _rss_kib("VmHWM")
    print(json.dumps({"import_kib": imported, "data_kib": loaded - imported, "peak_kib": peak}))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "--memory":
        traced = sys.argv[7:] == ["--traced"]
        memory(sys.argv[1], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), traced)
    else:
        serve(sys.argv[1])
