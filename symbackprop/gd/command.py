"""The `gd` subcommand: its arguments (`register`) and what it does with them (`run`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from ..arguments import number_arg, paragraph, whole_number_arg
from ..errors import TextError
from ..files import display_path

# A module, not its names: printing/worked.py imports gd.engine, so this import can run while
# printing.worked is still loading; its functions are looked up when the command runs.
from ..printing import worked
from .engine import MAX_STEPS, check_settings, gradient_descent, parse_start, read_problem
from .plot import PLOT_ALL_STEPS, check_plot, matplotlib, plot
from .report import summary, table

EXIT_OK, EXIT_DIVERGED, EXIT_BAD_INPUT = 0, 1, 2


def register(commands: Any) -> None:
    """Add the `gd` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "gd",
        help="run gradient descent on an expression, as in the lecture's worked example",
        description=paragraph(
            "Differentiate EXPR with SymPy and run gradient descent w <- w - lr * df/dw in "
            "float64, printing the iterations. Stops when the steps are used up, when |grad| < "
            "--tol, or when it diverges (exit status 1)."
        ),
        epilog='Examples:\n  symbackprop gd "(w+5)**2" --start 3 --lr 0.02 --steps 175\n'
        '  symbackprop gd "(w1-1)**2 + 3*(w2+2)**2" --start w1=3,w2=-1 --lr 0.1 --steps 500 \\\n'
        "      --tol 1e-8 --every 10\n"
        '  symbackprop gd "(w+5)**2" --start 3 --lr 0.02 --steps 175 --latex > worked.tex\n'
        '  symbackprop gd "(w+5)**2" --start 3 --lr 0.02 --steps 175 --plot descent.png\n'
        "Exit status: 0 done, 1 diverging, 2 bad input.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("expr", metavar="EXPR", help="the function to minimise, e.g. '(w+5)**2'")
    parser.add_argument(
        "--start",
        required=True,
        help="the starting point: a number (one variable) or NAME=NUMBER,... for each variable",
    )
    parser.add_argument("--lr", type=number_arg, required=True, help="the learning rate (eta) > 0")
    parser.add_argument(
        "--steps",
        type=whole_number_arg,
        required=True,
        metavar="N",
        help=f"the most iterations to run (0 to {MAX_STEPS})",
    )
    parser.add_argument("--var", metavar="NAME", help="the variable, when --start is a bare number")
    parser.add_argument(
        "--tol",
        type=number_arg,
        default=0.0,
        metavar="T",
        help="stop once |grad| < T (default 0: never)",
    )
    parser.add_argument(
        "--every",
        type=whole_number_arg,
        default=1,
        metavar="K",
        help="print every K-th row (the first and last always)",
    )
    parser.add_argument(
        "--latex",
        action="store_true",
        help="print the first and last iterations worked out, as a LaTeX document",
    )
    parser.add_argument("--plot", metavar="FILE.png", help="draw the landscape and the path")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The `gd` command: 0 when done, 1 when diverging, 2 (or SymbackpropError) for bad input."""
    try:
        return _run(args)
    except TextError as err:  # EXPR: the message, then the expression with a caret under it
        print(f"symbackprop: error: {err}{err.caret_lines()}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace) -> int:
    """Check everything first (a --plot that cannot be written fails before any work), descend,
    then print the table or the worked LaTeX, the stop line, and draw the plot."""
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
