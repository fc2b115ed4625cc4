"""`symbackprop generate`: write the standalone NumPy training module of a spec."""

from __future__ import annotations

import argparse

from ..arguments import paragraph
from ..errors import SymbackpropError
from .exits import EXIT_OK, status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "write a standalone NumPy training module for a spec"


def register(commands: Commands) -> None:
    """Add `generate` to the command line."""
    parser = commands.add_parser(
        "generate",
        help=HELP,
        description=paragraph(
            "Write a Python module that needs only NumPy: forward, loss, gradients, sgd_step, "
            "train and predict, each backward line citing its equation."
        ),
        epilog="Examples:\n  symbackprop generate multi_node\n"
        "  symbackprop generate classifier -o classifier.py\n"
        + status_line(ok="written", failed=None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="the file to write (default generated/NAME.py)"
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite a module even if it was edited by hand"
    )


def run(args: argparse.Namespace) -> int:
    """Generate and write the module; returns the exit status."""
    if args.output == "":
        raise SymbackpropError("the output file name is empty")
    from pathlib import Path

    from ..codegen import generate, write_module
    from ..spec import load_spec

    module = generate(load_spec(args.spec))
    target = Path(args.output) if args.output else Path("generated") / f"{module.name}.py"
    if not args.output:
        target.parent.mkdir(exist_ok=True)
    write_module(module, target, force=args.force)
    print(f"wrote {target}")
    return EXIT_OK
