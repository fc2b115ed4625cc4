"""Judging an equation on a network: the verdict (holds, does not hold, does not apply), the
instances checked, the first counterexample and how it is described."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SymbackpropError
from ..spec import Network
from .diagnose import Diagnosis, diagnose
from .document import split_equations
from .domain import check_sigmas, layer_domain, no_layer, split_domain
from .evaluate import (
    TIME_LIMIT,
    Evaluator,
    Malformed,
    TooLong,
    Undefined,
    as_jacobian,
    check_time,
    first_difference,
    time_limit,
)
from .hints import correct_form, skipped_note
from .indices import Use, index_problems, index_scope, written_form
from .point import Point, check_size, one_neuron_chain
from .reader import LatexError, parse_equation
from .symbolic import symbolic_identities
from .tree import Claim, Mode, Node, layers_used

#: Random points per claim, and the agreement asked of both sides there (relative; near zero
#: evaluate.ABSOLUTE_TOLERANCE).
POINTS = 3
TOLERANCE = 1e-9
#: Index tuples checked per claim and layer before sampling.
MAX_INSTANCES = 400


@dataclass(frozen=True)
class Instance:
    """Where a claim fails: its step ('=' number), the random point, layer values, and unit
    indices (from 1; in vector form the entry: ("entry", r) or ("row", r), ("column", c))."""

    step: int
    point: int
    layers: tuple[tuple[str, int], ...]
    indices: tuple[tuple[str, int], ...]
    left: float | None
    right: float | None


@dataclass(frozen=True)
class Verdict:
    """Whether an equation holds on a network, why, and the derivation's form of it."""

    holds: bool
    reason: str
    instance: Instance | None
    correct: str | None
    tolerance: float
    checked: int = 0
    symbolic: bool = False
    #: False when the equation was checked at no instance (it names no layer of this network):
    #: then `holds` is False too, and `reason` starts "does not apply".
    applies: bool = True
    #: When it does not hold: the known mistake that explains it (its repaired form checked to
    #: hold), or a Diagnosis of kind None ("no known mistake explains it").
    diagnosis: Diagnosis | None = None
    #: The values of l it was checked at (None: it has no l).
    layers: tuple[int | None, ...] = ()

    def __str__(self) -> str:
        """What `symbackprop verify` prints for it: the reason, then the mistake, the
        correction and the derivation's form where there are."""
        lines = [self.reason]
        if self.diagnosis is not None:
            lines.append(f"  mistake: {self.diagnosis.message}")
            if self.diagnosis.repaired:
                lines.append(f"  corrected, as you wrote it: {self.diagnosis.repaired}")
        if not self.holds and self.applies and self.correct:
            lines.append(f"  the derivation has: {self.correct}")
        return "\n".join(lines)


class Session:
    """One network, seed and tolerance: the random points, built once for every equation and
    every repair a diagnosis tries on it."""

    def __init__(self, net: Network, seed: int, points: int, tolerance: float) -> None:
        self.net, self.seed, self.points, self.tolerance = net, seed, points, tolerance
        self._states: dict[tuple[Network, bool], list[Point]] = {}

    def states(self, evaluated: Network, softmax_elementwise: bool = False) -> list[Point]:
        key = (evaluated, softmax_elementwise)
        if key not in self._states:
            self._states[key] = [
                Point(evaluated, self.seed + p, softmax_elementwise) for p in range(self.points)
            ]
        return self._states[key]

    def holds(
        self, text: str, softmax_elementwise: bool = False, at: tuple[int | None, ...] = ()
    ) -> bool:
        """Whether `text` holds everywhere it is checked, and at least at the layers `at` (a
        repair a diagnosis tries must hold wherever the student's equation was checked); no
        hint, no diagnosis, no symbolic check."""
        try:
            sides = parse_equation(text)
            verdict = _judge(self, sides, text, quick=True, elementwise=softmax_elementwise)
        except (LatexError, SymbackpropError, RecursionError):
            return False
        covered = set(at) <= set(verdict.layers)
        return verdict.holds and verdict.applies and verdict.checked > 0 and covered

    def judge(self, text: str) -> Verdict:
        """The full verdict on one equation (raises LatexError when it cannot be read)."""
        sides = parse_equation(text)
        try:
            with time_limit(TIME_LIMIT):
                return _judge(self, sides, text)
        except RecursionError:
            raise LatexError("the equation is nested too deeply", text, 0) from None
        except TooLong:
            raise LatexError(
                f"checking this equation takes too long (limit {TIME_LIMIT:g} s)", text
            ) from None


def verify(
    network: Network,
    equation: str,
    *,
    seed: int = 0,
    points: int = POINTS,
    tolerance: float = TOLERANCE,
) -> Verdict:
    """Judge one LaTeX equation on `network`; raises LatexError when it cannot be read (or
    takes longer than evaluate.TIME_LIMIT to check)."""
    return Session(network, seed, points, tolerance).judge(equation)


