"""`symbackprop optimizers`: the optimisers' update rules as a sheet (LaTeX, Markdown, text).

The argparse definitions are here, light; the rules and printers are imported only when it runs.
"""

from __future__ import annotations

import argparse

from ..arguments import paragraph
from .exits import EXIT_OK, status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "print the optimisers' update rules (SGD, momentum, Adam, ...) as LaTeX, Markdown or text"
#: `optim.OPTIMIZERS`, named here so that the parser needs no SymPy (a test checks they agree).
NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")


def register(commands: Commands) -> None:
    """Add `optimizers` to the command line."""
    parser = commands.add_parser(
        "optimizers",
        help=HELP,
        description=paragraph(
            "Print the update rules of the optimisers that `gd --method`, `train --optimizer` "
            "and the generated module's optimizer_step use, as PyTorch computes them, with "
            "their hyper-parameters and PyTorch's defaults: a LaTeX document (default), "
            "Markdown or plain text. NAME picks optimisers (default: all)."
        ),
        epilog="Examples:\n  symbackprop optimizers --format text adam\n"
        "  symbackprop optimizers > optimizers.tex\n"
        "  symbackprop optimizers --format markdown sgd momentum nesterov\n"
        + status_line(failed=None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", type=_name, help=", ".join(NAMES))
    parser.add_argument(
        "--format",
        choices=("latex", "markdown", "text"),
        default="latex",
        help="the output format (default latex)",
    )


def _name(text: str) -> str:
    """An optimiser's name, one of NAMES."""
    if text not in NAMES:
        raise argparse.ArgumentTypeError(f"unknown optimizer {text!r} (known: {', '.join(NAMES)})")
    return text


def run(args: argparse.Namespace) -> int:
    """Print the sheet."""
    from ..optim.sheet import sheet
    from . import write_stdout

    write_stdout(sheet(args.format, args.names))
    return EXIT_OK
