"""One Adam training step on the wide net (784-256-128-10 sigmoid): the generated module's
gradients() + optimizer_step against PyTorch eager autograd + torch.optim.Adam (issue 19).

Run on a quiet machine: python -m tests.benchmarks.adam_step [--repeat 200] [--batch 1 32 256]
Both sides first take three steps from the same parameters and must agree to 1e-10 (float64)
before any timing; each figure is the median of --repeat steps after a warm-up, one thread each.
`--quick` runs two steps per shape, only to see that the script works.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from symbackprop.codegen import generate

from .impls import THREADS, TorchStep
from .nets import WIDE, problem


def _generated(batch: int, dtype: type) -> Callable[[], None]:
    module = generate(WIDE.network()).load()
    params, X, Y = problem(WIDE, batch, dtype, seed=0)
    state = module.init_state(params, "adam")

    def step() -> None:
        module.optimizer_step(params, module.gradients(params, X, Y), state)

    step.params = params  # type: ignore[attr-defined]
    return step


def _torch(batch: int, dtype: type) -> Callable[[], None]:
    import torch

    params, X, Y = problem(WIDE, batch, dtype, seed=0)
    impl = TorchStep(WIDE, params, X, Y)
    optimizer = torch.optim.Adam(impl.tensors)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        impl.loss(impl.tensors, impl.X, impl.Y).backward()
        optimizer.step()

    step.params = impl.params  # type: ignore[attr-defined]
    return step


def _agree(batch: int) -> None:
    """Three steps of each from the same start give the same parameters (float64)."""
    ours, theirs = _generated(batch, np.float64), _torch(batch, np.float64)
    for _ in range(3):
        ours()
        theirs()
    expected = theirs.params()  # type: ignore[attr-defined]
    for key, value in ours.params.items():  # type: ignore[attr-defined]
        np.testing.assert_allclose(value, expected[key], rtol=1e-10, atol=1e-12)


def _median(step: Callable[[], None], repeat: int) -> float:
    for _ in range(min(10, repeat)):
        step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--quick", action="store_true", help="two steps a shape: a smoke test")
    args = parser.parse_args(argv)
    repeat = 2 if args.quick else args.repeat
    import torch

    torch.set_num_threads(THREADS)
    print(f"one Adam step, wide net {WIDE.sizes}, median of {repeat}, {THREADS} thread(s)")
    print(f"{'batch':>5}  {'dtype':>7}  {'generated':>11}  {'torch.optim':>11}  ratio")
    for batch in args.batch:
        _agree(batch)
        for dtype in (np.float64, np.float32):
            ours = _median(_generated(batch, dtype), repeat)
            theirs = _median(_torch(batch, dtype), repeat)
            name = np.dtype(dtype).name
            print(
                f"{batch:>5}  {name:>7}  {ours * 1e6:>9.0f}us  {theirs * 1e6:>9.0f}us"
                f"  {theirs / ours:5.2f}x"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
