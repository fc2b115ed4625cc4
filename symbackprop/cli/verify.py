"""`symbackprop verify`: does a hand-derived formula in the lecture's LaTeX notation hold?

For now its argparse definitions are `symbackprop.verify.register`'s, imported only when `verify`
is the command run (so `verify --help` loads SymPy and lark); they move here once the
`symbackprop.verify` package lands.
"""

from __future__ import annotations

import argparse
import sys

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
    from ..errors import SymbackpropError

    if getattr(args, "seed", 0) < 0:  # NumPy's seeds are 0 or more
        raise SymbackpropError(f"--seed must be 0 or more, got {args.seed}")
    try:
        return int(verify.run(args))
    except ValueError as err:  # int() of a numeral longer than sys.get_int_max_str_digits()
        if "integer string conversion" not in str(err):
            raise
        raise SymbackpropError(
            f"a number in the equation has more than {sys.get_int_max_str_digits()} digits, "
            "more than can be read"
        ) from None
