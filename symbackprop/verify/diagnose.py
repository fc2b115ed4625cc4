"""Naming the mistake: when a claim does not hold, the known mistake that explains it.

Each known mistake is an edit of the right side the student wrote, made on their own text (so
the repair keeps their notation and level of detail): a constant factor, a flipped sign, σ'
missing, extra, at the wrong layer or at a instead of z, the wrong activation's derivative,
w_kj for w_jk, a transpose missing or extra, a sum over the wrong index or the wrong layer's
units, a missing sum, a factor or a term missing or extra, a quantity at the wrong layer or
unit.  A softmax layer treated elementwise is recognised by the numbers themselves: the claim
holds on the mistaken network whose softmax Jacobians are their diagonals.  A mistake is named
only when its repaired equation, read back through the whole check, holds at every point and
instance; otherwise "no known mistake explains it"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING

from .domain import softmax_layers
from .evaluate import TooLong, time_limit
from .hints import sigma_prime_form
from .indices import index_scope, index_uses
from .reader import LatexError, parse_equation
from .tree import (
    Add,
    Call,
    Claim,
    Index,
    LayerRef,
    Mode,
    Mul,
    Node,
    Num,
    Part,
    Pow,
    Qty,
    SumOver,
    Tr,
    show,
    walk,
)

if TYPE_CHECKING:
    from .judge import Instance, Session

#: The most repairs tried per claim, and the seconds a diagnosis may take.
MAX_REPAIRS = 400
DIAGNOSIS_TIME = 8.0

NO_MISTAKE = "no known mistake explains it"


@dataclass(frozen=True)
class Diagnosis:
    """The mistake that explains a failing claim: `kind` (a tag, None when no known mistake
    does), a sentence, and the repaired equation (the student's, one edit made), which holds."""

    kind: str | None
    message: str
    repaired: str | None = None


@dataclass(frozen=True)
class _Repair:
    kind: str
    message: str
    right: str  # the new right side, LaTeX
    softmax_elementwise: bool = False  # judged on the mistaken network (the repair is the truth)


def diagnose(
    session: Session,
    text: str,
    claim: Claim,
    mode: Mode,
    instance: Instance | None,
    correct: str | None,
    at: tuple[int | None, ...] = (),
) -> Diagnosis:
    """The first known mistake whose repair holds (at least at the layers `at` the claim was
    checked at), else 'no known mistake explains it'."""
    left = text[claim.left.pos : claim.left.end]
    editor = _Editor(session, text, claim, mode, correct)
    tried: set[str] = set()
    try:
        with time_limit(DIAGNOSIS_TIME):
            for repair in editor.repairs(instance):
                if len(tried) >= MAX_REPAIRS:
                    break
                key = f"{repair.right}|{repair.softmax_elementwise}"
                if key in tried:
                    continue
                tried.add(key)
                if repair.softmax_elementwise:
                    wrong = f"{left} = {text[claim.right.pos : claim.right.end]}"
                    if session.holds(wrong, True, at) and (not correct or session.holds(correct)):
                        return Diagnosis(repair.kind, repair.message, correct)
                    continue
                equation = f"{left} = {repair.right}"
                if session.holds(equation, False, at):
                    return Diagnosis(repair.kind, repair.message, equation)
    except TooLong:
        pass
    return Diagnosis(None, NO_MISTAKE)


def _wrap(node: Node, text: str) -> str:
    """A node's text, in parentheses where it is a sum (whose span leaves them out)."""
    body = text[node.pos : node.end].strip()
    if isinstance(node, Add):
        return f"\\left({body}\\right)"
    return body


def _layer_text(layer: LayerRef) -> str:
    return f"({layer.text()})"


def _sigma_prime(index: Index | None, layer: LayerRef) -> str:
    sub = f"_{{{index}}}" if index is not None else ""
    return f"\\sigma'(z{sub}^{{{_layer_text(layer)}}})"


def _shift(layer: LayerRef, by: int) -> LayerRef:
    return LayerRef(layer.base, layer.offset + by)


def _ratio_words(ratio: Fraction) -> str:
    named = {Fraction(1, 2): "half", Fraction(2): "twice", Fraction(1, 3): "a third of"}
    return named.get(ratio, f"{ratio} times")


class _Editor:
    """The candidate repairs of one claim's right side, most specific first."""

    def __init__(
        self, session: Session, text: str, claim: Claim, mode: Mode, correct: str | None
    ) -> None:
        self.session, self.net, self.text, self.mode = session, session.net, text, mode
        self.claim, self.right = claim, claim.right
        self.correct = correct
        self.qtys = [n for n in walk(claim.right) if isinstance(n, Qty)]
        every = [n for side in (claim.left, claim.right) for n in walk(side)]
        self.letters = sorted(
            {x for n in every if isinstance(n, Qty) for x in n.indices if isinstance(x, str)}
        )
        self.softmax = softmax_layers(self.net)

    # -- text edits

    def splice(self, *edits: tuple[Node, str]) -> str:
        """The right side's text with each node's span replaced (spans do not overlap)."""
        out = self.text[self.right.pos : self.right.end]
        base = self.right.pos
        for node, new in sorted(edits, key=lambda e: e[0].pos, reverse=True):
            out = out[: node.pos - base] + new + out[node.end - base :]
        return out.strip()

    def whole(self) -> str:
        return _wrap(self.right, self.text)

    def layer_of(self, layer: LayerRef | None) -> int | None:
        """The layer number at the failing instance's l (any l: the first that exists)."""
        if layer is None:
            return None
        if layer.base != "l":
            return layer.value(None, self.net.depth)
        for v in range(self.net.depth + 1):
            m = v + layer.offset
            if 1 <= m <= self.net.depth:
                return m
        return None

    def at_softmax(self, nodes: list[Node]) -> bool:
        """Whether these nodes read a softmax layer's a or z (some l)."""
        for node in nodes:
            for q in walk(node):
                if isinstance(q, Qty) and q.kind in ("a", "z") and q.layer is not None:
                    if q.layer.base == "l":
                        hit = any(
                            v + q.layer.offset in self.softmax for v in range(self.net.depth + 1)
                        )
                    else:
                        hit = q.layer.value(None, self.net.depth) in self.softmax
                    if hit:
                        return True
        return False

    # -- the repairs, in order

    def repairs(self, instance: Instance | None) -> Iterator[_Repair]:
        yield from self.constant(instance)
        yield from self.sigma_at_a()
        yield from self.swapped_weights()
        yield from self.transposes()
        yield from self.sigma_layers()
        yield from self.extra_factors()
        yield from self.softmax_elementwise()
        yield from self.missing_sigma()
        yield from self.activation_derivative()
        yield from self.missing_factors()
        yield from self.sums()
        yield from self.terms()
        yield from self.layers()
        yield from self.indices()

    def constant(self, instance: Instance | None) -> Iterator[_Repair]:
        if instance is None or not instance.left or instance.right is None:
            return
        ratio = instance.right / instance.left
        if not ratio or abs(ratio) > 1e6:
            return
        near = Fraction(ratio).limit_denominator(12)
        if near == 1 or abs(float(near) - ratio) > 1e-9 * abs(ratio):
            return
        if near == -1:
            yield from self.signs()
            return
        fix = 1 / near
        factor = str(fix.numerator) if fix.denominator == 1 else f"\\frac{{{fix.numerator}}}"
        if fix.denominator != 1:
            factor += f"{{{fix.denominator}}}"
        if near < 0:
            message = f"your right side is {_ratio_words(-near)} minus the correct one"
        else:
            message = f"your right side is {_ratio_words(near)} the correct one"
        if fix.denominator == 1 and fix > 1:
            message += f": a factor {fix} is missing"
            if self.correct and self.has_number(fix):
                message = message.replace(f"a factor {fix}", f"the {fix} of {self.correct}")
        elif fix.numerator == 1 and fix.denominator > 1:
            message += f": a factor {fix.denominator} is extra"
        yield _Repair("constant factor", message, f"{factor} {self.whole()}")

    def has_number(self, value: Fraction) -> bool:
        """Whether the derivation's right side has the factor `value`."""
        assert self.correct is not None
        try:
            right = parse_equation(self.correct)[-1]
        except LatexError:
            return False
        terms = [t for _, t in right.terms] if isinstance(right, Add) else [right]
        return any(
            isinstance(f, Num) and f.value == value
            for term in terms
            for f in ([x for _, x in term.factors] if isinstance(term, Mul) else [term])
        )

    def signs(self) -> Iterator[_Repair]:
        message = "the sign is flipped: your right side is minus the correct one"
        for node in walk(self.right):
            if isinstance(node, Add) and len(node.terms) == 2:
                (s1, t1), (s2, t2) = node.terms
                if s1 == 1 and s2 == -1:
                    t = self.text
                    swapped = f"{t[t2.pos : t2.end]} - {t[t1.pos : t1.end]}"
                    yield _Repair(
                        "sign",
                        f"the sign is flipped: write {swapped}, not {t[node.pos : node.end]}",
                        self.splice((node, swapped)),
                    )
        body = self.text[self.right.pos : self.right.end].lstrip()
        flipped = body[1:] if body.startswith("-") else f"-{self.whole()}"
        yield _Repair("sign", message, flipped)

    def sigma_at_a(self) -> Iterator[_Repair]:
        for node in walk(self.right):
            if (
                isinstance(node, Call)
                and node.fn == "sigma_prime"
                and isinstance(node.arg, Qty)
                and node.arg.kind == "a"
                and node.arg.layer is not None
            ):
                z = replace(node.arg, kind="z")
                message = (
                    f"σ' is evaluated at z, not at a: write \\sigma'({show(z)}), not "
                    f"\\sigma'({show(node.arg)})"
                )
                yield _Repair("sigma' at a", message, self.splice((node.arg, show(z))))

    def swapped_weights(self) -> Iterator[_Repair]:
        for q in self.qtys:
            if q.kind == "w" and len(q.indices) == 2 and q.indices[0] != q.indices[1]:
                fixed = replace(q, indices=(q.indices[1], q.indices[0]))
                message = (
                    f"{show(q)} should be {show(fixed)}: w_{{jk}} is the weight from unit k of "
                    "layer l-1 to unit j of layer l"
                )
                yield _Repair("w_kj for w_jk", message, self.splice((q, show(fixed))))

    def transposes(self) -> Iterator[_Repair]:
        if self.mode != "vector":
            return
        t = self.text
        for node in walk(self.right):
            if isinstance(node, Tr):
                inner = _wrap(node.arg, t)
                yield _Repair(
                    "extra transpose",
                    f"the transpose of {t[node.arg.pos : node.arg.end]} is extra",
                    self.splice((node, inner)),
                )
        for q in self.qtys:
            if q.kind in ("w", "a", "delta", "z", "b", "y") and not q.indices:
                yield _Repair(
                    "missing transpose",
                    f"{show(q)} needs a transpose: ({show(q)})^{{T}}",
                    self.splice((q, f"({show(q)})^{{T}}")),
                )
        yield _Repair(
            "transposed",
            "your right side is the transpose of the correct one",
            f"\\left({t[self.right.pos : self.right.end]}\\right)^{{T}}",
        )

    def sigma_layers(self) -> Iterator[_Repair]:
        left_layers = [q.layer for q in walk(self.claim.left) if isinstance(q, Qty) and q.layer]
        for node in walk(self.right):
            if not (isinstance(node, Call) and node.fn == "sigma_prime"):
                continue
            arg = node.arg
            if not (isinstance(arg, Qty) and arg.kind == "z" and arg.layer is not None):
                continue
            layers = [_shift(arg.layer, -1), _shift(arg.layer, 1), *left_layers]
            indices: list[Index | None] = [arg.indices[0]] if arg.indices else [None]
            if arg.indices:
                indices += [x for x in self.letters if x != arg.indices[0]]
            for layer in dict.fromkeys(layers):
                for index in indices:
                    if layer == arg.layer:
                        continue
                    new = _sigma_prime(index, layer)
                    message = (
                        f"σ' belongs to layer {layer.text()}: write {new}, not "
                        f"{self.text[node.pos : node.end]}"
                    )
                    yield _Repair("sigma' at the wrong layer", message, self.splice((node, new)))

    def extra_factors(self) -> Iterator[_Repair]:
        """A factor (or two or three in a row) too many: σ' where the loss cancels it, σ' of a
        softmax layer, anything else."""
        for node in walk(self.right):
            if not isinstance(node, Mul) or any(op == "/" for op, _ in node.factors):
                continue
            factors = node.factors
            for size in (1, 2, 3):
                for start in range(len(factors) - size + 1):
                    kept = factors[:start] + factors[start + size :]
                    if not kept:
                        continue
                    removed = [f for _, f in factors[start : start + size]]
                    shown = " ".join(self.text[f.pos : f.end] for f in removed)
                    new = self.join(kept, node)
                    sigmaish = self.is_derivative(*removed)
                    if sigmaish and self.at_softmax(removed):
                        kind = "softmax elementwise"
                        message = (
                            f"the factor {shown} reads a softmax layer's derivative unit by unit; "
                            "softmax's derivative is its Jacobian ∂a_i/∂z_j, and here it is "
                            "already in the rest (with cross-entropy, δ^{(L)} = a^{(L)} - y)"
                        )
                    elif sigmaish:
                        kind = "extra sigma'"
                        message = f"the factor {shown} is extra (the loss's derivative cancels it)"
                    else:
                        kind = "extra factor"
                        message = f"the factor {shown} is extra"
                    yield _Repair(kind, message, self.splice((node, new)))

    def is_derivative(self, *nodes: Node) -> bool:
        """σ'(...), ∂a/∂z, or a product or sum in a and z of one unit (a form of σ'), not the
        quantity alone."""
        if len(nodes) == 1 and isinstance(nodes[0], Call) and nodes[0].fn == "sigma_prime":
            return True
        if len(nodes) == 1 and isinstance(nodes[0], Part):
            return (nodes[0].num.kind, nodes[0].den.kind) == ("a", "z")
        if len(nodes) == 1 and isinstance(nodes[0], Qty):
            return False
        found = [n for node in nodes for n in walk(node) if isinstance(n, Qty)]
        return bool(found) and all(
            q.kind in ("a", "z") and (q.layer, q.indices) == (found[0].layer, found[0].indices)
            for q in found
        )

    def join(self, factors: tuple[tuple[str, Node], ...], node: Mul) -> str:
        t = self.text
        if len(factors) == 1 and node is self.right:
            return t[factors[0][1].pos : factors[0][1].end]
        dot = " \\cdot " if "\\cdot" in t[node.pos : node.end] else " "
        out = ""
        for n, (op, f) in enumerate(factors):
            piece = _wrap(f, t)
            out += piece if n == 0 else (" \\odot " if op == "odot" else dot) + piece
        return out

    def softmax_elementwise(self) -> Iterator[_Repair]:
        if not self.softmax:
            return
        nodes = [n for n in walk(self.right) if self.is_derivative(n)]
        if not any(self.at_softmax([n]) for n in nodes) and not self.at_softmax([self.right]):
            return
        message = (
            "a softmax layer is treated elementwise: its derivative is the Jacobian "
            "∂a_i/∂z_j = a_i(δ_ij - a_j), not a_j(1 - a_j) unit by unit; your formula is what "
            "softmax acting on each unit alone would give"
        )
        yield _Repair("softmax elementwise", message, "", softmax_elementwise=True)

    def sigma_places(self) -> list[tuple[Index | None, LayerRef]]:
        """(unit, layer) of the a, z, δ and ∂E/∂a of the equation: where a σ' might be."""
        out: list[tuple[Index | None, LayerRef]] = []
        every = [n for side in (self.claim.left, self.claim.right) for n in walk(side)]
        for q in every:
            if (
                isinstance(q, Qty)
                and q.kind in ("a", "z", "delta", "b")
                and q.layer is not None
                and self.layer_of(q.layer) not in (None, 0)
                and len(q.indices) <= 1
            ):
                out.append((q.indices[0] if q.indices else None, q.layer))
            if isinstance(q, Qty) and q.kind == "w" and q.layer is not None and q.indices:
                out.append((q.indices[0], q.layer))
        return list(dict.fromkeys(out))

    def missing_sigma(self) -> Iterator[_Repair]:
        for index, layer in self.sigma_places():
            if self.layer_of(layer) in self.softmax:
                continue
            if (index is None) != (self.mode != "index"):
                continue
            new = _sigma_prime(index, layer)
            message = f"the factor {new} is missing"
            if self.mode == "vector":
                yield _Repair("missing sigma'", message, f"{self.whole()} \\odot {new}")
            else:
                yield _Repair("missing sigma'", message, f"{new} {self.whole()}")
        for q in self.qtys:  # σ' written as a alone
            if q.kind == "a" and q.layer is not None and self.layer_of(q.layer):
                new = _sigma_prime(q.indices[0] if q.indices else None, q.layer)
                message = f"{show(q)} stands where σ' should: write {new}"
                yield _Repair("missing sigma'", message, self.splice((q, new)))

    def activation_derivative(self) -> Iterator[_Repair]:
        """A form in one unit's a or z that is not the layer's σ': 1 - a for tanh's 1 - a²."""
        seen: set[tuple[int, int]] = set()
        for node in walk(self.right):
            if not isinstance(node, Add | Mul | Pow) or not self.is_derivative(node):
                continue
            if (node.pos, node.end) in seen:
                continue
            seen.add((node.pos, node.end))
            q = next(n for n in walk(node) if isinstance(n, Qty))
            if q.layer is None or self.layer_of(q.layer) in (None, 0, *self.softmax):
                continue
            index = q.indices[0] if q.indices else None
            m = self.layer_of(q.layer)
            assert m is not None
            name = self.net.layers[m - 1].activation.name
            written = self.text[node.pos : node.end]
            concrete = sigma_prime_form(self.net, q.layer, index, self.mode)
            generic = _sigma_prime(index, q.layer)
            bracketed = self.text[: node.pos].rstrip().endswith("(")
            for new in (concrete, generic):
                if new is None:
                    continue
                message = (
                    f"{written} is not the derivative of layer {q.layer.text()}'s activation "
                    f"({name}): " + (f"{generic} = {concrete}" if concrete else f"write {generic}")
                )
                alone = node is self.right or bracketed or new == generic
                piece = new if alone else f"\\left({new}\\right)"
                yield _Repair("activation derivative", message, self.splice((node, piece)))

    def correct_pieces(self) -> tuple[list[str], list[tuple[int, str]]]:
        """The factors and the signed terms of the derivation's right side, as it writes them."""
        if not self.correct:
            return [], []
        try:
            sides = parse_equation(self.correct)
        except LatexError:
            return [], []
        right, t = sides[-1], self.correct
        terms = list(right.terms) if isinstance(right, Add) else [(1, right)]
        factors: list[str] = []
        for _, term in terms:
            parts = [f for _, f in term.factors] if isinstance(term, Mul) else [term]
            factors += [_wrap(f, t) for f in parts if not isinstance(f, Num)]
        return factors, [(sign, _wrap(term, t)) for sign, term in terms]

    def missing_factors(self) -> Iterator[_Repair]:
        pieces: list[str] = []
        left = index_scope(self.claim.left, self.net.depth).free
        right = index_scope(self.right, self.net.depth).free
        for letter, uses in left.items():
            if letter not in right:
                for use in uses:
                    if use.layer is not None:
                        below = "x" if self.layer_of(use.layer) == 0 else "a"
                        layer = "" if below == "x" else f"^{{{_layer_text(use.layer)}}}"
                        pieces.append(f"{below}_{{{letter}}}{layer}")
        if self.mode != "index":
            for q in walk(self.claim.left):
                if isinstance(q, Qty) and q.kind == "w" and q.layer is not None:
                    pieces.append(show(Qty(0, 0, "a", _shift(q.layer, -1), ())))
        factors, _ = self.correct_pieces()
        pieces += factors
        first = self.text[self.right.pos : self.right.end].strip()[:1]
        for piece in dict.fromkeys(pieces):
            message = f"the factor {piece} is missing"
            after = f"{self.whole()} {piece}"
            before = f"{piece} {self.whole()}"
            orders = [after, before] if first.isdigit() else [before, after]
            for new in orders if self.mode != "neuron" or first.isdigit() else orders[:1]:
                yield _Repair("missing factor", message, new)

    def sums(self) -> Iterator[_Repair]:
        t = self.text
        depth = self.net.depth
        for node in walk(self.right):
            if not isinstance(node, SumOver):
                continue
            numbered: dict[str, LayerRef] = {}
            for q in walk(node.body):
                if isinstance(q, Qty):
                    for letter, layer in index_uses(q):
                        if isinstance(letter, str) and layer is not None:
                            numbered.setdefault(letter, layer)
            for letter, layer in numbered.items():
                new = f"\\sum_{{{letter}=1}}^{{n^{{{_layer_text(layer)}}}}} {_wrap(node.body, t)}"
                if letter == node.index:
                    kind = "sum over the wrong layer's units"
                    message = (
                        f"the sum over {letter} runs over the units of layer {layer.text()}: "
                        f"to n^{{{_layer_text(layer)}}}"
                    )
                else:
                    kind = "sum over the wrong index"
                    message = f"the sum runs over {letter}, not {node.index}: {new}"
                yield _Repair(kind, message, self.splice((node, new)))
        free_right = index_scope(self.right, depth).free
        free_left = index_scope(self.claim.left, depth).free
        for letter, uses in free_right.items():
            if letter in free_left:
                continue
            layers = [u.layer for u in uses if u.layer is not None]
            if not layers:
                continue
            new = f"\\sum_{{{letter}=1}}^{{n^{{{_layer_text(layers[0])}}}}} {self.whole()}"
            message = f"the sum over {letter} is missing: {letter} is free on the right side only"
            yield _Repair("missing sum", message, new)

    def terms(self) -> Iterator[_Repair]:
        t = self.text
        for node in walk(self.right):
            if isinstance(node, Add) and len(node.terms) >= 2:
                for n, (_, term) in enumerate(node.terms):
                    kept = [x for i, x in enumerate(node.terms) if i != n]
                    new = " ".join(
                        f"{'-' if s < 0 else ('+' if i else '')} {t[x.pos : x.end]}"
                        for i, (s, x) in enumerate(kept)
                    ).strip()
                    yield _Repair(
                        "extra term",
                        f"the term {t[term.pos : term.end]} is extra",
                        self.splice((node, new)),
                    )
        for node in walk(self.right):
            if isinstance(node, Add):
                for n, (sign, term) in enumerate(node.terms):
                    flipped = list(node.terms)
                    flipped[n] = (-sign, term)
                    new = " ".join(
                        f"{'-' if s < 0 else ('+' if i else '')} {t[x.pos : x.end].strip()}"
                        for i, (s, x) in enumerate(flipped)
                    ).strip()
                    op = "+" if sign < 0 else "-"
                    message = f"the sign of {t[term.pos : term.end].strip()} is flipped: {op}"
                    yield _Repair("sign", message, self.splice((node, new)))
        _, terms = self.correct_pieces()
        written = t[self.right.pos : self.right.end].strip()
        if len(terms) > 1:
            for sign, piece in terms:
                op = "-" if sign < 0 else "+"
                yield _Repair(
                    "missing term", f"the term {op} {piece} is missing", f"{written} {op} {piece}"
                )

    def layers(self) -> Iterator[_Repair]:
        for q in self.qtys:
            if q.layer is None:
                continue
            for by in (-1, 1):
                fixed = replace(q, layer=_shift(q.layer, by))
                message = f"{show(q)} is at the wrong layer: write {show(fixed)}"
                yield _Repair("wrong layer", message, self.splice((q, show(fixed))))

    def indices(self) -> Iterator[_Repair]:
        for n, first in enumerate(self.letters):
            for second in self.letters[n + 1 :]:
                swap = {first: second, second: first}
                edits = [
                    (q, show(replace(q, indices=tuple(swap.get(str(x), x) for x in q.indices))))
                    for q in self.qtys
                    if set(q.indices) & {first, second}
                ]
                message = f"the indices {first} and {second} are swapped on the right side"
                yield _Repair("swapped indices", message, self.splice(*edits))
        for q in self.qtys:
            for n, index in enumerate(q.indices):
                for letter in self.letters:
                    if letter == index:
                        continue
                    new = (*q.indices[:n], letter, *q.indices[n + 1 :])
                    fixed = replace(q, indices=new)
                    message = f"{show(q)} has the wrong unit: write {show(fixed)}"
                    yield _Repair("wrong index", message, self.splice((q, show(fixed))))
