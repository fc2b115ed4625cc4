"""The `symbackprop` command: exit 0 when done, 1 when a check fails, 2 for bad input.

Every subcommand is a module of this package with the same three names: `HELP` (its line in
`symbackprop --help`), `register(commands)` (its argparse definitions) and `run(args)` (the
work, returning the exit status). Only the command being run is registered in full and run;
the others appear by their `HELP` line. The parsers import nothing heavy: `run` imports SymPy,
NumPy and the rest inside, so `--help`, `--version`, `examples` and a malformed command line
start at once. For the same reason the light modules write `TYPE_CHECKING = False` rather
than import it from typing (mypy reads either; typing alone takes about 10 ms to import).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from .._version import __version__
from ..errors import SymbackpropError
from .exits import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    status_line,
)

__all__ = [
    "COMMANDS",
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "main",
    "parser",
]

#: The subcommands, in the order `symbackprop --help` lists them; each is `cli/NAME.py`.
COMMANDS = ("derive", "generate", "check", "gd", "train", "verify", "examples")


def command_module(name: str) -> ModuleType:
    """The module of one subcommand (light: its parser only)."""
    return importlib.import_module(f"{__name__}.{name}")


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser, with `command` (if one of COMMANDS) registered in full."""
    top = argparse.ArgumentParser(
        prog="symbackprop",
        description="Derive back-propagation symbolically from a network spec (TOML).",
        epilog="Example: symbackprop derive seed_chain --format text\n"
        "Run 'symbackprop COMMAND --help' for a command's options and examples.\n"
        f"{status_line()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument(
        "--version",
        action="version",
        version=f"symbackprop {__version__}",
        help="print the version and exit",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = command_module(name)
        if name == command:
            module.register(commands)
        else:  # listed in --help; never parsed, since the command line names another
            commands.add_parser(name, help=module.HELP)
    return top


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand a command line names: its first word that is not an option (the top
    level has only --help and --version, which take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(words)
    args = parser(command).parse_args(words)
    try:
        status = int(command_module(args.command).run(args))
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except SymbackpropError as err:
        print(f"symbackprop: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("symbackprop: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): stop quietly, like other tools
        _discard_stdout()
        return EXIT_BROKEN_PIPE


def _discard_stdout() -> None:
    """Point stdout at the null device, so that Python's final flush cannot fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # not a real file (tests capture it)
        pass
