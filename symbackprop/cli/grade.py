"""`symbackprop grade`: every answers file of a folder judged step by step, with a mark per
question and the diagnosis of each step, as CSV (or JSON) for instructors and scripts."""

from __future__ import annotations

import argparse

from ..arguments import paragraph
from .exits import status_line

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from ..arguments import Commands

HELP = "grade students' answers files (from 'exercise') with a score and diagnosis per step"


def register(commands: Commands) -> None:
    """Add `grade` to the command line."""
    parser = commands.add_parser(
        "grade",
        help=HELP,
        description=paragraph(
            "Read every .tex file of ANSWERS_DIR that has an answers header (the answers.tex "
            "that 'symbackprop exercise' writes, filled in), rebuild its questions on the "
            "network its header names (the spec's, or the variant for its seed), and judge "
            "each answer's chain of steps as 'verify --file' does: against the truth and "
            "against the step before, with the mistake named. A question's mark is the share "
            "of its steps that hold, halved when the last step still has a partial derivative "
            "the solution works out; a missing or unreadable answer, or one that starts from "
            "another left side, scores 0. The CSV has a row per step (student, seed, question, "
            "marks, score, total, status, step, right, follows, verdict, mistake, diagnosis)."
        ),
        epilog="Examples:\n"
        "  symbackprop exercise multi_node --seed 3 -o answers\n"
        "  symbackprop grade multi_node answers -o scores.csv\n"
        "  symbackprop grade multi_node answers --json\n" + status_line(ok="graded", failed=None),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("spec", help="the spec the exercise was made from (file or bundled name)")
    parser.add_argument("answers", metavar="ANSWERS_DIR", help="a folder of answers .tex files")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the CSV here and print one line per student (default: CSV on stdout)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the grades as JSON instead (schema symbackprop-grade/1)",
    )


def run(args: argparse.Namespace) -> int:
    """Grade the folder and write the report; returns the exit status."""
    import json
    import sys

    from ..errors import SymbackpropError
    from ..files import display_path, write_atomic
    from ..spec import load_spec
    from ..verify import grade
    from . import write_stdout

    network = load_spec(args.spec)
    graded = []
    for path in grade.answer_files(args.answers):
        text = grade.read_answers(path)
        shown = display_path(path)
        if text is None:
            print(f"symbackprop: note: {shown}: no answers header, skipped", file=sys.stderr)
            continue
        graded.append(grade.grade_text(network, text, shown, path.stem))
    if not graded:
        raise SymbackpropError(f"{display_path(args.answers)}: no answers file (.tex) found")
    table = grade.csv_text(graded)
    if args.output is not None:
        write_atomic(args.output, table)
    if args.json:
        write_stdout(json.dumps(grade.json_document(args.spec, graded), indent=2) + "\n")
    elif args.output is not None:
        write_stdout("".join(grade.summary_line(s) + "\n" for s in graded))
    else:
        write_stdout(table)
    return 0
