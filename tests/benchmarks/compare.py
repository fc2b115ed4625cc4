"""The generated training step against hand-written NumPy, PyTorch and JAX, interleaved.

    python -m tests.benchmarks.compare                       # every shape, both dtypes
    python -m tests.benchmarks.compare --shapes deep:32 --dtypes float64 --rounds 9
    python -m tests.benchmarks.compare --json docs/bench/step.json   # also save the figures

One worker process per implementation (`worker.py`), all started once and kept for the whole
run, each limited to the same number of threads. For every shape the workers first take one step
from the same parameters and data; the gradients these steps imply are compared with the generated
module's `gradients()` (float64) and the largest difference printed; a mismatch stops the run
before anything is timed. Then the workers take turns (order rotated each round, a pause between
turns so spinning BLAS threads go idle), each turn timing enough consecutive steps to last about
20 ms; the tables give medians and the ratios to the generated module. `--memory` runs 100 steps
at batch 2048 in a fresh process per implementation and reports peak RSS.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .impls import IMPLEMENTATIONS, OPTIONAL, available
from .nets import NETS, SHAPES, Net, problem

PAUSE = 0.15  # seconds between turns: OpenBLAS threads spin for ~0.1 s after a call
TURN = 0.02  # seconds of steps per timed turn
REPO = Path(__file__).resolve().parents[2]


class Worker:
    """A worker process serving one implementation over JSON lines."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.worker", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )

    def ask(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"benchmark worker {self.name} died during {request['cmd']}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        """Ask the worker to quit (it sends no reply) and wait for it."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)


def thread_env(threads: int) -> dict[str, str]:
    """The environment every worker gets: the same thread count for every library."""
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["SYMBACKPROP_BENCH_THREADS"] = str(threads)
    env["XLA_FLAGS"] = (
        f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
        f"intra_op_parallelism_threads={threads}"
    )
    return env


def write_modules(folder: Path) -> dict[str, str]:
    """Generate every benchmark network's module into folder; their paths by network name."""
    from symbackprop.codegen import generate

    paths = {}
    for net in NETS.values():
        path = folder / f"bench_{net.name}.py"
        path.write_text(generate(net.network()).source, encoding="utf-8")
        paths[net.name] = str(path)
    return paths


def reference_gradients(module: str, params: dict[str, np.ndarray], X, Y) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """The readable path of the generated module, in float64."""
    from .impls import load_generated

    as64 = {k: v.astype(np.float64) for k, v in params.items()}
    grads: dict[str, np.ndarray] = load_generated(module).gradients(
        as64, X.astype(np.float64), Y.astype(np.float64)
    )
    return grads


def agree(
    workers: list[Worker], reference: dict[str, np.ndarray], folder: Path, dtype: type
) -> dict[str, float]:
    """Largest |gradient - reference| of every implementation (its step at lr = 1)."""
    scale = max(1.0, max(float(np.abs(g).max()) for g in reference.values()))
    tolerance = (1e-9 if dtype == np.float64 else 1e-4) * scale
    diffs = {}
    for worker in workers:
        if worker.name == "gemm_only":
            continue
        out = folder / f"grad_{worker.name}.npz"
        worker.ask(cmd="grad", out=str(out))
        with np.load(out) as implied:
            diffs[worker.name] = max(
                float(np.abs(implied[k] - reference[k]).max()) for k in reference
            )
        if diffs[worker.name] > tolerance:
            raise SystemExit(
                f"{worker.name} disagrees with the generated gradients by "
                f"{diffs[worker.name]:.3g} (> {tolerance:.3g}): nothing timed"
            )
    return diffs


def time_shape(workers: list[Worker], rounds: int) -> dict[str, float]:
    """Median seconds per step of each worker, taking turns."""
    steps = {}
    for worker in workers:
        probe = min(worker.ask(cmd="time", steps=1, lr=1e-3)["seconds"] for _ in range(3))
        steps[worker.name] = max(1, min(500, round(TURN / max(probe, 1e-7))))
    samples: dict[str, list[float]] = {w.name: [] for w in workers}
    for r in range(rounds):
        for worker in workers[r % len(workers) :] + workers[: r % len(workers)]:
            time.sleep(PAUSE)
            reply = worker.ask(cmd="time", steps=steps[worker.name], lr=1e-3)
            samples[worker.name].append(reply["seconds"])
    return {name: statistics.median(values) for name, values in samples.items()}


def memory(names: list[str], env: dict[str, str], modules: dict[str, str], folder: Path) -> dict:  # type: ignore[type-arg]
    """Peak RSS of 100 steps of the wide network at batch 2048 (float64), a fresh process each;
    for the NumPy implementations also the peak of the arrays they allocate (tracemalloc)."""
    net = NETS["wide"]
    params, X, Y = problem(net, 2048, np.float64)
    data = folder / "memory.npz"
    np.savez(data, X=X, Y=Y, **params)
    results: dict[str, Any] = {}
    for name in names:
        command = [sys.executable, "-m", "tests.benchmarks.worker", name, "--memory"]
        command += [json.dumps(net.as_dict()), str(data), modules[net.name], "100"]
        results[name] = _last_json(command, env)
        if name not in OPTIONAL:
            results[name].update(_last_json([*command, "--traced"], env))
    itemsize = np.dtype(np.float64).itemsize
    results["bound"] = {
        "cache_kib": sum(2048 * units for units in net.sizes[1:]) * itemsize // 1024,
        "gradients_kib": sum(p.size for p in params.values()) * itemsize // 1024,
    }
    return results


def _last_json(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def describe(threads: int) -> list[str]:
    lines = [f"machine: {platform.machine()}, {os.cpu_count()} CPUs; {platform.platform()}"]
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
        lines.append(f"CPU: {model}")
    except (OSError, StopIteration):
        pass
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    for module in sorted(set(OPTIONAL.values())):
        if importlib.util.find_spec(module) is not None:
            versions.append(f"{module} {importlib.import_module(module).__version__}")
    lines.append(", ".join(versions))
    lines.append(f"threads: {threads} for every implementation; date {time.strftime('%Y-%m-%d')}")
    return lines


def table(results: list[dict[str, Any]], names: list[str]) -> list[str]:
    head = "| network | batch | dtype | " + " | ".join(names) + " |"
    lines = ["Median µs per step:", "", head, "|" + "---|" * (3 + len(names))]
    for row in results:
        cells = [f"{row['seconds'][n] * 1e6:,.0f}" for n in names]
        lines.append(f"| {row['net']} | {row['batch']} | {row['dtype']} | {' | '.join(cells)} |")
    others = [n for n in names if n != "generated"]
    lines += ["", "Time / generated module's time (above 1: the generated module is faster):", ""]
    lines += ["| network | batch | dtype | " + " | ".join(others) + " |"]
    lines += ["|" + "---|" * (3 + len(others))]
    for row in results:
        base = row["seconds"]["generated"]
        cells = [f"{row['seconds'][n] / base:.2f}" for n in others]
        lines.append(f"| {row['net']} | {row['batch']} | {row['dtype']} | {' | '.join(cells)} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.compare")
    parser.add_argument("--shapes", help="net:batch,... (default: every shape of nets.SHAPES)")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--impls", default=",".join(IMPLEMENTATIONS))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS")
    parser.add_argument("--json", help="save the figures to this file")
    args = parser.parse_args(argv)
    shapes = SHAPES
    if args.shapes:
        shapes = tuple((s.split(":")[0], int(s.split(":")[1])) for s in args.shapes.split(","))
    names = [n for n in args.impls.split(",") if available(n)]
    skipped = [n for n in args.impls.split(",") if not available(n)]
    env = thread_env(args.threads)
    for line in describe(args.threads):
        print(line)
    if skipped:
        print(f"not installed, skipped: {', '.join(skipped)} (pip install -e '.[bench]')")
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        modules = write_modules(folder)
        workers = [Worker(name, env) for name in names]
        try:
            for net_name, batch in shapes:
                net: Net = NETS[net_name]
                for dtype_name in args.dtypes.split(","):
                    dtype = np.dtype(dtype_name).type
                    params, X, Y = problem(net, batch, dtype)
                    data = folder / "data.npz"
                    np.savez(data, X=X, Y=Y, **params)
                    setup = {}
                    for worker in workers:
                        reply = worker.ask(
                            cmd="setup",
                            net=net.as_dict(),
                            data=str(data),
                            module=modules[net.name],
                            warmup=5,
                        )
                        setup[worker.name] = reply["setup_seconds"]
                    reference = reference_gradients(modules[net.name], params, X, Y)
                    diffs = agree(workers, reference, folder, dtype)
                    seconds = time_shape(workers, args.rounds)
                    row = {
                        "net": net_name,
                        "batch": batch,
                        "dtype": dtype_name,
                        "seconds": seconds,
                        "max_abs_grad_diff": diffs,
                        "setup_seconds": setup,
                    }
                    results.append(row)
                    diff_text = ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
                    print(f"{net_name} batch {batch} {dtype_name}: gradients agree ({diff_text})")
                    fastest = ", ".join(f"{k} {v * 1e6:,.0f} µs" for k, v in seconds.items())
                    print(f"  {fastest}", flush=True)
        finally:
            for worker in workers:
                worker.close()
        print()
        print("\n".join(table(results, names)))
        mem = memory(names, env, modules, folder) if args.memory else None
    if mem:
        print()
        print("Peak RSS, 100 steps, wide network, batch 2048, float64 (MiB):")
        print()
        print("| implementation | after imports | data | peak | peak - imports - data | arrays |")
        print("|---|---|---|---|---|---|")
        for name in names:
            m = mem[name]
            extra = m["peak_kib"] - m["import_kib"] - m["data_kib"]
            cells = [m["import_kib"], m["data_kib"], m["peak_kib"], extra]
            arrays = f"{m['traced_kib'] / 1024:.1f}" if "traced_kib" in m else "—"
            print(f"| {name} | " + " | ".join(f"{c / 1024:.1f}" for c in cells) + f" | {arrays} |")
        bound = mem["bound"]
        print(
            f"\ncache (every a^(l)) {bound['cache_kib'] / 1024:.1f} MiB + one gradient set "
            f"{bound['gradients_kib'] / 1024:.1f} MiB"
        )
    if args.json:
        payload = {"machine": describe(args.threads), "steps": results, "memory": mem}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
