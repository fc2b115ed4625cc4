"""The `verify` command line: its arguments (`register`), reading the equation or file, and
printing verdicts and reading errors (`run`); exit status 0, 1 or 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..arguments import paragraph, whole_number_arg
from ..errors import SymbackpropError
from ..files import display_path
from ..spec import load_spec
from .judge import POINTS, TOLERANCE, Verdict, verify, verify_text
from .reader import MAX_TEXT, LatexError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def register(commands: Any) -> None:
    """Add the `verify` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "verify",
        help="check a hand-derived formula written in the lecture's LaTeX notation",
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The `verify` command: 0 all hold, 1 one does not (or does not apply), 2 unreadable."""
    try:
        return _run(args)
    except LatexError as err:
        _report_error(err, "equation")
        return EXIT_BAD_INPUT
    except SymbackpropError as err:
        print(f"symbackprop: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace) -> int:
    if (args.equation is None) == (args.file is None):
        raise SymbackpropError("give one EQUATION, '-' for stdin, or --file F")
    network = load_spec(args.spec)
    if args.file is not None:
        source = "<stdin>" if args.file == "-" else display_path(args.file)
        text = _read(args.file)
        results = verify_text(network, text, seed=args.seed)
        if not results:
            raise SymbackpropError(f"{source}: no equation found")
        status = EXIT_OK
        for line, result in results:
            if isinstance(result, LatexError):
                _report_error(result, source)
                status = EXIT_BAD_INPUT
            else:
                _print_verdict(result, f"{source}:{line}: ")
                if not result.holds and status == EXIT_OK:
                    status = EXIT_FAILED
        return status
    text = _read("-") if args.equation == "-" else args.equation
    verdict = verify(network, text, seed=args.seed)
    _print_verdict(verdict, "")
    return EXIT_OK if verdict.holds else EXIT_FAILED


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read(MAX_TEXT * 10 + 1)[: MAX_TEXT * 10]
    try:
        with Path(name).open("rb") as handle:
            raw = handle.read(MAX_TEXT * 10 + 1)
    except OSError as err:
        raise SymbackpropError(
            f"{display_path(name)}: cannot read ({err.strerror or 'error'})"
        ) from None
    if len(raw) > MAX_TEXT * 10:
        raise SymbackpropError(f"{display_path(name)}: too large (limit {MAX_TEXT * 10} bytes)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SymbackpropError(
            f"{display_path(name)}: not UTF-8 text (bad byte at offset {err.start})"
        ) from None


def _print_verdict(verdict: Verdict, prefix: str) -> None:
    print(f"{prefix}{verdict.reason}")
    diagnosis = verdict.diagnosis
    if diagnosis is not None:
        print(f"  mistake: {diagnosis.message}")
        if diagnosis.repaired:
            print(f"  corrected, as you wrote it: {diagnosis.repaired}")
    if not verdict.holds and verdict.applies and verdict.correct:
        print(f"  the derivation has: {verdict.correct}")


def _report_error(err: LatexError, source: str) -> None:
    where, caret = err.where(), err.caret_lines()
    print(f"symbackprop: error: {source}: {where}{err.message}{caret}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """`symbackprop verify ...` on its own (for tests, before the main CLI registers it)."""
    parser = argparse.ArgumentParser(prog="symbackprop")
    commands = parser.add_subparsers(dest="command", required=True)
    register(commands)
    args = parser.parse_args(argv)
    return int(args.func(args))
