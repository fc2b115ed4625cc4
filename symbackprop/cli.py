"""The `symbackprop` command: exit 0 when done, 1 when a check fails, 2 for bad input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import get_args

from . import __version__
from .derive import derive
from .errors import SymbackpropError
from .files import write_atomic
from .render import Format, render
from .spec import examples, load_spec

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symbackprop",
        description="Derive back-propagation symbolically from a network spec (TOML).",
        epilog="Example: symbackprop derive seed_chain --format text",
    )
    parser.add_argument("--version", action="version", version=f"symbackprop {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    derive_cmd = commands.add_parser(
        "derive",
        help="derive every layer's partial derivatives and print them",
        description="Derive dE/dw, dE/db and dE/da for every layer, in the lecture's three "
        "views (one neuron per layer, index form, vectorised form).",
        epilog="Examples:\n  symbackprop derive seed_chain --format text\n"
        "  symbackprop derive my_net.toml --format beamer -o slides.tex",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    derive_cmd.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    derive_cmd.add_argument(
        "--format",
        choices=get_args(Format),
        default="text",
        help="latex (article), beamer (slides), markdown ($$ blocks) or text (default)",
    )
    derive_cmd.add_argument("-o", "--output", help="write to this file instead of stdout")
    derive_cmd.add_argument(
        "--self-check",
        action="store_true",
        help="also differentiate E written out in every weight and compare (small networks)",
    )

    commands.add_parser(
        "examples",
        help="list the bundled example specs",
        description="List the bundled example specs; use their names wherever a SPEC goes.",
        epilog="Example: symbackprop examples",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "examples":
            print("\n".join(examples()))
            return EXIT_OK
        return _derive(args)
    except SymbackpropError as err:
        print(f"symbackprop: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return 130


def _derive(args: argparse.Namespace) -> int:
    derivation = derive(load_spec(args.spec))
    document = render(derivation, args.format)
    status = EXIT_OK
    if args.self_check:
        from .selfcheck import report, self_check

        results = self_check(derivation)
        print(report(results), file=sys.stderr)
        status = EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
    if args.output:
        write_atomic(args.output, document)
    else:
        sys.stdout.write(document)
    return status


if __name__ == "__main__":
    sys.exit(main())