def verify_text(
    network: Network, text: str, *, seed: int = 0, tolerance: float = TOLERANCE
) -> list[tuple[int, Verdict | LatexError]]:
    """Judge every equation of a .tex snippet; (line, verdict or reading error) for each."""
    out: list[tuple[int, Verdict | LatexError]] = []
    session = Session(network, seed, POINTS, tolerance)
    for start, end in split_equations(text):
        line = 1 + text.count("\n", 0, start)
        try:
            out.append((line, session.judge(text[start:end])))
        except LatexError as err:
            out.append((line, err.at(text, start)))
    return out


def _judge(
    session: Session,
    sides: list[Node],
    text: str,
    *,
    quick: bool = False,
    elementwise: bool = False,
) -> Verdict:
    """The verdict on one equation.  `quick`: whether it holds, and nothing more (no hint, no
    diagnosis, no symbolic check), as a diagnosis asks of a repair; `elementwise`: on the
    mistaken network whose softmax layers act unit by unit."""
    net, points, tolerance = session.net, session.points, session.tolerance
    check_sigmas(sides, net, text)
    mode, mixed = written_form(sides)
    checked_at: list[int | None] = []

    def verdict(holds: bool, reason: str, found: _Outcome | None = None, **extra: Any) -> Verdict:
        instance = found.instance if found else None
        checked = extra.get("checked", found.count if found else 0)
        symbolic = extra.get("symbolic", False)
        applies = extra.get("applies", True)
        at = tuple(checked_at)
        if quick:
            return Verdict(
                holds, reason, instance, None, tolerance, checked, symbolic, applies, None, at
            )
        at_l = dict(instance.layers).get("l") if instance else None
        hint = correct_form(net, sides, mode, at_l)
        diagnosis = None
        failed: Claim | None = extra.get("claim")
        if not holds and applies and failed is not None:
            diagnosis = diagnose(session, text, failed, mode, instance, hint, at)
        return Verdict(
            holds, reason, instance, hint, tolerance, checked, symbolic, applies, diagnosis, at
        )

    def not_applying(why: str) -> Verdict:
        return verdict(False, f"does not apply: {why}", applies=False)

    if mixed:
        return verdict(False, f"does not hold: {mixed}")
    evaluated, note = net, ""
    if mode == "neuron":
        restricted = one_neuron_chain(net)
        if restricted is not None:
            evaluated = restricted
            if restricted is not net:
                note = " (on the one-neuron-per-layer chain of this network's activations)"
    check_size(evaluated)
    depth = net.depth
    domain, missing = layer_domain(sides, depth)
    if missing:
        return not_applying(missing)
    everywhere = domain
    # on the mistaken network softmax acts unit by unit: no rule is left out there
    domain, left_out = split_domain(sides, net, domain) if not elementwise else (domain, [])
    checked_at[:] = domain
    skipped = skipped_note(net, mode, sides, left_out) if left_out else ""
    claims = [Claim(n, left, right) for n, (left, right) in enumerate(itertools.pairwise(sides), 1)]
    many = len(claims) > 1
    states = session.states(evaluated, elementwise)
    for claim in claims:
        problem = (
            index_problems(claim.left, claim.right, depth, everywhere) if mode == "index" else None
        )
        if problem:
            found = _check_claim(claim, states, domain, mode, tolerance) if domain else None
            example = ""
            if found is not None and found.instance is not None and found.malformed is None:
                example = f"; for example {_counterexample(found.instance, mode, points)}"
            reason = f"{_step(claim, many)}does not hold: {problem}{example}"
            return verdict(False, reason, found if example else None, claim=claim)
    if not domain and left_out:
        only = "the only layer l" if len(left_out) == 1 else "every layer l"
        return not_applying(
            "it reads layer l's derivative unit by unit, a rule for elementwise activations, "
            f"and {only} of this network it has is {skipped}"
        )
    if not domain:
        return not_applying(no_layer(sides, depth))
    checked = 0
    vacuous: list[str] = []
    for claim in claims:
        found = _check_claim(claim, states, domain, mode, tolerance)
        checked += found.count
        step = _step(claim, many)
        if found.instance is not None:
            if found.malformed is not None:
                where = _describe(found.instance, mode, points)
                reason = f"{step}does not hold {where}: {found.malformed}"
                return verdict(False, reason, found, claim=claim)
            example = _counterexample(found.instance, mode, points)
            reason = f"{step}does not hold {example}{note}"
            return verdict(False, reason, found, checked=checked, claim=claim)
        if found.count == 0:
            why, benign = found.skipped or ("it has no instance on this network", True)
            if not benign:
                return verdict(False, f"{step}does not hold: {why}", checked=checked)
            return not_applying(f"{step}{why}".strip())
        if found.skipped is not None:
            vacuous.append(f"{step}{found.skipped[0]}".strip())
    identities = symbolic_identities(claims) if mode != "vector" and not quick else 0
    how = f"{checked} instances at {points} random points{note}"
    also = ""
    if identities:
        also = (
            "; it is also a symbolic identity"
            if len(claims) == 1
            else f"; {identities} of its {len(claims)} steps are also symbolic identities"
        )
    symbolic = identities == len(claims)
    if left_out:
        how += f" at l = {', '.join(str(v) for v in domain)}"
        skipped = f"; not at {skipped}"
    if vacuous:
        reason = f"holds where it applies ({'; '.join(vacuous)}); checked {how}{skipped}"
        return verdict(True, reason, checked=checked, symbolic=symbolic)
    reason = f"holds: checked {how}, relative tolerance {tolerance:g}{also}{skipped}"
    return verdict(True, reason, checked=checked, symbolic=symbolic)


