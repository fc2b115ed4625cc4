"""The `gd` subcommand's work (`run`); its arguments are defined in symbackprop/cli/gd.py, which
imports this only when `gd` runs (so `gd --help` needs no SymPy)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from ..cli.exits import EXIT_BAD_INPUT, EXIT_OK
from ..cli.exits import EXIT_FAILED as EXIT_DIVERGED
from ..errors import SymbackpropError, TextError
from ..files import display_path

# A module, not its names: printing/worked.py imports gd.engine, so this import can run while
# printing.worked is still loading; its functions are looked up when the command runs.
from ..printing import worked
from .engine import check_settings, gradient_descent, parse_start, read_problem
from .functions import expression
from .methods import compare
from .plot import PLOT_ALL_STEPS, check_plot, matplotlib, plot
from .report import summary, table

__all__ = ["EXIT_BAD_INPUT", "EXIT_DIVERGED", "EXIT_OK", "run"]


def run(args: argparse.Namespace) -> int:
    """The `gd` command: 0 when done, 1 when diverging, 2 (or SymbackpropError) for bad input."""
    args.expr = expression(args.expr)  # a bundled function's name stands for it
    try:
        return _run(args)
    except TextError as err:  # EXPR: the message, then the expression with a caret under it
        print(f"symbackprop: error: {err}{err.caret_lines()}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace) -> int:
    """Check everything first (a --plot that cannot be written fails before any work), descend,
    then print the table or the worked LaTeX, the stop line, and draw the plot."""
    if args.method is not None:
        return compare(args)
    missing = [
        flag for flag, value in (("--lr", args.lr), ("--steps", args.steps)) if value is None
    ]
    if missing:
        raise SymbackpropError(
            f"{' and '.join(missing)} required (or compare optimisers: --method)"
        )
    args.tol = 0.0 if args.tol is None else args.tol
    args.every = 1 if args.every is None else args.every
    start = parse_start(args.start)
    if args.plot is not None:
        check_settings(args.lr, args.steps, args.tol, args.every)
        _, names, _ = read_problem(args.expr, start, args.var)
        check_plot(args.plot, len(names))
        matplotlib()
    keep = 1 if args.plot is not None and args.steps <= PLOT_ALL_STEPS else args.every
    result = gradient_descent(
        args.expr, start, args.lr, args.steps, args.tol, args.var, keep_every=keep
    )
    notes: TextIO = sys.stderr if args.latex else sys.stdout
    if args.latex:
        sys.stdout.write(worked.worked_latex(result))
    else:
        sys.stdout.write(table(result, args.every))
    print(summary(result), file=notes)
    if args.plot is not None:
        plot(result, args.plot)
        print(f"wrote {display_path(args.plot)}", file=notes)
    return EXIT_DIVERGED if result.stop == "diverging" else EXIT_OK
