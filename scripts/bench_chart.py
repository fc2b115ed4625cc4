"""Draw the README's benchmark chart from the figures `tests.benchmarks.compare` saved.

    python -m tests.benchmarks.compare --memory --json docs/bench/step.json
    python scripts/bench_chart.py [docs/bench/step.json] [-o docs/images/bench-ratios.png]

One group of bars per shape (network, batch, dtype): each implementation's median step time
divided by the generated module's, on a logarithmic axis, so a bar right of 1 means the
generated module is faster. Needs matplotlib (`pip install -e ".[plot]"`). Exit status: 0 done,
2 a missing file, bad figures or no matplotlib.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from symbackprop.errors import SymbackpropError
from symbackprop.files import write_atomic

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "bench" / "step.json"
CHART = ROOT / "docs" / "images" / "bench-ratios.png"
LABELS = {
    "hand_optimised": "hand-optimised NumPy",
    "hand_optimised_exp": "hand-optimised, exp sigmoid",
    "naive": "naive NumPy",
    "torch_eager": "PyTorch eager",
    "torch_compile": "torch.compile",
    "jax_jit": "JAX jit",
    "gemm_only": "matrix products only",
}


def chart(figures: dict[str, Any]) -> bytes:
    """The PNG bytes of the ratio chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = figures["steps"]
    names = [name for name in LABELS if all(name in row["seconds"] for row in rows)]
    shapes = [f"{row['net']} {row['batch']} {row['dtype']}" for row in rows]
    height = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(8, 1.5 + 0.11 * len(rows) * len(names)))
    for i, name in enumerate(names):
        ratios = [row["seconds"][name] / row["seconds"]["generated"] for row in rows]
        ax.barh(
            [r + (i - (len(names) - 1) / 2) * height for r in range(len(rows))],
            ratios,
            height=height,
            label=LABELS[name],
        )
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ticks = [0.2, 0.5, 1, 2, 5, 10]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_yticks(range(len(rows)), shapes)
    ax.invert_yaxis()
    ax.set_xlabel("step time / generated module's step time (right of 1: generated is faster)")
    ax.set_title("One training step; " + "; ".join(figures["machine"][1:]), fontsize=8, wrap=True)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/bench_chart.py")
    parser.add_argument("figures", nargs="?", default=str(FIGURES))
    parser.add_argument("-o", "--output", default=str(CHART))
    args = parser.parse_args(argv)
    try:
        figures = json.loads(Path(args.figures).read_text(encoding="utf-8"))
        png = chart(figures)
    except OSError as err:
        print(f"{args.figures}: cannot read ({err.strerror})", file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError, ZeroDivisionError) as err:
        message = f"{args.figures}: not the figures of tests.benchmarks.compare ({err})"
        print(message, file=sys.stderr)
        return 2
    except ImportError:
        print("matplotlib is needed: pip install -e '.[plot]'", file=sys.stderr)
        return 2
    try:
        write_atomic(Path(args.output), png)
    except SymbackpropError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
