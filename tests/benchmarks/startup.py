"""Start-up and first-run times of the command line, as whole-process wall times.

    python -m tests.benchmarks.startup [--repeat 5]

Each command runs `repeat` times in turn with the others (interleaved, so drift on a shared
machine falls on all alike); the table gives medians and the ratio to `python -c "import
sympy"`, the yardstick of issue 14. "First" runs find an empty repeat cache (symbackprop.cache;
a fresh folder each time), "repeated" rows one filled before timing. Every module is compiled
once first into a private PYTHONPYCACHEPREFIX, as an installed package has its bytecode (an
environment with PYTHONDONTWRITEBYTECODE=1 and an editable checkout would otherwise compile
symbackprop's modules on every start, about 0.1 s, while SymPy's come from site-packages);
--no-bytecode measures that case instead. Not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable


def commands(tmp: str) -> dict[str, list[str]]:
    cli = [PY, "-m", "symbackprop"]
    generate = [*cli, "generate", "classifier", "-o", str(Path(tmp, "c.py")), "--force"]
    return {
        "python -c pass": [PY, "-c", "pass"],
        'python -c "import numpy"': [PY, "-c", "import numpy"],
        'python -c "import sympy"': [PY, "-c", "import sympy"],
        "symbackprop --help": [*cli, "--help"],
        "symbackprop --version": [*cli, "--version"],
        "symbackprop examples": [*cli, "examples"],
        "first: symbackprop derive seed_chain": [*cli, "derive", "seed_chain"],
        "first: symbackprop generate classifier": generate,
        "repeated: symbackprop derive seed_chain": [*cli, "derive", "seed_chain"],
        "repeated: symbackprop generate classifier": generate,
        "repeated: symbackprop check classifier": [*cli, "check", "classifier"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-bytecode", action="store_true", help="run as PYTHONDONTWRITEBYTECODE=1 leaves it"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = commands(tmp)
        env = {**os.environ, "SYMBACKPROP_CACHE_DIR": str(Path(tmp, "cache"))}
        env.pop("SYMBACKPROP_NO_CACHE", None)
        if not options.no_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp, "pycache"))
        fresh = iter(range(1_000_000))

        def environment(name: str) -> dict[str, str]:
            if not name.startswith("first"):
                return env
            return {**env, "SYMBACKPROP_CACHE_DIR": str(Path(tmp, f"empty-{next(fresh)}"))}

        for name, argv in runs.items():  # compiles, and fills the cache of the repeated rows
            subprocess.run(argv, capture_output=True, check=True, env=environment(name))
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(options.repeat):
            for name, argv in runs.items():
                where = environment(name)
                start = time.perf_counter()
                subprocess.run(argv, capture_output=True, check=True, env=where)
                times[name].append(time.perf_counter() - start)
    yardstick = statistics.median(times['python -c "import sympy"'])
    print("| command | median wall time | × import sympy |")
    print("|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median:.3f} s | {median / yardstick:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
