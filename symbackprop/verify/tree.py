"""The tree `reader` builds from an equation: the lecture's quantities (a, z, w, W, b, y, n, E,
δ), partials, calls, sums and products, with the positions they were written at; and the few
questions every later stage asks of it (which layer a σ belongs to, how a quantity is written)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypeAlias

import sympy

from .. import notation as nt

#: A unit index as written: a letter, or a unit's number (from 1).
Index: TypeAlias = str | int
#: The form an equation is written in: unit indices, one neuron per layer, or vectors.
Mode = Literal["index", "neuron", "vector"]


@dataclass(frozen=True)
class LayerRef:
    """A layer as written: a number (base ''), l + offset, or L + offset."""

    base: str
    offset: int

    def text(self) -> str:
        if not self.base:
            return str(self.offset)
        return f"{self.base}{self.offset:+d}" if self.offset else self.base

    def expr(self) -> sympy.Expr:
        """The layer in the notation's symbols: a number, l + offset or L + offset."""
        return {"l": nt.l_sym, "L": nt.L_sym}.get(self.base, sympy.Integer(0)) + self.offset

    def value(self, l_value: int | None, depth: int) -> int:
        if self.base == "l":
            assert l_value is not None
            return l_value + self.offset
        return self.offset + (depth if self.base == "L" else 0)


@dataclass(frozen=True)
class Node:
    """A node of the tree: where it was written, `pos` to `end` in the text."""

    pos: int
    end: int


@dataclass(frozen=True)
class Num(Node):
    """A number as written, exactly."""

    value: Fraction


@dataclass(frozen=True)
class Euler(Node):
    """e, Euler's number."""


@dataclass(frozen=True)
class Qty(Node):
    """E, a, z, w, b, y, n or delta; `matrix` when written W."""

    kind: str
    layer: LayerRef | None
    indices: tuple[Index, ...]
    matrix: bool = False


@dataclass(frozen=True)
class Kron(Node):
    """Kronecker's δ_{ij}."""

    first: Index
    second: Index


@dataclass(frozen=True)
class Part(Node):
    """A partial derivative ∂num/∂den of one quantity by another."""

    num: Qty
    den: Qty


@dataclass(frozen=True)
class Call(Node):
    """A function applied: σ, σ', exp, log, tanh, sinh, cosh, sqrt, abs or Heaviside's H."""

    fn: str
    arg: Node


@dataclass(frozen=True)
class Extremum(Node):
    """\\max(first, second) or \\min(first, second)."""

    fn: str  # "max" | "min"
    first: Node
    second: Node


@dataclass(frozen=True)
class Cases(Node):
    """\\begin{cases} v & \\text{for}\\: x > y \\\\ ... \\end{cases}: each row's value and its
    condition (left, comparison, right), None for 'otherwise'; the first row that holds wins."""

    rows: tuple[tuple[Node, tuple[Node, str, Node] | None], ...]


@dataclass(frozen=True)
class Add(Node):
    """A sum of signed terms (sign +1 or -1)."""

    terms: tuple[tuple[int, Node], ...]


@dataclass(frozen=True)
class Mul(Node):
    """A product or quotient; ⊙ between factors is the elementwise product."""

    factors: tuple[tuple[str, Node], ...]  # ("*" | "/" | "odot", factor); the first is "*"


@dataclass(frozen=True)
class Pow(Node):
    """A power; `elementwise` when written ^{\\circ n}."""

    base: Node
    exponent: Node
    elementwise: bool


@dataclass(frozen=True)
class Tr(Node):
    """A transpose, ^T or ^\\top."""

    arg: Node


@dataclass(frozen=True)
class SumOver(Node):
    """\\sum_{index=lower}^{upper} body; without an upper limit, to the width of the layer
    whose units the index numbers."""

    index: str
    lower: Node | None
    upper: Node | None
    body: Node


def children(node: Node) -> Iterator[Node]:
    """The sub-expressions of a node."""
    if isinstance(node, Part):
        yield node.num
        yield node.den
    elif isinstance(node, Call | Tr):
        yield node.arg
    elif isinstance(node, Extremum):
        yield node.first
        yield node.second
    elif isinstance(node, Add):
        yield from (t for _, t in node.terms)
    elif isinstance(node, Mul):
        yield from (f for _, f in node.factors)
    elif isinstance(node, Pow):
        yield node.base
        yield node.exponent
    elif isinstance(node, SumOver):
        yield from (x for x in (node.lower, node.upper) if x is not None)
        yield node.body
    elif isinstance(node, Cases):
        for value, condition in node.rows:
            yield value
            if condition is not None:
                yield condition[0]
                yield condition[2]


def walk(node: Node) -> Iterator[Node]:
    """The node and every node below it, depth first."""
    yield node
    for child in children(node):
        yield from walk(child)


def show(node: Node) -> str:
    """How a quantity is written in the lecture's notation."""
    if isinstance(node, Qty):
        base = {"delta": "\\delta"}.get(node.kind, node.kind)
        if node.matrix:
            base = "W"
        sub = "".join(str(i) for i in node.indices)
        text = f"{base}_{{{sub}}}" if node.indices else base
        return f"{text}^{{({node.layer.text()})}}" if node.layer is not None else text
    return "this"


def layers_used(sides: list[Node]) -> set[str]:
    """The symbolic layers ('l', 'L') the quantities of these sides are written at."""
    return {
        n.layer.base for side in sides for n in walk(side) if isinstance(n, Qty) and n.layer
    } - {""}


def sigma_layer(call: Call) -> LayerRef | None:
    """The layer whose activation \\sigma(x) means: that of the z (or a) it is applied to."""
    found = [n for n in walk(call.arg) if isinstance(n, Qty) and n.kind in ("z", "a")]
    layers = {n.layer for n in found if n.layer is not None}
    if len(layers) == 1:
        return layers.pop()
    zs = {n.layer for n in found if n.kind == "z" and n.layer is not None}
    return zs.pop() if len(zs) == 1 else None


@dataclass
class Claim:
    """One '=' of an equation: its number in the chain (from 1) and the sides either side of it."""

    step: int
    left: Node
    right: Node
