"""`symbackprop derive`: the derivation as text, LaTeX, beamer slides or Markdown."""

from __future__ import annotations

import argparse
import sys

from ..arguments import paragraph
from .exits import EXIT_FAILED, EXIT_OK, status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "derive every layer's partial derivatives and print them"
#: The values of `render.Format`, named here so that the parser needs no SymPy (a test checks
#: that the two agree).
FORMATS = ("latex", "beamer", "markdown", "text")


def register(commands: Commands) -> None:
    """Add `derive` to the command line."""
    parser = commands.add_parser(
        "derive",
        help=HELP,
        description=paragraph(
            "Derive dE/dw, dE/db and dE/da for every layer, in the lecture's three views (one "
            "neuron per layer, index form, vectorised form). A progress line is drawn on stderr "
            "when it is a terminal."
        ),
        epilog="Examples:\n  symbackprop derive seed_chain --format text\n"
        "  symbackprop derive multi_node --format beamer -o slides.tex\n"
        "  symbackprop derive xor --format markdown --self-check\n"
        + status_line(failed="--self-check found a disagreement"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="latex (article), beamer (slides), markdown ($$ blocks) or text (default)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to this file instead of stdout"
    )
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="also differentiate E written out in every weight and compare (small networks)",
    )


def run(args: argparse.Namespace) -> int:
    """Derive, render, optionally self-check, and write; returns the exit status."""
    from ..derive import derive
    from ..files import write_atomic
    from ..progress import Progress
    from ..render import render
    from ..spec import load_spec

    network = load_spec(args.spec)
    with Progress(keep=False) as progress:
        derivation = derive(network, progress=progress)
        document = render(derivation, args.format, progress=progress)
    status = EXIT_OK
    if args.self_check:
        from ..selfcheck import report, self_check

        results = self_check(derivation)
        print(report(results), file=sys.stderr)
        status = EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
    if args.output is not None:
        write_atomic(args.output, document)
    else:
        sys.stdout.write(document)
    return status
