"""`symbackprop gd`: gradient descent on an expression, the lecture's first half.

For now its argparse definitions are `symbackprop.gd.register`'s, imported only when `gd` is the
command run (so `gd --help` loads SymPy); they move here once the `symbackprop.gd` package lands.
"""

from __future__ import annotations

import argparse

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "run gradient descent on an expression, as in the lecture's worked example"


def register(commands: Commands) -> None:
    """Add `gd` to the command line (symbackprop.gd's definitions)."""
    from .. import gd

    gd.register(commands)


def run(args: argparse.Namespace) -> int:
    """Run gradient descent and print it; returns the exit status."""
    from .. import gd

    return int(gd.run(args))
