"""One SGD training step of a LeNet-style CNN on 1x28x28 inputs: the generated module's sgd_step
against PyTorch eager, torch.compile (forward + loss; backward by AOT autograd) and JAX jit.

    python -m tests.benchmarks.lenet_step --quick         # two steps a shape: does it work?
    python -m tests.benchmarks.lenet_step --repeat 40 --json docs/bench/lenet.json
    python -m tests.benchmarks.lenet_step --profile-only  # where the generated step's time goes

Network: conv2d 6@5x5 relu, maxpool 2, conv2d 16@5x5 relu, maxpool 2, flatten, dense 120 relu,
84 relu, 10 softmax, cross-entropy averaged over the batch; batches 1, 32, 256; float64, float32.
One worker process per implementation (compare.py's convention), each limited to THREADS threads
(OpenBLAS, OpenMP, torch.set_num_threads, XLA_FLAGS). Every worker first takes one step at lr = 1
from the same parameters; the gradient it implies, (before - after) / lr, and its loss must match
the generated module's to 1e-9 relative in float64 (1e-3 in float32) or nothing is timed. Then the
workers take turns, a pause between turns; each figure is the median of the single steps' times
after a warm-up. `--profile` also times forward, the backward pass and its conv helpers at batch
32 float32 by wrapping the loaded module's functions with timers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .compare import PAUSE, REPO, Worker, describe, thread_env
from .impls import THREADS, Impl, JaxStep, NumPyStep, Params, TorchStep, available, load_generated

TOML = """\
name = "lenet"
inputs = [1, 28, 28]
loss = "cross_entropy"

[[layers]]
kind = "conv2d"
filters = 6
kernel = 5
activation = "relu"

[[layers]]
kind = "maxpool2d"
size = 2

[[layers]]
kind = "conv2d"
filters = 16
kernel = 5
activation = "relu"

[[layers]]
kind = "maxpool2d"
size = 2

[[layers]]
kind = "flatten"

[[layers]]
units = 120
activation = "relu"

[[layers]]
units = 84
activation = "relu"

[[layers]]
units = 10
activation = "softmax"
"""

NAMES = ("generated", "torch_eager", "torch_compile", "jax_jit")
BATCHES = (1, 32, 256)
DTYPES = ("float64", "float32")
#: the parameters in order: conv W1 (6,1,5,5), W3 (16,6,5,5), dense W6 (120,256), W7, W8
KEYS = ("W1", "b1", "W3", "b3", "W6", "b6", "W7", "b7", "W8", "b8")
REST = "_backward minus its conv/pool helpers (δ, masks, dense layers)"
OUTSIDE = "sgd_step minus forward and _backward (loss, targets, update)"
PROFILED = ("_conv2d", "_maxpool2d", "_conv2d_weights", "_conv2d_inputs", "_maxpool2d_inputs")


def problem(
    module: ModuleType, batch: int, dtype: type, seed: int = 0
) -> tuple[Params, np.ndarray, np.ndarray]:
    """The module's He-normal weights, small random biases, N(0, 1) images (flat, one a row)
    and one-hot targets, drawn in float64 and then cast, so both dtypes start alike."""
    params: Params = module.init_params(seed=seed)
    rng = np.random.default_rng(seed + 1)
    for key in KEYS:
        if key.startswith("b"):
            params[key] = 0.1 * rng.normal(size=params[key].shape)
    X = rng.normal(size=(batch, 28 * 28))
    Y = np.eye(10)[rng.integers(10, size=batch)]
    return {k: params[k].astype(dtype) for k in KEYS}, X.astype(dtype), Y.astype(dtype)


def save(path: Path, params: Params, X: np.ndarray, Y: np.ndarray) -> None:
    """One shape's data for the workers, in one .npz file."""
    arrays: dict[str, Any] = {"X": X, "Y": Y, **params}
    np.savez(path, **arrays)


class TorchLeNet(TorchStep):
    """PyTorch eager (or torch.compile of forward + loss) with TorchStep's step(): autograd, then
    one torch._foreach_add_ for the update. Only the loss differs from the dense networks'."""

    def __init__(self, params: Params, X: np.ndarray, Y: np.ndarray, *, compile: bool) -> None:
        import torch

        torch.set_num_threads(THREADS)
        self.torch = torch
        self.keys = list(params)
        self.tensors = [torch.tensor(params[k]).requires_grad_() for k in self.keys]
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)
        self.loss = torch.compile(self._loss, dynamic=False) if compile else self._loss

    def _loss(self, tensors: list[Any], X: Any, Y: Any) -> Any:
        F = self.torch.nn.functional
        W1, b1, W3, b3, W6, b6, W7, b7, W8, b8 = tensors
        a = X.reshape(-1, 1, 28, 28)
        a = F.max_pool2d(F.relu(F.conv2d(a, W1, b1)), 2)
        a = F.max_pool2d(F.relu(F.conv2d(a, W3, b3)), 2).flatten(1)
        a = F.relu(F.linear(F.relu(F.linear(a, W6, b6)), W7, b7))
        z = F.linear(a, W8, b8)
        return -(Y * F.log_softmax(z, dim=1)).sum() / X.shape[0]


