"""How long derive, generate and check take on the activation zoo; not part of the test run.

    python -m tests.zoo_campaign [--only NAME ...] [--json FILE]

Every activation of tests/zoo.py goes into a hidden layer (a sigmoid output with squared error
and with binary cross-entropy, a softmax output with cross-entropy) and into the output layer
(squared error and half squared error), each as three `symbackprop` processes: `derive`, `generate`
and `check`, run one after another. Prints one line per network (seconds of each command,
their exit statuses) and the slowest total: the README's zoo figures come from this script.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .zoo import ZOO

HIDDEN = """name = "{name}"
inputs = 3
loss = "{loss}"
[[layers]]
units = 4
activation = {{ name = "{act}", expr = "{expr}" }}
[[layers]]
units = {out_units}
activation = "{out}"
"""
OUTPUT = """name = "{name}"
inputs = 3
loss = "{loss}"
[[layers]]
units = 4
activation = "tanh"
[[layers]]
units = 2
activation = {{ name = "{act}", expr = "{expr}" }}
"""
PLACES = (
    ("hidden", HIDDEN, {"loss": "squared_error", "out": "sigmoid", "out_units": 1}),
    ("hidden", HIDDEN, {"loss": "binary_cross_entropy", "out": "sigmoid", "out_units": 1}),
    ("hidden", HIDDEN, {"loss": "cross_entropy", "out": "softmax", "out_units": 3}),
    ("output", OUTPUT, {"loss": "squared_error"}),
    ("output", OUTPUT, {"loss": "half_squared_error"}),
)


def run(args: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
    return time.perf_counter() - start, done.returncode, last[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--json", default=None)
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for member in ZOO:
            if options.only and member.name not in options.only:
                continue
            for place, template, fields in PLACES:
                name = f"{member.name}_{place}_{fields['loss']}"
                spec = Path(tmp, f"{name}.toml")
                text = template.format(name=name, act=member.name, expr=member.expr, **fields)
                spec.write_text(text, encoding="utf-8")
                times, codes, notes = [], [], []
                for command in (
                    ["derive", str(spec), "--format", "text"],
                    ["generate", str(spec), "-o", str(Path(tmp, f"{name}.py")), "--force"],
                    ["check", str(spec)],
                ):
                    seconds, code, note = run(command)
                    times.append(seconds)
                    codes.append(code)
                    notes.append(note)
                total = sum(times)
                status = "ok" if codes == [0, 0, 0] else "FAILED " + " | ".join(notes)
                print(
                    f"{name:44s} derive {times[0]:5.2f} s  generate {times[1]:5.2f} s"
                    f"  check {times[2]:5.2f} s  total {total:5.2f} s  {status}",
                    flush=True,
                )
                rows.append({"network": name, "seconds": times, "codes": codes})
    worst = max(rows, key=lambda r: sum(r["seconds"]))
    failed = [r["network"] for r in rows if r["codes"] != [0, 0, 0]]
    print(
        f"{len(rows)} networks, {len(failed)} failed; slowest {worst['network']}"
        f" in {sum(worst['seconds']):.2f} s"
    )
    if options.json:
        Path(options.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
