"""The array-API module on a GPU: PyTorch CUDA tensors and CuPy arrays.

    python scripts/gpu_check.py [--device cuda] [--batches 2048,8192] [--repeats 30] [--json F]

For each library at hand on the device: (1) the gradients of the bundled examples and of the
wide 784-256-128-10 sigmoid network in float64 against the NumPy module on the CPU, (2) a
training run of xor against the NumPy module's training from the same start and order, (3) the
wide network's training step (float32 and float64) at each batch size, the generated
`sgd_step` against PyTorch eager autograd on the same device (medians, interleaved turns).
`--device cpu` runs the same paths on the CPU (the test suite does, where no GPU is).
Prints a table and, with --json, writes the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symbackprop import Network, load_spec  # noqa: E402
from symbackprop.codegen import generate, load_module  # noqa: E402
from tests.benchmarks import nets  # noqa: E402

WIDE = nets.WIDE.network()  # the benchmarks' wide 784-256-128-10 sigmoid network
EXAMPLES = ("xor", "classifier", "multi_node")


#: (namespace, NumPy array -> the library's array on the device, a call that waits for it)
Library = tuple[Any, Callable[[np.ndarray], Any], Callable[[], Any]]


def _libraries(device: str) -> dict[str, Library]:
    """The array libraries with arrays on `device`, by name."""
    found: dict[str, Library] = {}
    try:
        import torch

        if device == "cpu" or torch.cuda.is_available():
            sync = torch.cuda.synchronize if device != "cpu" else (lambda: None)
            found["torch"] = (torch, lambda a: torch.asarray(a, device=device), sync)
    except ImportError:
        pass
    if device != "cpu":
        try:
            import cupy  # type: ignore[import-not-found]

            found["cupy"] = (cupy, cupy.asarray, cupy.cuda.Device().synchronize)
        except ImportError:
            pass
    return found


def _host(x: Any) -> np.ndarray:
    if hasattr(x, "get"):  # CuPy
        x = x.get()
    elif hasattr(x, "detach"):  # PyTorch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _modules(network: Network) -> tuple[ModuleType, ModuleType]:
    return (
        load_module(generate(network).source, network.name),
        load_module(generate(network, backend="array-api").source, network.name),
    )


def _point(network: Network, batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, network.sizes[0]))
    if network.layers[-1].activation.is_softmax:
        return X, np.eye(network.sizes[-1])[rng.integers(0, network.sizes[-1], batch)]
    return X, rng.uniform(size=(batch, network.sizes[-1]))


def _relative(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-300))


def gradient_errors(to: Callable[[np.ndarray], Any]) -> dict[str, float]:
    """The largest relative gradient error of each network against the NumPy module (f64)."""
    errors = {}
    for network in [*(load_spec(name) for name in EXAMPLES), WIDE]:
        reference, module = _modules(network)
        X, Y = _point(network, 64, seed=1)
        params = reference.init_params(2)
        expected = reference.gradients(params, X, Y)
        grads = module.gradients({k: to(v) for k, v in params.items()}, to(X), to(Y))
        errors[network.name] = max(_relative(_host(grads[k]), expected[k]) for k in expected)
    return errors


def training_error(to: Callable[[np.ndarray], Any]) -> float:
    """xor trained 50 epochs in minibatches of 2 against the NumPy module's training."""
    network = load_spec("xor")
    reference, module = _modules(network)
    X, Y = _point(network, 8, seed=3)
    start = reference.init_params(0)
    params = {k: v.copy() for k, v in start.items()}
    reference.train(params, X, Y, lr=0.5, epochs=50, batch_size=2)
    trained, _ = module.train(
        {k: to(v) for k, v in start.items()}, to(X), to(Y), lr=0.5, epochs=50, batch_size=2
    )
    return max(_relative(_host(trained[k]), params[k]) for k in params)


def _torch_eager(torch: Any, params: dict[str, Any]) -> Callable[[Any, Any, float], float]:
    """PyTorch eager autograd on the same network, updating its own copies in place."""
    tensors = [params[k].clone().requires_grad_() for k in params]

    def step(X: Any, Y: Any, lr: float) -> Any:
        for t in tensors:
            t.grad = None
        a = X
        for i in range(0, len(tensors), 2):
            a = torch.sigmoid(torch.nn.functional.linear(a, tensors[i], tensors[i + 1]))
        value = ((a - Y) ** 2).sum() / X.shape[0]
        value.backward()
        with torch.no_grad():
            torch._foreach_add_(tensors, [t.grad for t in tensors], alpha=-lr)
        return value

    return step


def step_times(
    name: str, library: Library, batch: int, dtype: str, repeats: int
) -> dict[str, float]:
    """Median seconds of one wide-network training step: generated and (PyTorch) eager."""
    xp, to, sync = library
    _, module = _modules(WIDE)
    X, Y = _point(WIDE, batch, seed=4)
    params = module.init_params(0, dtype)
    arrays = {k: xp.asarray(to(v), dtype=getattr(xp, dtype)) for k, v in params.items()}
    inputs, targets = (xp.asarray(to(a), dtype=getattr(xp, dtype)) for a in (X, Y))
    steps: dict[str, Callable[[], Any]] = {}
    state = {"params": arrays}

    def generated() -> Any:
        state["params"], value = module.sgd_step(state["params"], inputs, targets, 1e-3)
        return value

    steps["generated"] = generated
    if name == "torch":
        eager = _torch_eager(xp, arrays)
        steps["pytorch eager"] = lambda: eager(inputs, targets, 1e-3)
    times: dict[str, list[float]] = {key: [] for key in steps}
    for _ in range(3):  # warm-up: kernels compiled, caches filled
        for run in steps.values():
            run()
    sync()
    for _ in range(repeats):
        for key, run in steps.items():  # interleaved turns
            sync()
            begin = time.perf_counter()
            run()
            sync()
            times[key].append(time.perf_counter() - begin)
    return {key: statistics.median(values) for key, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--batches", default="2048,8192", help="batch sizes of the step timing")
    parser.add_argument("--repeats", type=int, default=30, help="timed steps per figure")
    parser.add_argument("--json", default=None, help="write the figures to this file")
    options = parser.parse_args(argv)
    libraries = _libraries(options.device)
    if not libraries:
        print(f"no array library with a {options.device} device here (torch, cupy)")
        return 1
    report: dict[str, Any] = {"device": options.device}
    try:
        import torch

        if options.device != "cpu":
            report["gpu"] = torch.cuda.get_device_name()
    except ImportError:
        pass
    ok = True
    for name, library in libraries.items():
        errors = gradient_errors(library[1])
        trained = training_error(library[1])
        ok &= max(errors.values()) < 1e-12 and trained < 1e-9
        timings = {}
        for batch in (int(b) for b in options.batches.split(",")):
            for dtype in ("float32", "float64"):
                timings[f"{batch} {dtype}"] = step_times(
                    name, library, batch, dtype, options.repeats
                )
        report[name] = {"gradient errors": errors, "training error": trained, "steps": timings}
        print(f"{name}: gradient errors (f64, vs NumPy on the CPU) {errors}")
        print(f"{name}: xor trained 50 epochs, largest parameter difference {trained:.1e}")
        for key, figures in timings.items():
            line = "  ".join(f"{k} {v * 1e3:8.3f} ms" for k, v in figures.items())
            ratio = figures["generated"] / figures.get("pytorch eager", figures["generated"])
            print(f"{name}: wide step, batch {key}: {line}  (generated/eager {ratio:.2f})")
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