class JaxLeNet(JaxStep):
    """JAX: jit of the whole step, value_and_grad of the loss and the update, buffers donated;
    JaxStep's step() and params(), float64 enabled (jax_enable_x64)."""

    def __init__(self, params: Params, X: np.ndarray, Y: np.ndarray) -> None:
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
        self.jax = jax
        self.keys = list(params)
        self.state = [jnp.asarray(params[k]) for k in self.keys]
        self.X, self.Y = jnp.asarray(X), jnp.asarray(Y)
        lax, numbers = jax.lax, ("NCHW", "OIHW", "NCHW")

        def conv(a: Any, W: Any, b: Any) -> Any:
            z = lax.conv_general_dilated(a, W, (1, 1), "VALID", dimension_numbers=numbers)
            return z + b[None, :, None, None]

        def pool(a: Any) -> Any:
            return lax.reduce_window(a, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

        def loss(tensors: list[Any], X: Any, Y: Any) -> Any:
            W1, b1, W3, b3, W6, b6, W7, b7, W8, b8 = tensors
            a = X.reshape(-1, 1, 28, 28)
            a = pool(jax.nn.relu(conv(a, W1, b1)))
            a = pool(jax.nn.relu(conv(a, W3, b3))).reshape(X.shape[0], -1)
            a = jax.nn.relu(jax.nn.relu(a @ W6.T + b6) @ W7.T + b7)
            z = a @ W8.T + b8
            return -jnp.sum(Y * jax.nn.log_softmax(z, axis=1)) / X.shape[0]

        def step(tensors: list[Any], X: Any, Y: Any, lr: Any) -> Any:
            value, grads = jax.value_and_grad(loss)(tensors, X, Y)
            return value, [t - lr * g for t, g in zip(tensors, grads, strict=True)]

        self._step = jax.jit(step, donate_argnums=0)


def make(
    name: str, module: ModuleType | None, params: Params, X: np.ndarray, Y: np.ndarray
) -> Impl:
    """The implementation `name` for this data (module: the loaded generated module)."""
    if name == "generated":
        assert module is not None
        return NumPyStep(module.sgd_step, params, X, Y)
    if name in ("torch_eager", "torch_compile"):
        return TorchLeNet(params, X, Y, compile=name == "torch_compile")
    if name == "jax_jit":
        return JaxLeNet(params, X, Y)
    raise ValueError(f"unknown implementation {name!r}")


def profile(
    module: ModuleType, params: Params, X: np.ndarray, Y: np.ndarray, steps: int
) -> dict[str, float]:
    """Median ms per step of sgd_step, forward, _backward and each conv/pool helper (inclusive:
    _conv2d_inputs calls _conv2d, _maxpool2d_inputs calls _maxpool2d), by wrapping the module's
    functions with timers; the helpers' forward and backward calls are counted apart."""
    spent: dict[str, float] = {}
    phase = ["step"]
    originals = {name: getattr(module, name) for name in (*PROFILED, "forward", "_backward")}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name in ("forward", "_backward"):
                phase[0] = name
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                key = name if name in ("forward", "_backward") else f"{phase[0]}:{name}"
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - start

        return wrapper

    state = {k: v.copy() for k, v in params.items()}
    for _ in range(3):
        module.sgd_step(state, X, Y, 1e-3)
    samples: dict[str, list[float]] = {}
    try:
        for name, fn in originals.items():
            setattr(module, name, timed(name, fn))
        for _ in range(steps):
            spent.clear()
            start = time.perf_counter()
            module.sgd_step(state, X, Y, 1e-3)
            spent["sgd_step"] = time.perf_counter() - start
            helpers = sum(v for k, v in spent.items() if k.startswith("_backward:_conv2d_"))
            helpers += spent["_backward:_maxpool2d_inputs"]
            spent[REST] = spent["_backward"] - helpers
            spent[OUTSIDE] = spent["sgd_step"] - spent["forward"] - spent["_backward"]
            for key, value in spent.items():
                samples.setdefault(key, []).append(value)
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)
    result = {key: 1e3 * statistics.median(values) for key, values in samples.items()}
    return result


