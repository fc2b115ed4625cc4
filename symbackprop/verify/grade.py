"""Grading answers files: each question's chain of steps judged like `verify --file` (against
the truth and against the step before), a mark per question, and the diagnosis of each step.

A question's mark is the share of its steps that hold (1 when all do), halved when the last step
still has a partial derivative that the solution works out (∂z_j/∂w_jk, ∂a_j/∂z_j, ...). An
answer whose first side is not the question's left side (compared numerically, so any notation
`verify` reads will do), or that is missing or unreadable, scores 0 and says why."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SymbackpropError
from ..files import display_path, read_bounded
from ..spec import Network
from .diagnose import Diagnosis
from .document import split_equations
from .exercise import QUESTION, Exercise, make, read_header
from .judge import POINTS, TOLERANCE, Session
from .reader import MAX_TEXT, LatexError, parse_equation
from .steps import Step, diagnosis_json, judge_steps
from .tree import Node, Part, walk

#: The largest answers file read, and the most files a folder may hold.
MAX_FILE = 10 * MAX_TEXT
MAX_FILES = 10_000
_TAG = re.compile(r"\\(tag\*?|label)\s*\{[^{}\n]*\}")


@dataclass(frozen=True)
class Answer:
    """One question's grade: its mark (0 to 1), the steps judged, and what to say."""

    question: int
    lhs: str
    marks: float
    status: str  # "answered", "no answer", "unreadable", "another question"
    note: str
    line: int | None = None
    steps: tuple[Step, ...] = ()
    worked_out: bool = True


@dataclass(frozen=True)
class Submission:
    """One student's answers file, graded."""

    student: str
    path: str
    seed: int | None
    answers: tuple[Answer, ...] = field(default_factory=tuple)

    @property
    def score(self) -> float:
        return sum(a.marks for a in self.answers)

    @property
    def total(self) -> int:
        return len(self.answers)


def _layer(part_side: Any, depth: int) -> int | None:
    layer = part_side.layer
    if layer is None or layer.base == "l":
        return None
    return int(layer.value(None, depth))


def _partials(node: Node, depth: int) -> set[tuple[str, int | None, str, int | None]]:
    return {
        (n.num.kind, _layer(n.num, depth), n.den.kind, _layer(n.den, depth))
        for n in walk(node)
        if isinstance(n, Part)
    }


def _regions(text: str) -> dict[int, tuple[int, int]]:
    """Question number -> (start, end) of its region: from its marker to the next."""
    marks = list(QUESTION.finditer(text))
    out: dict[int, tuple[int, int]] = {}
    for n, mark in enumerate(marks):
        end = marks[n + 1].start() if n + 1 < len(marks) else len(text)
        body = text[mark.end() : end]
        stop = body.find("\\end{document}")
        out.setdefault(
            int(mark.group(1)), (mark.end(), mark.end() + (len(body) if stop < 0 else stop))
        )
    return out


def _blank(piece: str) -> bool:
    bare = _TAG.sub("", piece).replace("&", "")
    return not bare.strip() or bare.rstrip().endswith("=")


def grade_answer(
    session: Session, ex: Exercise, number: int, text: str, region: tuple[int, int] | None
) -> Answer:
    """One question of an answers file."""
    q = ex.questions[number - 1]
    if region is None:
        return Answer(number, q.lhs, 0.0, "no answer", f"no '% question {number}' line")
    start, end = region
    spans = [(a + start, b + start) for a, b in split_equations(text[start:end])]
    spans = [(a, b) for a, b in spans if not _blank(text[a:b])]
    line = 1 + text.count("\n", 0, spans[0][0]) if spans else None
    if not spans:
        return Answer(number, q.lhs, 0.0, "no answer", "nothing written after the left side")
    steps: list[Step] = []
    first: str | None = None
    last: Node | None = None
    for a, b in spans:
        piece = text[a:b]
        try:
            sides = parse_equation(piece)
            if len(sides) < 2:
                raise LatexError("an answer is an equation: its left side = its steps", piece, 0)
            chain = judge_steps(session, piece)
        except LatexError as err:
            where = 1 + text.count("\n", 0, a)
            return Answer(number, q.lhs, 0.0, "unreadable", f"line {where}: {err.message}", where)
        if first is None:
            first = piece[sides[0].pos : sides[0].end].strip()
        offset = len(steps)
        steps += [_renumber(s, offset) for s in chain]
        last = sides[-1]
    assert first is not None and last is not None
    if first != q.lhs and not session.holds(f"{q.lhs} = {first}"):
        note = f"the answer starts from {first}, not the question's {q.lhs}"
        return Answer(number, q.lhs, 0.0, "another question", note, line, tuple(steps))
    held = sum(s.right for s in steps)
    marks = held / len(steps)
    depth = ex.network.depth
    wanted = _partials(parse_equation(f"x = {q.steps[-1]}")[1], depth)
    worked_out = _partials(last, depth) <= wanted
    if not worked_out:
        marks /= 2
    noun = "step holds" if len(steps) == 1 else "steps hold"
    note = f"{held} of {len(steps)} {noun}" + ("" if worked_out else "; not worked out to the end")
    return Answer(number, q.lhs, marks, "answered", note, line, tuple(steps), worked_out)


