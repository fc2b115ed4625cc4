"""`symbackprop verify`: does a hand-derived formula in the lecture's LaTeX notation hold?

For now its argparse definitions are `symbackprop.verify.register`'s, imported only when `verify`
is the command run (so `verify --help` loads SymPy and lark); they move here once the
`symbackprop.verify` package lands.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "check a hand-derived formula written in the lecture's LaTeX notation"


def register(commands: Commands) -> None:
    """Add `verify` to the command line (symbackprop.verify's definitions)."""
    from .. import verify

    verify.register(commands)


def run(args: argparse.Namespace) -> int:
    """Verify the equations and print the verdicts; returns the exit status."""
    from .. import verify

    return int(verify.run(args))
