"""Whole derivations: a chain A = B = C ... (one equation, an align environment's rows, or
several lines continued with '=') judged step by step.  Step k is the k-th right side: it is
*right* when A = S_k holds (judged against the truth, the first side) and it *follows* when
S_{k-1} = S_k holds (judged against the step before).  So "step 3 does not follow from step 2,
though step 2 was right" and "step 3 follows from step 2, but step 2 was already wrong" are
told apart; the first step that is not right is where the derivation breaks, and its mistake is
diagnosed against the step before when that one was right, else against the truth."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .diagnose import Diagnosis
from .judge import Session, Verdict
from .reader import LatexError, parse_equation


@dataclass(frozen=True)
class Step:
    """One step of a chain: its number (from 1), the claim A = S_k, whether it is right and
    whether it follows from the step before, what to say, and the mistake."""

    number: int
    text: str
    right: bool
    follows: bool
    verdict: str
    diagnosis: Diagnosis | None = None
    applies: bool = True


def judge_steps(session: Session, text: str) -> list[Step]:
    """The steps of one equation (raises LatexError when it cannot be read)."""
    sides = parse_equation(text)
    pieces = [text[side.pos : side.end].strip() for side in sides]
    first = pieces[0]
    out: list[Step] = []
    previous_right = True
    for k in range(1, len(pieces)):
        claim = f"{first} = {pieces[k]}"
        truth = session.judge(claim)
        against = truth if k == 1 else session.judge(f"{pieces[k - 1]} = {pieces[k]}")
        right, follows = truth.holds, against.holds
        diagnosis: Diagnosis | None = None
        if not truth.applies:
            verdict = truth.reason
        elif right and follows:
            verdict = "holds"
        elif right:
            verdict = f"holds (it does not follow from step {k - 1}, which was wrong)"
        elif follows:
            verdict = f"follows from step {k - 1}, but step {k - 1} was already wrong"
        elif k > 1 and previous_right:
            verdict = f"does not follow from step {k - 1}, though step {k - 1} was right"
            diagnosis = against.diagnosis
        else:
            verdict = "does not hold" if k == 1 else f"does not hold (nor follow from step {k - 1})"
            diagnosis = truth.diagnosis
        if not right and truth.applies and diagnosis is None:
            diagnosis = truth.diagnosis
        out.append(Step(k, claim, right, follows, verdict, diagnosis, truth.applies))
        previous_right = right
    return out


def summary(steps: list[tuple[int, Step]]) -> str:
    """'4 of 6 steps hold; the first that breaks is step 3 of line 2' (steps with their line)."""
    held = sum(s.right for _, s in steps)
    noun = "step holds" if len(steps) == 1 and held == 1 else "steps hold"
    text = f"{held} of {len(steps)} {noun}"
    broken = next(((line, s) for line, s in steps if not s.right), None)
    if broken is None:
        return text
    return f"{text}; the first that breaks is step {broken[1].number} of line {broken[0]}"


def diagnosis_json(diagnosis: Diagnosis | None) -> dict[str, Any] | None:
    if diagnosis is None:
        return None
    return {"kind": diagnosis.kind, "message": diagnosis.message, "repaired": diagnosis.repaired}


def equation_json(
    line: int, text: str, result: Verdict | LatexError, steps: list[Step]
) -> dict[str, Any]:
    """One equation of the --json report (schema in README.md, `verify --json`)."""
    if isinstance(result, LatexError):
        return {"line": line, "text": text, "error": result.message, "steps": []}
    return {
        "line": line,
        "text": text,
        "error": None,
        "holds": result.holds,
        "applies": result.applies,
        "reason": result.reason,
        "correct": result.correct,
        "diagnosis": diagnosis_json(result.diagnosis),
        "steps": [
            {
                "step": s.number,
                "claim": s.text,
                "right": s.right,
                "follows": s.follows,
                "applies": s.applies,
                "verdict": s.verdict,
                "diagnosis": diagnosis_json(s.diagnosis),
            }
            for s in steps
        ],
    }
