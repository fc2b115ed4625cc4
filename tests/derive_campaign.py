"""How long `symbackprop derive` takes on random custom activations; not part of the test run.

    python -m tests.derive_campaign [--seed 1] [--count 60] [--depth 3] [--timeout 90]

Each expression nests the parser's functions (exp, log, tanh, sqrt, abs, sin, cos, sinh, cosh,
erf), + - * / and squares around z, up to `depth` levels; log and sqrt get 1 + x^2 so they stay
real. Each runs as `symbackprop derive` in a process of its own, two at a time, killed after
`timeout` seconds. Prints one line per expression (seconds, exit status, expression, error) and a
summary: the README's figures for derive's time limit come from seeds 1 and 2.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FUNCTIONS = ("exp", "log", "tanh", "sqrt", "abs", "sin", "cos", "sinh", "cosh", "erf")
SPEC = """name = "campaign"
inputs = 2
loss = "squared_error"
[[layers]]
units = 3
activation = {{ name = "f", expr = "{expr}" }}
[[layers]]
units = 1
activation = "identity"
"""


def expression(rng: random.Random, depth: int) -> str:
    """A random expression in z of at most `depth` nested levels."""
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(["z", "z", "z", "2", "0.5", "1"])
    kind = rng.random()
    if kind < 0.45:
        name = rng.choice(FUNCTIONS)
        inner = expression(rng, depth - 1)
        return f"{name}(1 + {inner}**2)" if name in ("log", "sqrt") else f"{name}({inner})"
    op = rng.choice(["+", "-", "*", "/", "**2"])
    left = expression(rng, depth - 1)
    if op == "**2":
        return f"({left})**2"
    right = expression(rng, depth - 1)
    if op == "/":
        return f"({left}) / (1 + ({right})**2)"
    return f"({left}) {op} ({right})"


def run(expr: str, folder: Path, index: int, timeout: float) -> tuple[float, str, str]:
    """(seconds, exit status or 'killed', last line of stderr) of one derivation."""
    spec = folder / f"campaign_{index}.toml"
    spec.write_text(SPEC.format(expr=expr), encoding="utf-8")
    start = time.monotonic()
    command = [sys.executable, "-m", "symbackprop", "derive", str(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.monotonic() - start, "killed", ""
    lines = done.stderr.strip().splitlines()
    return time.monotonic() - start, str(done.returncode), lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.derive_campaign")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    exprs: list[str] = []
    while len(exprs) < args.count:
        expr = expression(rng, args.depth)
        if "z" in expr and expr not in exprs:
            exprs.append(expr)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        jobs = [(e, Path(tmp), i, args.timeout) for i, e in enumerate(exprs)]
        results = list(pool.map(lambda job: run(*job), jobs))
    for expr, (seconds, status, error) in zip(exprs, results, strict=True):
        print(json.dumps([round(seconds, 1), status, expr, error], ensure_ascii=False))
    done = [s for s, status, _ in results if status == "0"]
    limited = sum("did not finish" in error for _, _, error in results)
    killed = sum(status == "killed" for _, status, _ in results)
    print(
        f"{len(results)} expressions: {len(done)} derived (slowest {max(done, default=0):.1f} s),"
        f" {limited} stopped by the time limit, {killed} killed after {args.timeout:g} s,"
        f" {len(results) - len(done) - limited - killed} refused as bad input"
    )


if __name__ == "__main__":
    main()