def serve(name: str) -> None:
    """A worker: JSON-line commands setup, check, time, profile, quit (compare.Worker's wire)."""
    impl: Impl | None = None
    module: ModuleType | None = None
    data: tuple[Params, np.ndarray, np.ndarray] | None = None
    for line in sys.stdin:
        request: dict[str, Any] = json.loads(line)
        reply: dict[str, Any] = {}
        if request["cmd"] == "setup":
            if name == "generated" and module is None:
                module = load_generated(request["module"])
            with np.load(request["data"]) as arrays:
                data = {k: arrays[k] for k in KEYS}, arrays["X"], arrays["Y"]
            start = time.perf_counter()
            impl = make(name, module, *data)
            reply["setup_seconds"] = time.perf_counter() - start
        elif request["cmd"] == "check":
            assert impl is not None
            before = {k: v.astype(np.float64) for k, v in impl.params().items()}
            reply["loss"] = impl.step(request["lr"])
            after = impl.params()
            implied = {k: (before[k] - after[k]) / request["lr"] for k in before}
            np.savez(request["out"], **implied)
        elif request["cmd"] == "time":
            assert impl is not None
            times = []
            for _ in range(request["steps"]):
                start = time.perf_counter()
                impl.step(request["lr"])
                times.append(time.perf_counter() - start)
            reply["seconds"] = times
        elif request["cmd"] == "profile":
            assert module is not None and data is not None
            reply["ms"] = profile(module, *data, request["steps"])
        elif request["cmd"] == "quit":
            return
        print(json.dumps(reply), flush=True)


