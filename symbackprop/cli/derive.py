"""`symbackprop derive`: the derivation as text, LaTeX, beamer slides, Markdown or HTML."""

from __future__ import annotations

import argparse
import sys

from ..arguments import add_no_cache, paragraph
from .exits import EXIT_FAILED, EXIT_OK, status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "derive every layer's partial derivatives and print them"
#: The values of `render.Format`, named here so that the parser needs no SymPy (a test checks
#: that the two agree).
FORMATS = ("latex", "beamer", "markdown", "text", "html", "revealjs")
#: Other names --format accepts.
ALIASES = {"tex": "latex", "md": "markdown"}
#: The formats a file name's extension allows; the first is what -o FILE alone gives.
EXTENSIONS = {
    ".tex": ("latex", "beamer"),
    ".md": ("markdown",),
    ".txt": ("text",),
    ".html": ("html", "revealjs"),
}


def register(commands: Commands) -> None:
    """Add `derive` to the command line."""
    parser = commands.add_parser(
        "derive",
        help=HELP,
        description=paragraph(
            "Derive dE/dw, dE/db and dE/da for every layer, in the lecture's three views (one "
            "neuron per layer, index form, vectorised form). A progress line is drawn on stderr "
            "when it is a terminal."
        ),
        epilog="Examples:\n  symbackprop derive seed_chain --format text\n"
        "  symbackprop derive multi_node --format beamer -o slides.tex\n"
        "  symbackprop derive xor --format markdown --self-check\n"
        "  symbackprop derive seed_chain --format beamer --brief -o brief.tex\n"
        "  symbackprop derive classifier --views vector --layers L,1 -o classifier.tex\n"
        + status_line(failed="--self-check found a disagreement"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="a TOML spec file, or the name of a bundled example")
    parser.add_argument(
        "--format",
        choices=(*FORMATS, *ALIASES),
        default=None,
        help="latex (article; alias tex), beamer (slides), markdown ($$ blocks; alias md), "
        "text, html (one self-contained page: MathML, SVG diagrams) or revealjs (the beamer "
        "deck as browser slides, self-contained); default: from -o FILE's "
        "extension (.tex latex, .md markdown, .txt text, .html html), else text",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to this file instead of stdout"
    )
    parser.add_argument(
        "--views",
        metavar="VIEW,...",
        help="only these views, of chain (one neuron per layer), index, vector; default: all",
    )
    parser.add_argument(
        "--layers",
        metavar="LAYER,...",
        help="only these layers' equations, as numbers or L, L-1 (the general rules stay); "
        "default: all",
    )
    parser.add_argument(
        "--brief",
        action="store_true",
        help="the general rules and the first and the last layer only (--layers L,1): "
        "a short deck for a deep network",
    )
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="also differentiate E written out in every weight and compare (small networks)",
    )
    add_no_cache(parser)


def output_format(fmt: str | None, output: str | None) -> str:
    """The format: --format (aliases resolved), else the one -o FILE's extension names, else
    text; a --format that FILE's extension does not allow is bad input."""
    import os.path

    from ..errors import SymbackpropError

    fmt = ALIASES.get(fmt, fmt) if fmt is not None else None
    suffix = "" if output is None else os.path.splitext(output)[1].lower()
    allowed = EXTENSIONS.get(suffix)
    if fmt is None:
        return allowed[0] if allowed else "text"
    if allowed and fmt not in allowed:
        raise SymbackpropError(
            f"-o {output}: a {suffix} file holds {' or '.join(allowed)}, not --format {fmt}"
        )
    return fmt


def run(args: argparse.Namespace) -> int:
    """Derive, render, optionally self-check, and write; returns the exit status. A repeat
    (same spec, format and selection) prints the cached document without importing SymPy."""
    from .. import cache

    fmt = output_format(args.format, args.output)
    entry = None
    if cache.enabled(args.no_cache) and not args.self_check:
        options = {"format": fmt, "views": args.views, "layers": args.layers, "brief": args.brief}
        entry = cache.key("derive", args.spec, options, shown=True)
    hit = cache.get(entry)
    if hit is not None:
        document, status = hit[0], EXIT_OK
    else:
        document, status = _derive(args, fmt)
        if status == EXIT_OK:
            cache.put(entry, document)
    if args.output is not None:
        from ..files import write_atomic

        write_atomic(args.output, document)
    else:
        from . import write_stdout

        write_stdout(document)
    return status


def _derive(args: argparse.Namespace, fmt: str) -> tuple[str, int]:
    """The document and the exit status (--self-check's)."""
    from typing import cast

    from ..derive import derive
    from ..progress import Progress
    from ..render import Format, render, select_layers, select_views
    from ..spec import load_spec

    network = load_spec(args.spec)
    if args.self_check:  # too large a network is refused before deriving, not after
        from ..selfcheck import check_small

        check_small(network)
    layer_words = args.layers.split(",") if args.layers is not None else None
    if args.brief:
        layer_words = [*(layer_words or []), "L", "1"]
    layers = None if layer_words is None else select_layers(network.depth, layer_words)
    with Progress(keep=False) as progress:
        derivation = derive(network, progress=progress)
        views = None if args.views is None else select_views(derivation, args.views.split(","))
        shown: Format = cast("Format", fmt)
        document = render(derivation, shown, progress=progress, views=views, layers=layers)
    status = EXIT_OK
    if args.self_check:
        from ..selfcheck import report, self_check

        results = self_check(derivation)
        print(report(results), file=sys.stderr)
        status = EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
    return document, status
