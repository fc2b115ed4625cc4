"""`symbackprop check`: the generated gradients against central finite differences."""

from __future__ import annotations

import argparse

from ..arguments import add_no_cache, paragraph, whole_number_arg
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
    add_no_cache(parser)


def run(args: argparse.Namespace) -> int:
    """Check the gradients and print the table; returns the exit status."""
    from .. import cache
    from ..codegen import load_module
    from ..errors import SymbackpropError
    from ..gradcheck import check_module, report
    from ..progress import Progress
    from ..spec import load_spec
    from ..train import check_size

    if args.seed < 0:  # NumPy's seeds are 0 or more
        raise SymbackpropError(f"--seed must be 0 or more, got {args.seed}")
    network = load_spec(args.spec)
    check_size(network, rows=4)  # the random point's samples (gradcheck's batch)
    with Progress(keep=False) as progress:
        use = cache.enabled(args.no_cache)
        generated, kinked = cache.module(
            args.spec, network, args.backend, use=use, progress=progress
        )
        module = load_module(generated.source, network.name)
        result = check_module(network, module, kinked, seed=args.seed, progress=progress)
    print(report(result))
    return EXIT_OK if result.ok else EXIT_FAILED
