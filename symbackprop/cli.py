"""The `symbackprop` command: exit 0 when done, 1 when a check fails, 2 for bad input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from . import gd, train, verify
from ._version import __version__
from .codegen import generate, write_module
from .derive import derive
from .errors import SymbackpropError
from .files import write_atomic
from .gradcheck import DIRECTIONAL_ABOVE, gradcheck, report
from .render import Format, render
from .spec import examples, load_spec

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symbackprop",
        description="Derive back-propagation symbolically from a network spec (TOML).",
        epilog="Example: symbackprop derive seed_chain --format text\n"
        "Exit status: 0 done, 1 a check failed, 2 bad input.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
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

    generate_cmd = commands.add_parser(
        "generate",
        help="write a standalone NumPy training module for a spec",
        description="Write a Python module that needs only NumPy: forward, loss, gradients, "
        "sgd_step, train and predict, each backward line citing its equation.",
        epilog="Examples:\n  symbackprop generate multi_node\n"
        "  symbackprop generate my_net.toml -o my_net.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate_cmd.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    generate_cmd.add_argument(
        "-o", "--output", help="the file to write (default generated/NAME.py)"
    )
    generate_cmd.add_argument(
        "--force", action="store_true", help="overwrite a module even if it was edited by hand"
    )

    check_cmd = commands.add_parser(
        "check",
        help="check the generated gradients against finite differences",
        description="Generate the module into a temporary folder, import it, and compare its "
        "gradients with central finite differences of its loss on random data (float64). "
        f"Above {DIRECTIONAL_ABOVE} parameters it compares random directional derivatives.",
        epilog="Example: symbackprop check classifier",
    )
    check_cmd.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    check_cmd.add_argument("--seed", type=int, default=0, help="seed of the data and weights")

    gd.register(commands)
    train.register(commands)
    verify.register(commands)

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
        if args.command == "generate":
            return _generate(args)
        if args.command == "check":
            return _check(args)
        if hasattr(args, "func"):
            return int(args.func(args))
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
        from .selfcheck import report as self_check_report
        from .selfcheck import self_check

        results = self_check(derivation)
        print(self_check_report(results), file=sys.stderr)
        status = EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
    if args.output:
        write_atomic(args.output, document)
    else:
        sys.stdout.write(document)
    return status


def _generate(args: argparse.Namespace) -> int:
    module = generate(load_spec(args.spec))
    target = Path(args.output) if args.output else Path("generated") / f"{module.name}.py"
    if not args.output:
        target.parent.mkdir(exist_ok=True)
    write_module(module, target, force=args.force)
    print(f"wrote {target}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    result = gradcheck(load_spec(args.spec), seed=args.seed)
    print(report(result))
    return EXIT_OK if result.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
