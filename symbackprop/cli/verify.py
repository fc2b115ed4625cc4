"""`symbackprop verify`: does a hand-derived formula in the lecture's LaTeX notation hold?

The argparse definitions live here, light, so `verify --help` loads neither SymPy nor lark;
`run` hands the parsed arguments to `symbackprop.verify.run`. A verdict (exit 0 or 1; the
command writes nothing else then) is kept in the repeat cache (symbackprop.cache) by the spec,
the equation or the --file's bytes, --seed and --json, so a repeat prints it without SymPy.
"""

from __future__ import annotations

import argparse
import sys

from ..arguments import add_no_cache, paragraph, whole_number_arg

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "check a hand-derived formula written in the lecture's LaTeX notation"
#: `symbackprop.verify.judge`'s random points per claim and relative tolerance, named here so
#: that the parser needs no SymPy (a test checks that the two agree).
POINTS = 3
TOLERANCE = 1e-9


def register(commands: Commands) -> None:
    """Add `verify` to the command line."""
    parser = commands.add_parser(
        "verify",
        help=HELP,
        description=paragraph(
            "Read an equation in the notation `derive --format latex` prints and the lecture "
            "uses (a_k^{(l-1)}, w_{jk}^{(l)}, \\sigma'(z_j^{(l)}), \\frac{\\partial E}"
            "{\\partial w_{jk}^{(l)}}, \\sum_{j=1}^{n^{(l)}}, \\delta^{(l)}, \\odot, ^{T}) and "
            "check it for every layer l (L is the last) and unit index: first the indices, then "
            f"the numbers at {POINTS} random points in float64 (relative tolerance "
            f"{TOLERANCE:g}). Units are numbered from 1. Each '=' of a chain is a claim."
        ),
        epilog="Examples:\n"
        '  symbackprop verify multi_node "\\frac{\\partial E}{\\partial w_{jk}^{(l)}} = \\\n'
        "      a_k^{(l-1)} \\cdot \\sigma'(z_j^{(l)}) \\cdot "
        '\\frac{\\partial E}{\\partial a_j^{(l)}}"\n'
        "  symbackprop derive seed_chain --format latex -o seed_chain.tex\n"
        "  symbackprop verify seed_chain --file seed_chain.tex\n"
        "  echo 'E = (a^{(L)} - y)^2' | symbackprop verify seed_chain -\n"
        "Exit status: 0 every equation holds, 1 one does not hold or does not apply (it is\n"
        "checked nowhere on this network), 2 unreadable input.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    parser.add_argument("equation", nargs="?", help="one LaTeX equation ('-' reads it from stdin)")
    parser.add_argument(
        "--file", metavar="F", help="a .tex snippet: one equation per line or align row"
    )
    parser.add_argument(
        "--seed", type=whole_number_arg, default=0, help="seed of the random points (0)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="write the verdicts, steps, diagnoses and score as JSON (for grading scripts)",
    )
    add_no_cache(parser)


#: A --file larger than this is verified without the cache.
MAX_CACHED_FILE = 1_000_000


def run(args: argparse.Namespace) -> int:
    """Verify the equations and print the verdicts; returns the exit status."""
    import contextlib
    import io

    from .. import cache
    from ..errors import SymbackpropError
    from . import write_stdout

    if getattr(args, "seed", 0) < 0:  # NumPy's seeds are 0 or more
        raise SymbackpropError(f"--seed must be 0 or more, got {args.seed}")
    entry = _cache_key(args) if cache.enabled(getattr(args, "no_cache", False)) else None
    hit = cache.get(entry)
    stored = None if hit is None else hit[1].get("status")
    if hit is not None and isinstance(stored, int) and stored in (0, 1):
        write_stdout(hit[0])
        return stored
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            status = _verify(args)
    finally:  # what was printed before an error still shows
        write_stdout(printed.getvalue())
    if status in (0, 1):
        cache.put(entry, printed.getvalue(), {"status": status})
    return status


def _verify(args: argparse.Namespace) -> int:
    from .. import verify
    from ..errors import SymbackpropError

    try:
        return int(verify.run(args))
    except ValueError as err:  # int() of a numeral longer than sys.get_int_max_str_digits()
        if "integer string conversion" not in str(err):
            raise
        raise SymbackpropError(
            f"a number in the equation has more than {sys.get_int_max_str_digits()} digits, "
            "more than can be read"
        ) from None


def _cache_key(args: argparse.Namespace) -> str | None:
    """The repeat cache's entry for this run, or None: standard input (read once, by the
    command) or a --file that cannot be read whole here."""
    import hashlib

    from .. import cache
    from ..errors import SymbackpropError
    from ..files import display_path, read_bounded

    if args.equation == "-" or args.file == "-" or (args.equation is None) == (args.file is None):
        return None
    given: dict[str, object] = {"seed": args.seed, "json": args.json, "equation": args.equation}
    if args.file is not None:
        try:
            raw = read_bounded(args.file, MAX_CACHED_FILE, expected="a .tex file", protect=False)
        except SymbackpropError:
            return None
        given["file"] = display_path(args.file)
        given["file_sha256"] = hashlib.sha256(raw).hexdigest()
    return cache.key("verify", args.spec, given, shown=True)
