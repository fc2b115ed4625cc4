"""Shared pieces of the command line: argument types with plain messages, and help layout.

Light on purpose: the parsers import it, and `--help` must not load SymPy or NumPy.
"""

from __future__ import annotations

import argparse
import textwrap

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from typing import TypeAlias

    #: What `register(commands)` of each command module receives: `add_subparsers()`'s result.
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

HELP_WIDTH = 78
_SHOWN = 40


def paragraph(text: str) -> str:
    """Help prose wrapped for a terminal (the help formatter keeps layout as written)."""
    return textwrap.fill(text, HELP_WIDTH)


def number_arg(text: str) -> float:
    """An argument that must be a number, such as 0.5 or 1e-3."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {_shown(text)}") from None


def whole_number_arg(text: str) -> int:
    """An argument that must be a whole number, such as 100."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {_shown(text)}") from None


def add_no_cache(parser: argparse.ArgumentParser) -> None:
    """The --no-cache option of the commands that use symbackprop.cache's repeat cache."""
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="derive again and leave the repeat cache alone (also SYMBACKPROP_NO_CACHE=1)",
    )


def _shown(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 4] + "...'"
