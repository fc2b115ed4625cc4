"""`symbackprop check`: the generated gradients against central finite differences."""

from __future__ import annotations

import argparse

from ..arguments import paragraph, whole_number_arg
from .exits import EXIT_FAILED, EXIT_OK, status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "check the generated gradients against finite differences"
#: `gradcheck.DIRECTIONAL_ABOVE`, named here so that the parser needs no NumPy (a test checks
#: that the two agree).
DIRECTIONAL_ABOVE = 10_000


def register(commands: Commands) -> None:
    """Add `check` to the command line."""
    parser = commands.add_parser(
        "check",
        help=HELP,
        description=paragraph(
            "Generate the module into a temporary folder, import it, and compare its gradients "
            "with central finite differences of its loss on random data (float64). Above "
            f"{DIRECTIONAL_ABOVE} parameters it compares random directional derivatives. A "
            "progress line is drawn on stderr when it is a terminal."
        ),
        epilog="Examples:\n  symbackprop check classifier\n  symbackprop check xor --seed 1\n"
        "  symbackprop check xor --backend array-api\n"
        + status_line(ok="every gradient matches", failed="one does not"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    parser.add_argument(
        "--seed", type=whole_number_arg, default=0, help="seed of the data and weights (0)"
    )
    parser.add_argument(
        "--backend",
        choices=("numpy", "array-api"),
        default="numpy",
        help="the module to check: numpy (default) or array-api (run on NumPy arrays)",
    )


def run(args: argparse.Namespace) -> int:
    """Check the gradients and print the table; returns the exit status."""
    from ..errors import SymbackpropError
    from ..gradcheck import gradcheck, report
    from ..progress import Progress
    from ..spec import load_spec
    from ..train import check_size

    if args.seed < 0:  # NumPy's seeds are 0 or more
        raise SymbackpropError(f"--seed must be 0 or more, got {args.seed}")
    network = load_spec(args.spec)
    check_size(network)
    with Progress(keep=False) as progress:
        result = gradcheck(network, seed=args.seed, progress=progress, backend=args.backend)
    print(report(result))
    return EXIT_OK if result.ok else EXIT_FAILED
