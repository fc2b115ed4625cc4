"""The `symbackprop` command: exit 0 when done, 1 when a check fails, 2 for bad input."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from . import gd, train, verify
from ._version import __version__
from .arguments import paragraph, whole_number_arg
from .codegen import generate, write_module
from .derive import derive
from .errors import SymbackpropError
from .files import write_atomic
from .gradcheck import DIRECTIONAL_ABOVE, gradcheck, report
from .progress import Progress
from .render import Format, render
from .spec import examples, load_spec

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: What a shell reports for a command stopped by a closed pipe (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symbackprop",
        description="Derive back-propagation symbolically from a network spec (TOML).",
        epilog="Example: symbackprop derive seed_chain --format text\n"
        "Run 'symbackprop COMMAND --help' for a command's options and examples.\n"
        "Exit status: 0 done, 1 a check failed, 2 bad input.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"symbackprop {__version__}",
        help="print the version and exit",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    derive_cmd = commands.add_parser(
        "derive",
        help="derive every layer's partial derivatives and print them",
        description=paragraph(
            "Derive dE/dw, dE/db and dE/da for every layer, in the lecture's three views (one "
            "neuron per layer, index form, vectorised form). A progress line is drawn on stderr "
            "when it is a terminal."
        ),
        epilog="Examples:\n  symbackprop derive seed_chain --format text\n"
        "  symbackprop derive multi_node --format beamer -o slides.tex\n"
        "  symbackprop derive xor --format markdown --self-check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    derive_cmd.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    derive_cmd.add_argument(
        "--format",
        choices=get_args(Format),
        default="text",
        help="latex (article), beamer (slides), markdown ($$ blocks) or text (default)",
    )
    derive_cmd.add_argument(
        "-o", "--output", metavar="FILE", help="write to this file instead of stdout"
    )
    derive_cmd.add_argument(
        "--self-check",
        action="store_true",
        help="also differentiate E written out in every weight and compare (small networks)",
    )

    generate_cmd = commands.add_parser(
        "generate",
        help="write a standalone NumPy training module for a spec",
        description=paragraph(
            "Write a Python module that needs only NumPy: forward, loss, gradients, sgd_step, "
            "train and predict, each backward line citing its equation."
        ),
        epilog="Examples:\n  symbackprop generate multi_node\n"
        "  symbackprop generate classifier -o classifier.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate_cmd.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    generate_cmd.add_argument(
        "-o", "--output", metavar="FILE", help="the file to write (default generated/NAME.py)"
    )
    generate_cmd.add_argument(
        "--force", action="store_true", help="overwrite a module even if it was edited by hand"
    )

    check_cmd = commands.add_parser(
        "check",
        help="check the generated gradients against finite differences",
        description=paragraph(
            "Generate the module into a temporary folder, import it, and compare its gradients "
            "with central finite differences of its loss on random data (float64). Above "
            f"{DIRECTIONAL_ABOVE} parameters it compares random directional derivatives. A "
            "progress line is drawn on stderr when it is a terminal."
        ),
        epilog="Examples:\n  symbackprop check classifier\n  symbackprop check xor --seed 1\n"
        "Exit status: 0 every gradient matches, 1 one does not, 2 bad input.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check_cmd.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    check_cmd.add_argument(
        "--seed", type=whole_number_arg, default=0, help="seed of the data and weights (0)"
    )

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
        status = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except SymbackpropError as err:
        print(f"symbackprop: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly, like other tools
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _run(args: argparse.Namespace) -> int:
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


def _discard_stdout() -> None:
    """Point stdout at the null device, so that Python's final flush cannot fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # not a real file (tests capture it)
        pass


def _derive(args: argparse.Namespace) -> int:
    network = load_spec(args.spec)
    with Progress(keep=False) as progress:
        derivation = derive(network, progress=progress)
        document = render(derivation, args.format, progress=progress)
    status = EXIT_OK
    if args.self_check:
        from .selfcheck import report as self_check_report
        from .selfcheck import self_check

        results = self_check(derivation)
        print(self_check_report(results), file=sys.stderr)
        status = EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
    if args.output is not None:
        write_atomic(args.output, document)
    else:
        sys.stdout.write(document)
    return status


def _generate(args: argparse.Namespace) -> int:
    if args.output == "":
        raise SymbackpropError("the output file name is empty")
    module = generate(load_spec(args.spec))
    target = Path(args.output) if args.output else Path("generated") / f"{module.name}.py"
    if not args.output:
        target.parent.mkdir(exist_ok=True)
    write_module(module, target, force=args.force)
    print(f"wrote {target}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    network = load_spec(args.spec)
    with Progress(keep=False) as progress:
        result = gradcheck(network, seed=args.seed, progress=progress)
    print(report(result))
    return EXIT_OK if result.ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
