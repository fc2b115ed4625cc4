"""`symbackprop exercise`: a worksheet with chosen equations left blank, an answers file to fill
in and the solutions, for the spec's network or a variant of the same shape drawn by --seed."""

from __future__ import annotations

import argparse

from ..arguments import paragraph, whole_number_arg
from .exits import status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "write a worksheet, an answers file and the solutions for students"
#: `verify.exercise.KINDS`, `VIEWS` and `POOL`, named here so that the parser needs no SymPy (a
#: test checks that they agree).
KINDS = ("dE_da_out", "sigma_prime", "jacobian", "delta", "dE_dw", "dE_db", "dE_da_prev")
VIEWS = ("index", "chain", "vector")
POOL = ("sigmoid", "tanh", "softplus")


def register(commands: Commands) -> None:
    """Add `exercise` to the command line."""
    parser = commands.add_parser(
        "exercise",
        help=HELP,
        description=paragraph(
            "Write three LaTeX files into a folder: worksheet.tex (the network drawn and "
            "written out, its forward pass and loss, and one question per equation of the "
            "asked kinds at each layer, L down to 1), answers.tex (the file a student fills "
            "in and hands back; 'symbackprop grade' reads it) and solutions.tex (the answers "
            "file filled in with the derivation's steps). With --seed N the network is a "
            "variant of the same shape: the widths, the loss and a softmax output kept, each "
            f"other activation drawn from {', '.join(POOL)}; give each student a seed."
        ),
        epilog="Examples:\n"
        "  symbackprop exercise multi_node --seed 3 -o sheet3\n"
        "  symbackprop exercise xor --view vector --ask delta,dE_dw -o xor_sheet\n"
        + status_line(failed=None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    parser.add_argument(
        "--seed",
        type=whole_number_arg,
        default=None,
        help="draw a variant network of the same shape (default: the spec's own network)",
    )
    parser.add_argument(
        "--view", choices=VIEWS, default="index", help="the view the questions are in (index)"
    )
    parser.add_argument(
        "--ask",
        metavar="KIND,...",
        default=",".join(KINDS),
        help=f"the equations left blank, of {', '.join(KINDS)} (default: all of them)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="the folder to write (made if missing; default NAME_exercise, or NAME_sheetN)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the three files; returns the exit status."""
    from pathlib import Path

    from ..errors import SymbackpropError
    from ..files import display_path, write_atomic
    from ..spec import load_spec
    from ..verify import exercise

    if args.seed is not None and args.seed < 0:  # NumPy's seeds are 0 or more
        raise SymbackpropError(f"--seed must be 0 or more, got {args.seed}")
    kinds = exercise.parse_kinds(args.ask)
    network = load_spec(args.spec)
    ex = exercise.make(network, args.seed, args.view, kinds)
    folder = Path(
        args.output
        or (f"{network.name}_exercise" if args.seed is None else f"{network.name}_sheet{args.seed}")
    )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SymbackpropError(
            f"{display_path(folder)}: cannot make the folder ({err.strerror or 'error'})"
        ) from None
    documents = {
        "worksheet.tex": exercise.worksheet(ex),
        "answers.tex": exercise.answers(ex),
        "solutions.tex": exercise.solutions(ex),
    }
    for name, text in documents.items():
        write_atomic(folder / name, text)
    layers = ", ".join(layer.activation.name for layer in ex.network.layers)
    print(
        f"wrote {display_path(folder)}/: worksheet.tex, answers.tex, solutions.tex "
        f"({len(ex.questions)} questions; layers {layers})"
    )
    return 0
