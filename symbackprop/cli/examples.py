"""`symbackprop examples`: the names of the bundled example specs."""

from __future__ import annotations

import argparse

from .exits import EXIT_OK

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "list the bundled example specs"


def register(commands: Commands) -> None:
    """Add `examples` to the command line."""
    commands.add_parser(
        "examples",
        help=HELP,
        description="List the bundled example specs; use their names wherever a SPEC goes.",
        epilog="Example: symbackprop examples",
    )


def names() -> list[str]:
    """The bundled examples, as `spec.examples()` lists them, without importing the spec
    reader (SymPy): the TOML files of the package's examples/ folder."""
    from importlib import resources

    folder = resources.files("symbackprop") / "examples"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def run(args: argparse.Namespace) -> int:
    """Print one name a line."""
    print("\n".join(names()))
    return EXIT_OK
