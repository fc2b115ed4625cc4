"""The `verify` command: reading the equation or file, and printing verdicts and reading errors
(`run`); exit status 0, 1 or 2. Its arguments are `symbackprop.cli.verify.register`'s (light)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..cli.exits import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from ..errors import SymbackpropError
from ..files import display_path
from ..spec import load_spec
from .document import html_without_annotations, split_equations
from .judge import POINTS, TOLERANCE, Session, Verdict
from .plaintext import as_latex, is_text_derivation
from .reader import MAX_TEXT, LatexError
from .steps import Step, equation_json, judge_steps, summary

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "main", "run"]


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
    session = Session(network, args.seed, POINTS, TOLERANCE)
    if args.file is not None:
        source = "<stdin>" if args.file == "-" else display_path(args.file)
        text = _read(args.file)
        if is_text_derivation(text):  # derive --format text: its equations, line for line
            text = as_latex(text)
        if html_without_annotations(text):
            raise SymbackpropError(
                f"{source}: an HTML page without LaTeX annotations; verify reads the"
                ' <annotation encoding="application/x-tex"> of each equation, as derive'
                " --format html writes them"
            )
        spans = split_equations(text)
        if not spans:
            raise SymbackpropError(f"{source}: no equation found")
    else:
        source = ""
        text = _read("-") if args.equation == "-" else args.equation
        spans = [(0, len(text))]
    status = EXIT_OK
    every: list[tuple[int, Step]] = []
    report: list[dict[str, object]] = []
    for start, end in spans:
        line = 1 + text.count("\n", 0, start)
        prefix = f"{source}:{line}: " if source else ""
        piece = text[start:end]
        result: Verdict | LatexError
        steps: list[Step] = []
        try:
            result = session.judge(piece)
            if len(_sides(piece)) > 2:
                steps = judge_steps(session, piece)
        except LatexError as err:
            result = err if args.file is None else err.at(text, start)
        report.append(equation_json(line, piece.strip(), result, steps))
        if isinstance(result, LatexError):
            if args.file is None:
                raise result
            if not args.json:
                _report_error(result, source)
            status = EXIT_BAD_INPUT
            continue
        every.extend((line, step) for step in steps or [_one_step(result, piece)])
        if not result.holds and status == EXIT_OK:
            status = EXIT_FAILED
        if not args.json:
            _print_verdict(result, prefix)
            for step in steps:
                _print_step(step)
    if args.json:
        held = sum(s.right for _, s in every)
        broken = next(({"line": line, "step": s.number} for line, s in every if not s.right), None)
        document = {
            "schema": "symbackprop-verify/1",
            "network": network.name,
            "source": source or None,
            "seed": args.seed,
            "equations": report,
            "steps": len(every),
            "steps_hold": held,
            "score": held / len(every) if every else 0.0,
            "first_break": broken,
            "exit": status,
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif len(every) > 1:
        print(summary(every))
    return status


def _sides(text: str) -> list[object]:
    from .reader import parse_equation

    return list(parse_equation(text))


def _one_step(verdict: Verdict, text: str) -> Step:
    return Step(1, text.strip(), verdict.holds, verdict.holds, verdict.reason, verdict.diagnosis)


def _print_step(step: Step) -> None:
    print(f"  step {step.number}: {step.verdict}")
    if step.diagnosis is not None and not step.right:
        print(f"    mistake: {step.diagnosis.message}")
        if step.diagnosis.repaired:
            print(f"    corrected, as you wrote it: {step.diagnosis.repaired}")


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
    """`symbackprop verify ...` parsed by the command line's parser and run here (for tests)."""
    from ..cli import parser

    return run(parser("verify").parse_args(argv))