def _renumber(step: Step, offset: int) -> Step:
    from dataclasses import replace

    return replace(step, number=step.number + offset)


def grade_text(network: Network, text: str, source: str, student: str) -> Submission:
    """Grade one answers file against the exercise its header names, on `network` (the spec)."""
    header = read_header(text, source)
    if header is None:
        raise SymbackpropError(f"{source}: no '% symbackprop answers:' header line")
    name, seed, view, kinds = header
    if name != network.name:
        raise SymbackpropError(f"{source}: the header names network {name!r}, not {network.name!r}")
    ex = make(network, seed, view, kinds)
    session = Session(ex.network, 0, POINTS, TOLERANCE)
    regions = _regions(text)
    extra = sorted(n for n in regions if not 1 <= n <= len(ex.questions))
    if extra:
        raise SymbackpropError(
            f"{source}: question {extra[0]} is not on this exercise (it has {len(ex.questions)})"
        )
    graded = tuple(
        grade_answer(session, ex, q.number, text, regions.get(q.number)) for q in ex.questions
    )
    return Submission(student, source, seed, graded)


def answer_files(folder: str) -> list[Path]:
    """The .tex files of a folder that are answers files (sorted by name)."""
    path = Path(folder)
    if not path.is_dir():
        raise SymbackpropError(f"{display_path(folder)}: not a folder of answers files")
    found: list[Path] = []
    for entry in sorted(path.iterdir()):
        if len(found) > MAX_FILES:
            raise SymbackpropError(f"{display_path(folder)}: more than {MAX_FILES} files")
        if entry.suffix == ".tex" and entry.is_file():
            found.append(entry)
    return found


def read_answers(path: Path) -> str | None:
    """An answers file's text, or None when it is a .tex file without the header (a worksheet)."""
    raw = read_bounded(path, MAX_FILE, expected="an answers .tex file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SymbackpropError(
            f"{display_path(path)}: not UTF-8 text (bad byte at offset {err.start})"
        ) from None
    return text if read_header(text, display_path(path)) is not None else None


# ---------------------------------------------------------------- reports

CSV_FIELDS = (
    "student",
    "seed",
    "question",
    "marks",
    "score",
    "total",
    "status",
    "step",
    "right",
    "follows",
    "verdict",
    "mistake",
    "diagnosis",
)


def _rows(sub: Submission) -> Iterator[dict[str, Any]]:
    for a in sub.answers:
        base = {
            "student": sub.student,
            "seed": "" if sub.seed is None else sub.seed,
            "question": a.question,
            "marks": f"{a.marks:g}",
            "score": f"{sub.score:g}",
            "total": sub.total,
            "status": a.status,
        }
        if not a.steps or a.status != "answered":
            yield {**base, "verdict": a.note}
            continue
        for s in a.steps:
            d: Diagnosis | None = s.diagnosis if not s.right else None
            yield {
                **base,
                "step": s.number,
                "right": int(s.right),
                "follows": int(s.follows),
                "verdict": s.verdict,
                "mistake": "" if d is None or d.kind is None else d.kind,
                "diagnosis": "" if d is None else d.message,
            }


def csv_text(subs: list[Submission]) -> str:
    """One row per step (or per question without steps), the marks and score repeated."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, restval="", lineterminator="\n")
    writer.writeheader()
    for sub in subs:
        writer.writerows(_rows(sub))
    return out.getvalue()


def json_document(spec: str, subs: list[Submission]) -> dict[str, Any]:
    """The --json report (schema `symbackprop-grade/1`, in README.md)."""
    return {
        "schema": "symbackprop-grade/1",
        "spec": spec,
        "submissions": [
            {
                "student": s.student,
                "file": s.path,
                "seed": s.seed,
                "score": s.score,
                "total": s.total,
                "questions": [
                    {
                        "question": a.question,
                        "lhs": a.lhs,
                        "marks": a.marks,
                        "status": a.status,
                        "note": a.note,
                        "line": a.line,
                        "worked_out": a.worked_out,
                        "steps": [
                            {
                                "step": st.number,
                                "claim": st.text,
                                "right": st.right,
                                "follows": st.follows,
                                "verdict": st.verdict,
                                "diagnosis": diagnosis_json(st.diagnosis),
                            }
                            for st in a.steps
                        ],
                    }
                    for a in s.answers
                ],
            }
            for s in subs
        ],
    }


def summary_line(sub: Submission) -> str:
    """'alice (sheet 3): 6.5 of 8; question 2: missing sigma'' for the terminal."""
    sheet = "" if sub.seed is None else f" (sheet {sub.seed})"
    text = f"{sub.student}{sheet}: {sub.score:g} of {sub.total}"
    lost = [a for a in sub.answers if a.marks < 1]
    for a in lost[:3]:
        kinds = [
            s.diagnosis.kind for s in a.steps if not s.right and s.diagnosis and s.diagnosis.kind
        ]
        why = kinds[0] if kinds else a.status if a.status != "answered" else a.note
        text += f"; question {a.question}: {why}"
    if len(lost) > 3:
        text += f"; {len(lost) - 3} more"
    return text