class LeNetWorker(Worker):
    """compare.Worker serving this file's implementations (`--serve NAME`)."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        import subprocess

        self.name = name
        command = [sys.executable, "-m", "tests.benchmarks.lenet_step", "--serve", name]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO, env=env
        )


def check(
    workers: list[LeNetWorker], reference: Params, loss: float, folder: Path, dtype: str
) -> dict[str, float]:
    """Each worker's step at lr = 1: the largest relative difference of its implied gradients
    (per array, relative to the array's largest reference entry) and loss from ours; stops the
    run when one exceeds the tolerance."""
    tolerance = 1e-9 if dtype == "float64" else 1e-3
    diffs = {}
    for worker in workers:
        out = folder / f"check_{worker.name}.npz"
        theirs = worker.ask(cmd="check", lr=1.0, out=str(out))["loss"]
        worst = abs(theirs - loss) / abs(loss)
        with np.load(out) as implied:
            for key, grad in reference.items():
                scale = float(np.abs(grad).max()) or 1.0
                worst = max(worst, float(np.abs(implied[key] - grad).max()) / scale)
        diffs[worker.name] = worst
        if worst > tolerance:
            raise SystemExit(
                f"{worker.name} disagrees with the generated step by {worst:.3g} relative "
                f"(> {tolerance:g}) in {dtype}: nothing timed"
            )
    return diffs


def time_shape(workers: list[LeNetWorker], steps: int, warmup: int) -> dict[str, float]:
    """Median seconds of a single step of each worker; the workers take turns of a few steps,
    the order rotated each round and a pause before each turn (OpenBLAS threads spin idle)."""
    for worker in workers:
        worker.ask(cmd="time", steps=warmup, lr=1e-3)
    rounds = min(5, steps)
    per_turn = math.ceil(steps / rounds)
    samples: dict[str, list[float]] = {w.name: [] for w in workers}
    for r in range(rounds):
        for worker in workers[r % len(workers) :] + workers[: r % len(workers)]:
            time.sleep(PAUSE)
            samples[worker.name] += worker.ask(cmd="time", steps=per_turn, lr=1e-3)["seconds"]
    return {name: statistics.median(values) for name, values in samples.items()}


def table(rows: list[dict[str, Any]], names: list[str]) -> list[str]:
    """Milliseconds per step, then fastest other / ours and torch eager / ours (above 1: ours is
    faster)."""
    head = "| batch | dtype | " + " | ".join(f"{n} ms" for n in names)
    lines = [head + " | fastest other / ours | torch_eager / ours |"]
    lines.append("|" + "---|" * (4 + len(names)))
    for row in rows:
        s = row["seconds"]
        cells = [f"{s[n] * 1e3:.3f}" for n in names]
        others = {n: s[n] for n in names if n != "generated"}
        ratios = ["—", "—"]
        if "generated" in s and others:
            best = min(others, key=others.__getitem__)
            ratios[0] = f"{others[best] / s['generated']:.2f} ({best})"
            if "torch_eager" in s:
                ratios[1] = f"{s['torch_eager'] / s['generated']:.2f}"
        lines.append(
            f"| {row['batch']} | {row['dtype']} | {' | '.join(cells)} | {' | '.join(ratios)} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.lenet_step")
    parser.add_argument("--repeat", type=int, default=40, help="timed steps a shape (batch < 256)")
    parser.add_argument(
        "--large-repeat", type=int, help="timed steps at batch 256 (default repeat/4, >= 5)"
    )
    parser.add_argument("--quick", action="store_true", help="two steps a shape: a smoke test")
    parser.add_argument("--batch", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES))
    parser.add_argument("--impls", nargs="+", default=list(NAMES))
    parser.add_argument(
        "--profile", action="store_true", help="also profile ours, batch 32 float32"
    )
    parser.add_argument("--profile-only", action="store_true", help="only the profile")
    parser.add_argument("--json", help="save the figures to this file")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    from symbackprop.codegen import generate
    from symbackprop.spec import load_spec_text

    repeat = 2 if args.quick else args.repeat
    large = 2 if args.quick else args.large_repeat or max(5, repeat // 4)
    warmup = 1 if args.quick else 5
    names = [n for n in args.impls if available(n)]
    if "generated" not in names:
        raise SystemExit("the generated module is the reference: keep it in --impls")
    if args.profile_only:
        names = ["generated"]
    skipped = [n for n in args.impls if n not in names and not args.profile_only]
    if skipped:
        print(f"not installed, skipped: {', '.join(skipped)}")
    load_before = os.getloadavg()
    generated = generate(load_spec_text(TOML))
    reference_module = generated.load()
    env = thread_env(THREADS)
    rows: list[dict[str, Any]] = []
    prof: dict[str, float] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = folder / "bench_lenet.py"
        source.write_text(generated.source, encoding="utf-8")
        workers = [LeNetWorker(name, env) for name in names]
        try:
            shapes = [] if args.profile_only else [(b, d) for b in args.batch for d in args.dtypes]
            for batch, dtype in shapes:
                params, X, Y = problem(reference_module, batch, np.dtype(dtype).type)
                data = folder / "data.npz"
                save(data, params, X, Y)
                setup = {
                    w.name: w.ask(cmd="setup", module=str(source), data=str(data))["setup_seconds"]
                    for w in workers
                }
                as64 = {k: v.astype(np.float64) for k, v in params.items()}
                reference = reference_module.gradients(
                    as64, X.astype(np.float64), Y.astype(np.float64)
                )
                loss = reference_module.loss(as64, X.astype(np.float64), Y.astype(np.float64))
                start = time.perf_counter()
                diffs = check(workers, reference, loss, folder, dtype)
                first = time.perf_counter() - start
                seconds = time_shape(workers, large if batch >= 256 else repeat, warmup)
                rows.append(
                    {
                        "batch": batch,
                        "dtype": dtype,
                        "seconds": seconds,
                        "max_rel_diff": diffs,
                        "setup_seconds": setup,
                        "check_seconds_all_workers": first,
                        "steps": large if batch >= 256 else repeat,
                    }
                )
                text = ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
                print(f"batch {batch} {dtype}: agree ({text})")
                times = ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in seconds.items())
                print(f"  {times}", flush=True)
            if args.profile or args.profile_only:
                params, X, Y = problem(reference_module, 32, np.float32)
                data = folder / "data.npz"
                save(data, params, X, Y)
                workers[0].ask(cmd="setup", module=str(source), data=str(data))
                prof = workers[0].ask(cmd="profile", steps=5 if args.quick else 30)["ms"]
        finally:
            for worker in workers:
                worker.close()
    machine = describe(THREADS)
    print()
    print("\n".join(machine))
    if rows:
        print(f"\nLeNet-style step, median ms per step ({repeat} steps; {large} at batch 256):\n")
        print("\n".join(table(rows, names)))
    if prof:
        print("\nGenerated sgd_step, batch 32 float32, median ms (helpers inclusive):\n")
        for key, value in prof.items():
            print(f"  {key:<58} {value:8.3f}")
    if args.json:
        payload = {
            "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
            "machine": machine,
            "network": TOML,
            "steps": rows,
            "profile_b32_float32_ms": prof,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
