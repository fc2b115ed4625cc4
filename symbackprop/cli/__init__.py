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
    "write_stdout",
]

#: The subcommands, in the order `symbackprop --help` lists them; each is `cli/NAME.py`.
COMMANDS = (
    "derive",
    "generate",
    "check",
    "gd",
    "train",
    "predict",
    "verify",
    "exercise",
    "grade",
    "optimizers",
    "examples",
)


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
    from ..files import protect_inputs

    try:
        _utf8_stdout()
        _note_shadowed_names(args)
        with protect_inputs():
            status = int(command_module(args.command).run(args))
        _flush_stdout()  # a closed pipe or a full disk shows here, not at exit
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


def _note_shadowed_names(args: argparse.Namespace) -> None:
    """A SPEC or --data that names a bundled example or data set but is also a file here means
    the file: say so, once, on stderr (the run goes on)."""
    from .examples import names
    from .train import BUNDLED_DATA

    for value, bundled, kind in (
        (getattr(args, "spec", None), names(), "example"),
        (getattr(args, "data", None), BUNDLED_DATA, "data set"),
    ):
        if isinstance(value, str) and value in bundled and os.path.lexists(value):
            print(
                f"symbackprop: note: {value} is the file ./{value} here, not the bundled {kind}"
                f" {value} (rename or move the file to use the {kind})",
                file=sys.stderr,
            )


def write_stdout(text: str) -> None:
    """Write `text` to standard output as UTF-8, every byte of it: a short write (a nearly
    full disk, PYTHONUNBUFFERED=1) is continued, and a failure is one line, never dropped. A
    reader that went away raises BrokenPipeError (exit 141)."""
    from ..files import write_all

    stream = sys.stdout
    if stream is None:  # started with >&-
        raise SymbackpropError("standard output is closed; write to a file with -o FILE")
    _flush_stdout()
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture it)
        stream.write(text)
        return
    try:
        write_all(fd, text.encode("utf-8"))
    except BrokenPipeError:
        raise
    except OSError as err:
        _discard_stdout()
        raise SymbackpropError(_stdout_failed(err)) from None


def _flush_stdout() -> None:
    """Flush what print() left in the buffer; a failure other than a closed pipe is one line."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        _discard_stdout()
        raise SymbackpropError(_stdout_failed(err)) from None


def _stdout_failed(err: OSError) -> str:
    return f"standard output: cannot write ({err.strerror or 'error'})"


def _utf8_stdout() -> None:
    """Outputs are UTF-8 (as -o FILE writes them) whatever the locale: under LC_ALL=C with
    PYTHONUTF8=0, standard output would otherwise refuse σ and η."""
    import codecs

    stream = sys.stdout
    encoding = getattr(stream, "encoding", None)
    if stream is None or not encoding or codecs.lookup(encoding).name == "utf-8":
        return
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(encoding="utf-8")


def _discard_stdout() -> None:
    """Point stdout at the null device, so that Python's final flush cannot fail again."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture it), or None
        pass
