"""Time per equation judged by `verify` (issue 15's goal: under 1 s each on this machine class).

    python -m tests.benchmarks.verify_time [--repeat 3]

For each bundled example: every equation `derive` prints, as its whole chain `lhs = r1 = r2
...` (what `verify --file` judges for a derived document, steps included), and the wrong
formulas of tests/test_verify_corpus.py, whose verdict also diagnoses the mistake (the slower
path: each candidate repair is judged too). Times are in-process, after the network's first
equation (which builds the parser and the random points; shown apart); each equation is judged
`repeat` times and its median kept. Then whole-process wall times of one `symbackprop verify`
command, start-up included. Not part of the test run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from symbackprop.derive import derive
from symbackprop.printing.latex import latex
from symbackprop.spec import examples, load_spec
from symbackprop.verify.judge import POINTS, TOLERANCE, Session
from symbackprop.verify.steps import judge_steps

from ..test_verify_corpus import WRONG, network


def _timed(session: Session, text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.judge(text)
        if text.count("=") > 1:
            judge_steps(session, text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print("| network | equations | first | median | slowest | wrong formulas | median | slowest |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    worst: tuple[float, str, str] = (0.0, "", "")
    for name in examples():
        net = load_spec(name)
        chains = [
            " = ".join([latex(eq.lhs), *(latex(r) for r in eq.rhs)])
            for eq in derive(net).all_equations()
        ]
        session = Session(net, 0, POINTS, TOLERANCE)
        start = time.perf_counter()
        session.judge(chains[0])
        first = time.perf_counter() - start
        right = [_timed(session, text, options.repeat) for text in chains]
        wrong_texts = [w.wrong for w in WRONG if w.net == name]
        wrong_session = Session(network(name), 0, POINTS, TOLERANCE)
        wrong = [_timed(wrong_session, text, options.repeat) for text in wrong_texts]
        for times, texts in ((right, chains), (wrong, wrong_texts)):
            for seconds, text in zip(times, texts, strict=True):
                worst = max(worst, (seconds, name, text))
        print(
            f"| {name} | {len(chains)} | {first:.2f} s | {statistics.median(right):.3f} s "
            f"| {max(right):.3f} s | {len(wrong)} | "
            + (f"{statistics.median(wrong):.3f} s | {max(wrong):.3f} s |" if wrong else "— | — |")
        )
    print(f"\nslowest: {worst[0]:.3f} s, {worst[1]}: {worst[2]}")
    argv = [
        sys.executable,
        "-m",
        "symbackprop",
        "verify",
        "--no-cache",  # a first verify: a repeat is served from the cache
        "multi_node",
        r"\frac{\partial E}{\partial w_{jk}^{(l)}} = "
        r"a_k^{(l-1)} \frac{\partial E}{\partial a_j^{(l)}}",
    ]
    walls = []
    for _ in range(options.repeat):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
    print(f"whole process, one wrong equation diagnosed: median {statistics.median(walls):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
