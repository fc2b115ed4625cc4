"""`symbackprop gd`: gradient descent on an expression, the lecture's first half.

The argparse definitions are here, light; the work is `symbackprop.gd.run` (SymPy, and
matplotlib for --plot), imported only when `gd` runs.
"""

from __future__ import annotations

import argparse

from ..arguments import number_arg, paragraph, whole_number_arg
from ..errors import SymbackpropError
from .exits import status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "run gradient descent on an expression, as in the lecture's worked example"
#: `gd.engine.MAX_STEPS`, named here so that the parser needs no SymPy (a test checks that the
#: two agree).
MAX_STEPS = 10**7


def register(commands: Commands) -> None:
    """Add `gd` to the command line."""
    parser = commands.add_parser(
        "gd",
        help=HELP,
        description=paragraph(
            "Differentiate EXPR with SymPy and run gradient descent w <- w - lr * df/dw in "
            "float64, printing the iterations. Stops when the steps are used up, when |grad| < "
            "--tol, or when it diverges (exit status 1)."
        )
        + "\n\n"
        + paragraph(
            "--method compares optimisers (sgd, momentum, nesterov, adagrad, rmsprop, adam, "
            "adamw; their rules: symbackprop optimizers) from the same start: a table per "
            "method, then the iterations each took to reach |grad| < --tol, and with --plot "
            "every path on one picture. A method may set its hyper-parameters, "
            "NAME:KEY=VALUE:KEY=VALUE. With --method, --lr (for every method that does not "
            "set its own lr) defaults to each optimiser's PyTorch default, --steps to 1000, "
            "--tol to 1e-6 and --every to a tenth of --steps."
        ),
        epilog='Examples:\n  symbackprop gd "(w+5)**2" --start 3 --lr 0.02 --steps 175\n'
        '  symbackprop gd "(w1-1)**2 + 3*(w2+2)**2" --start w1=3,w2=-1 --lr 0.1 --steps 500 \\\n'
        "      --tol 1e-8 --every 10\n"
        '  symbackprop gd "(w+5)**2" --start 3 --lr 0.02 --steps 175 --latex > worked.tex\n'
        '  symbackprop gd "(w+5)**2" --start 3 --lr 0.02 --steps 175 --plot descent.png\n'
        '  symbackprop gd "(w1-1)**2 + 10*(w2+2)**2" --start 0,0 --lr 0.02 \\\n'
        "      --method sgd,momentum,adam:lr=0.3 --plot methods.png\n"
        "  symbackprop gd rosenbrock --start x=-1.2,y=1 --steps 20000 --tol 1e-4 \\\n"
        "      --method sgd:lr=0.001,momentum:lr=0.001,adam:lr=0.02\n"
        + status_line(failed="diverging"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "expr",
        metavar="EXPR",
        help="the function to minimise, e.g. '(w+5)**2', or a bundled one: rosenbrock"
        " ((1 - x)**2 + 100*(y - x**2)**2)",
    )
    parser.add_argument(
        "--start",
        required=True,
        help="the starting point: a number (one variable) or NAME=NUMBER,... for each variable",
    )
    parser.add_argument(
        "--lr", type=number_arg, help="the learning rate (eta) > 0 (required without --method)"
    )
    parser.add_argument(
        "--steps",
        type=whole_number_arg,
        metavar="N",
        help=f"the most iterations to run (0 to {MAX_STEPS}; required without --method)",
    )
    parser.add_argument(
        "--method",
        metavar="NAME[:KEY=VALUE...],...",
        help="compare optimisers, e.g. sgd,momentum:momentum=0.8,adam:lr=0.1",
    )
    parser.add_argument("--var", metavar="NAME", help="the variable, when --start is a bare number")
    parser.add_argument(
        "--tol",
        type=number_arg,
        metavar="T",
        help="stop once |grad| < T (default 0: never; 1e-6 with --method)",
    )
    parser.add_argument(
        "--every",
        type=whole_number_arg,
        metavar="K",
        help="print every K-th row (the first and last always; default 1, or steps/10 with"
        " --method)",
    )
    parser.add_argument(
        "--latex",
        action="store_true",
        help="print the first and last iterations worked out, as a LaTeX document",
    )
    parser.add_argument("--plot", metavar="FILE.png", help="draw the landscape and the path")


def run(args: argparse.Namespace) -> int:
    """Run gradient descent and print it; returns the exit status."""
    if args.method is None:  # checked before SymPy loads, as argparse checks the rest
        missing = [flag for flag in ("lr", "steps") if getattr(args, flag) is None]
        if missing:
            flags = " and ".join(f"--{flag}" for flag in missing)
            raise SymbackpropError(
                f"{flags} {'is' if len(missing) == 1 else 'are'} required (or compare optimisers:"
                " --method)"
            )
    from ..gd import run

    return int(run(args))