def _step(claim: Claim, many: bool) -> str:
    ordinal = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
    name = ordinal.get(claim.step, f"{claim.step}th")
    return f"the {name} '=' " if many else ""


@dataclass
class _Outcome:
    """What checking one claim found: the first disagreement, or why no instance was defined."""

    instance: Instance | None = None
    malformed: str | None = None  # the sides have no value there (shapes that do not fit)
    count: int = 0
    skipped: tuple[str, bool] | None = None  # the first reason an instance was skipped, benign


def _check_claim(
    claim: Claim, states: list[Point], domain: list[int | None], mode: Mode, tolerance: float
) -> _Outcome:
    """Compare both sides at every point, layer l and index tuple until they disagree."""
    depth = states[0].depth
    letters: list[str] = []
    uses: dict[str, list[Use]] = {}
    if mode == "index":
        for side in (claim.left, claim.right):
            for letter, found in index_scope(side, depth).free.items():
                if letter not in uses:
                    letters.append(letter)
                uses.setdefault(letter, []).extend(found)
    out = _Outcome()
    uses_big_l = "L" in layers_used([claim.left, claim.right])
    for number, point in enumerate(states, start=1):
        ev = Evaluator(point)
        for l_value in domain:
            layers: tuple[tuple[str, int], ...] = (("l", l_value),) if l_value is not None else ()
            if uses_big_l:
                layers += (("L", depth),)
            ranges = []
            for letter in letters:
                widths = [
                    point.sizes[u.layer.value(l_value, depth)] for u in uses[letter] if u.layer
                ]
                ranges.append(range(1, min(widths, default=0) + 1))
            for values in _tuples(ranges):
                check_time()
                env = dict(zip(letters, values, strict=True))
                if l_value is not None:
                    env["l"] = l_value
                try:
                    left = ev.value(claim.left, env)
                    right = ev.value(claim.right, env)
                    left, right = as_jacobian(claim.left, left, right)
                    right, left = as_jacobian(claim.right, right, left)
                    differ = first_difference(left, right, tolerance)
                except Malformed as err:
                    out.instance = Instance(claim.step, number, layers, (), None, None)
                    out.malformed = str(err)
                    return out
                except Undefined as err:
                    if out.skipped is None or (out.skipped[1] and not err.benign):
                        out.skipped = (err.reason, err.benign)
                    continue
                out.count += 1
                if differ is None:
                    continue
                (r, c), lv, rv = differ
                indices = tuple(zip(letters, values, strict=True))
                if mode != "index" and np.size(left) > 1:
                    wide = np.shape(left)[1] > 1
                    indices = (("row", r + 1), ("column", c + 1)) if wide else (("entry", r + 1),)
                out.instance = Instance(claim.step, number, layers, indices, lv, rv)
                return out
    return out


def _counterexample(instance: Instance, mode: Mode, points: int) -> str:
    """'at l=2, j=1 (units numbered from 1; random point 1 of 3): left 0.1, right 0.2'."""
    return (
        f"{_describe(instance, mode, points)}: "
        f"left {instance.left:.10g}, right {instance.right:.10g}"
    )


def _describe(instance: Instance, mode: Mode, points: int) -> str:
    """'at l=2, j=1, k=2 (units numbered from 1; random point 1 of 3)'."""
    parts = [f"{name}={value}" for name, value in (*instance.layers, *instance.indices)]
    notes = []
    if instance.indices:
        notes.append("units numbered from 1" if mode == "index" else "entries numbered from 1")
    notes.append(f"random point {instance.point} of {points}")
    head = "at " + ", ".join(parts) + " " if parts else "at "
    return (
        f"{head}({'; '.join(notes)})" if parts else f"at random point {instance.point} of {points}"
    )


def _tuples(ranges: list[range]) -> Iterator[tuple[int, ...]]:
    total = math.prod(len(r) for r in ranges)
    if total <= MAX_INSTANCES:
        yield from itertools.product(*ranges)
        return
    rng = np.random.default_rng(0)
    for _ in range(MAX_INSTANCES):
        yield tuple(int(r[int(rng.integers(len(r)))]) for r in ranges)
