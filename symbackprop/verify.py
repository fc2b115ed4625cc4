"""`symbackprop verify`: judge a hand-derived formula written in the lecture's LaTeX notation.

Reading: the lark grammar `latex_grammar.lark` gives a generic parse tree; `_Builder` turns it
into a small AST of the lecture's symbols and rejects anything else with its position (the text
is never evaluated).  Judging: index analysis first (free and summed indices, sum ranges); then
each '=' is a claim for every layer l and unit index where both sides are defined, compared in
float64 at random points of the network with the true derivatives (forward-mode Jacobians).
A softmax layer is judged like any other: its σ' and ∂a_j/∂z_j are its Jacobian (entries).  But
a rule written for the symbolic layer l that reads σ' of a layer l (+k) unit by unit (σ'(z_j),
∂a_j/∂z_j, ⊙ σ'(z)) is a rule for elementwise layers, as in the lecture: it is checked at those
l only, and the verdict names the softmax layers left out.  An equation with no instance on the
network (no layer l where all its quantities exist) does not apply: it is not "holds" (exit 1).
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import sympy
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from numpy.typing import NDArray

from . import notation as nt
from .arguments import paragraph, whole_number_arg
from .derive import activation_rule, derive
from .errors import SymbackpropError, TextError
from .files import display_path
from .ir import Derivation, Kind, View
from .library import A, Activation, Y, Z
from .naming import tag
from .printing.latex import latex
from .spec import Layer, Network, load_spec

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
#: Random points per claim, and the agreement asked of both sides there.
POINTS = 3
TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12
#: Index tuples checked per claim and layer before sampling; terms of one sum; input size.
MAX_INSTANCES = 400
MAX_SUM_TERMS = 10_000
MAX_TEXT = 100_000
#: Entries of the largest Jacobian (units x units x fan-in) the numeric check builds.
MAX_JACOBIAN = 4_000_000

Array: TypeAlias = NDArray[np.float64]
Val: TypeAlias = float | Array
Index: TypeAlias = str | int
Mode = Literal["index", "neuron", "vector"]


# ---------------------------------------------------------------- results and errors


class LatexError(TextError):
    """An equation that cannot be read: a one-line message, the text, and the offset of the
    problem (`caret()`, `where()` from TextError)."""

    def at(self, text: str, base: int) -> LatexError:
        """The same error placed in a larger text, `base` characters in."""
        offset = None if self.offset is None else self.offset + base
        return LatexError(self.message, text, offset)


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


# ---------------------------------------------------------------- the AST


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
    pos: int
    end: int


@dataclass(frozen=True)
class Num(Node):
    value: Fraction


@dataclass(frozen=True)
class Euler(Node):
    pass


@dataclass(frozen=True)
class Qty(Node):
    """E, a, z, w, b, y, n or delta; `matrix` when written W."""

    kind: str
    layer: LayerRef | None
    indices: tuple[Index, ...]
    matrix: bool = False


@dataclass(frozen=True)
class Kron(Node):
    first: Index
    second: Index


@dataclass(frozen=True)
class Part(Node):
    num: Qty
    den: Qty


@dataclass(frozen=True)
class Call(Node):
    fn: str
    arg: Node


@dataclass(frozen=True)
class Add(Node):
    terms: tuple[tuple[int, Node], ...]


@dataclass(frozen=True)
class Mul(Node):
    factors: tuple[tuple[str, Node], ...]  # ("*" | "/" | "odot", factor); the first is "*"


@dataclass(frozen=True)
class Pow(Node):
    base: Node
    exponent: Node
    elementwise: bool


@dataclass(frozen=True)
class Tr(Node):
    arg: Node


@dataclass(frozen=True)
class SumOver(Node):
    index: str
    lower: Node | None
    upper: Node | None
    body: Node


@dataclass(frozen=True)
class _Sym(Node):
    """A bare symbol before its scripts are read (only inside the builder)."""

    name: str


@dataclass(frozen=True)
class _PartialMark(Node):
    """`\\partial X` before a fraction pairs it (only inside the builder)."""

    qty: Qty


def children(node: Node) -> Iterator[Node]:
    """The sub-expressions of a node."""
    if isinstance(node, Part):
        yield node.num
        yield node.den
    elif isinstance(node, Call | Tr):
        yield node.arg
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


def walk(node: Node) -> Iterator[Node]:
    """The node and every node below it, depth first."""
    yield node
    for child in children(node):
        yield from walk(child)


# ---------------------------------------------------------------- reading


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (resources.files("symbackprop") / "latex_grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True)


_QUANTITIES = {"a", "z", "w", "W", "b", "y", "n", "E", "x", "delta"}
_NOTATION = "a, z, w, W, b, y, n, E, x, e, \\delta, \\sigma, \\partial"
_FUNCTIONS = {
    "\\sigma": "sigma",
    "\\log": "log",
    "\\ln": "log",
    "\\exp": "exp",
    "\\tanh": "tanh",
    "\\sinh": "sinh",
    "\\cosh": "cosh",
}
_NEEDS_LAYER = {"a", "z", "w", "W", "b", "n"}


def parse_equation(text: str) -> list[Node]:
    """The sides of `lhs = r1 = r2 ...` as ASTs; raises LatexError with the position."""
    if len(text) > MAX_TEXT:
        raise LatexError(f"the equation is too long (limit {MAX_TEXT} characters)")
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as err:
        raise _syntax_error(err, text) from None
    try:
        sides = _Builder(text).equation(tree)
    except RecursionError:
        raise LatexError("the equation is nested too deeply", text, 0) from None
    return sides


def _syntax_error(err: UnexpectedInput, text: str) -> LatexError:
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        rest = text[pos:]
        if rest.startswith("\\"):
            name = "\\" + "".join(itertools.takewhile(str.isalpha, rest[1:]))
            name = name if len(name) > 1 else rest[:2]
            return LatexError(f"unknown command {name}", text, pos)
        return LatexError(f"unexpected character {rest[:1]!r}", text, pos)
    if isinstance(err, UnexpectedToken) and err.token.type != "$END":
        token = err.token
        shown = str(token.value).strip() or repr(str(token.value))
        if "EQ" in err.expected and token.type in ("RPAR", "RBRACK", "RBRACE"):
            return LatexError(f"unbalanced {shown!r}", text, token.start_pos)
        return LatexError(f"unexpected {shown!r}", text, token.start_pos)
    if isinstance(err, UnexpectedToken | UnexpectedEOF):
        expected = set(getattr(err, "expected", ()))
        missing = "the equation ends too early"
        if "RPAR" in expected or "RBRACK" in expected:
            missing = "a bracket is not closed"
        elif "RBRACE" in expected:
            missing = "a '{' is not closed"
        elif "EQ" in expected:
            missing = "an equation needs '='"
        end = len(text.rstrip())
        return LatexError(missing, text, end)
    return LatexError("cannot read the equation", text, 0)


class _Builder:
    """Parse tree -> AST, giving meaning to symbols and scripts; errors carry positions."""

    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, message: str, pos: int) -> LatexError:
        return LatexError(message, self.text, pos)

    def equation(self, tree: Tree[Token]) -> list[Node]:
        eq = tree.children[0]
        assert isinstance(eq, Tree)
        sides = [self.expr(c) for c in eq.children if isinstance(c, Tree)]
        for side in sides:
            for node in walk(side):
                if isinstance(node, _PartialMark):
                    raise self.fail(
                        "write a partial derivative as \\frac{\\partial E}{\\partial w}", node.pos
                    )
                if isinstance(node, _Sym):
                    what = "H (the Heaviside step) needs an argument, as in H(z)"
                    raise self.fail(
                        what if node.name == "H" else f"{node.name} cannot stand here", node.pos
                    )
        return sides

    # -- sums and products

    def expr(self, tree: Tree[Token]) -> Node:
        parts = tree.children
        first = parts[0]
        assert isinstance(first, Tree)
        sign, node = self.signed(first)
        terms = [(sign, node)]
        for op, term in zip(parts[1::2], parts[2::2], strict=True):
            assert isinstance(op, Token) and isinstance(term, Tree)
            terms.append((-1 if op == "-" else 1, self.term(term)))
        if len(terms) == 1 and sign == 1:
            return node
        return Add(_start(tree), _end(tree), tuple(terms))

    def signed(self, tree: Tree[Token]) -> tuple[int, Node]:
        sign = 1
        for c in tree.children:
            if isinstance(c, Token):
                sign = -1 if c == "-" else 1
        term = tree.children[-1]
        assert isinstance(term, Tree)
        return sign, self.term(term)

    def term(self, tree: Tree[Token]) -> Node:
        factors: list[tuple[str, Node]] = []
        op = "*"
        for c in tree.children:
            if isinstance(c, Token):
                op = {"\\odot": "odot", "/": "/"}.get(str(c), "*")
                continue
            node = self.bigsum(c) if c.data == "bigsum" else self.factor(c)
            factors.append((op, node))
            op = "*"
        factors = self._heaviside(factors)
        factors = self._inline_partials(factors)
        if len(factors) == 1:
            return factors[0][1]
        return Mul(_start(tree), _end(tree), tuple(factors))

    def _heaviside(self, factors: list[tuple[str, Node]]) -> list[tuple[str, Node]]:
        out: list[tuple[str, Node]] = []
        for op, node in factors:
            if out and isinstance(out[-1][1], _Sym) and out[-1][1].name == "H" and op == "*":
                head = out.pop()
                out.append((head[0], Call(head[1].pos, node.end, "heaviside", node)))
            else:
                out.append((op, node))
        return out

    def _inline_partials(self, factors: list[tuple[str, Node]]) -> list[tuple[str, Node]]:
        """`\\partial E / \\partial w` written inline."""
        out: list[tuple[str, Node]] = []
        for op, node in factors:
            if (
                op == "/"
                and isinstance(node, _PartialMark)
                and out
                and isinstance(out[-1][1], _PartialMark)
            ):
                head_op, head = out.pop()
                assert isinstance(head, _PartialMark)
                out.append((head_op, self.partial(head, node, head.pos, node.end)))
            else:
                out.append((op, node))
        return out

    def bigsum(self, tree: Tree[Token]) -> Node:
        index: str | None = None
        lower: Node | None = None
        upper: Node | None = None
        body: Node | None = None
        for c in tree.children[1:]:
            assert isinstance(c, Tree)
            if c.data == "lower":
                low = c.children[0]
                assert isinstance(low, Tree)
                letter = low.children[0]
                assert isinstance(letter, Token)
                index = self.index_letter(letter)
                if low.data == "lower_range":
                    start = low.children[2]
                    assert isinstance(start, Tree)
                    lower = self.expr(start)
            elif c.data == "upper":
                arg = c.children[0]
                assert isinstance(arg, Tree)
                upper = self.arg_expr(arg)
            else:
                sign, node = self.signed(c)
                body = (
                    node
                    if sign == 1
                    else Mul(node.pos, node.end, (("*", _minus_one(node)), ("*", node)))
                )
        if index is None:
            raise self.fail("a sum needs its index, as in \\sum_{j=1}^{n^{(l)}}", _start(tree))
        assert body is not None
        return SumOver(_start(tree), _end(tree), index, lower, upper, body)

    def index_letter(self, token: Token) -> str:
        name = str(token)
        if name in ("l", "L"):
            raise self.fail(f"{name} names a layer; unit indices are other letters", _pos(token))
        return name

    # -- factors

    def factor(self, tree: Tree[Token]) -> Node:
        primary = tree.children[0]
        assert isinstance(primary, Tree)
        scripts = [c for c in tree.children[1:] if isinstance(c, Tree)]
        if primary.data == "call":
            return self.call(primary, scripts)
        base = self.primary(primary)
        if isinstance(base, _Sym):
            return self.symbol(base, scripts)
        return self.scripts(base, scripts)

    def primary(self, tree: Tree[Token]) -> Node:
        kind = tree.data
        first = tree.children[0]
        if kind == "number":
            assert isinstance(first, Token)
            return Num(_pos(first), _endpos(first), Fraction(str(first)))
        if kind in ("letter", "delta", "top", "circ", "primecmd"):
            assert isinstance(first, Token)
            name = "delta" if kind == "delta" else str(first)
            return _Sym(_pos(first), _endpos(first), name)
        if kind in ("paren", "brace"):
            inner = next(c for c in tree.children if isinstance(c, Tree))
            return self.expr(inner)
        if kind == "frac":
            num, den = (c for c in tree.children if isinstance(c, Tree))
            top, bottom = self.expr(num), self.expr(den)
            if isinstance(top, _PartialMark) and isinstance(bottom, _PartialMark):
                return self.partial(top, bottom, _start(tree), _end(tree))
            if isinstance(top, _PartialMark) or isinstance(bottom, _PartialMark):
                raise self.fail(
                    "a partial derivative needs \\partial above and below", _start(tree)
                )
            return Mul(_start(tree), _end(tree), (("*", top), ("/", bottom)))
        if kind == "partial":
            arg = tree.children[1]
            assert isinstance(arg, Tree)
            qty = self.factor(arg)
            if not isinstance(qty, Qty) or qty.kind in ("n", "delta"):
                raise self.fail(
                    "\\partial applies to one quantity: E, a, z, w, b or y", _start(arg)
                )
            return _PartialMark(_start(tree), _end(tree), qty)
        if kind == "font":
            body = tree.children[1]
            assert isinstance(body, Tree)
            tokens = self.token_list(body)
            if len(tokens) == 1 and tokens[0].type in ("LETTER", "DELTA"):  # \mathbf{w}
                name = "delta" if tokens[0].type == "DELTA" else str(tokens[0])
                if str(first) == "\\mathcal" and name == "L":
                    name = "E"
                return _Sym(_pos(tokens[0]), _endpos(tokens[0]), name)
            return self.expr(body)
        if kind == "sqrt":
            inner_tree = tree.children[1]
            assert isinstance(inner_tree, Tree)
            return Call(_start(tree), _end(tree), "sqrt", self.expr(inner_tree))
        raise self.fail("cannot read this", _start(tree))  # pragma: no cover

    def partial(self, num: _PartialMark, den: _PartialMark, pos: int, end: int) -> Part:
        if num.qty.kind not in ("E", "a", "z", "w", "b", "y"):
            raise self.fail("the numerator of a partial derivative is E, a, z, w or b", num.pos)
        if den.qty.kind not in ("a", "z", "w", "b", "y"):
            raise self.fail("a derivative is taken with respect to a, z, w, b or y", den.pos)
        return Part(pos, end, num.qty, den.qty)

    def call(self, tree: Tree[Token], outer: list[Tree[Token]]) -> Node:
        head = tree.children[0]
        assert isinstance(head, Token)
        fn = _FUNCTIONS[str(head)]
        power: list[Tree[Token]] = []
        for script in (c for c in tree.children[1:-1] if isinstance(c, Tree)):
            if script.data == "prime" or (
                script.data == "sup" and self.tokens(script) in (["\\prime"], ["'"])
            ):
                if fn != "sigma":
                    what = (
                        "\\sigma'' is not supported"
                        if fn == "sigma_prime"
                        else "' applies to \\sigma only"
                    )
                    raise self.fail(what, _start(script))
                fn = "sigma_prime"
            elif script.data == "sup":
                power.append(script)
            else:
                raise self.fail("a function takes no subscript", _start(script))
        arg_tree = tree.children[-1]
        assert isinstance(arg_tree, Tree)
        primary = arg_tree.children[0]
        assert isinstance(primary, Tree)
        after = [c for c in arg_tree.children[1:] if isinstance(c, Tree)]
        if primary.data in ("paren", "brace") and after:
            arg = self.primary(primary)
        else:
            arg, after = self.factor(arg_tree), []
        node: Node = Call(_pos(head), _end(tree), fn, arg)
        return self.scripts(node, power + after + outer)

    def symbol(self, sym: _Sym, scripts: list[Tree[Token]]) -> Node:
        name = sym.name
        if name == "e":
            if scripts and scripts[0].data == "sup":
                arg = scripts[0].children[0]
                assert isinstance(arg, Tree)
                exp = Call(sym.pos, _end(scripts[0]), "exp", self.arg_expr(arg))
                return self.scripts(exp, scripts[1:])
            return self.scripts(Euler(sym.pos, sym.end), scripts)
        if name == "H" and not scripts:
            return sym  # the Heaviside step, applied to the factor after it
        if name in ("l", "L"):
            raise self.fail(
                f"{name} names a layer; write it in a superscript, as in a^{{({name})}}", sym.pos
            )
        if name in ("\\top", "\\circ", "\\prime"):
            raise self.fail(f"{name} belongs in a superscript", sym.pos)
        if name not in _QUANTITIES:
            raise self.fail(f"unknown symbol {name!r} (the notation uses {_NOTATION})", sym.pos)
        sub: Tree[Token] | None = None
        layer: LayerRef | None = None
        rest: list[Tree[Token]] = []
        for script in scripts:
            if script.data == "sub" and sub is None and not rest:
                sub = script
            elif script.data == "sup" and layer is None and not rest and self.is_layer(script):
                layer = self.layer(script)
            else:
                rest.append(script)
        end = max([sym.end, *(_end(s) for s in scripts if s not in rest)])
        indices = self.indices(sub, name) if sub is not None else ()
        qty = self.quantity(name, layer, indices, sym.pos, end)
        return self.scripts(qty, rest)

    def quantity(
        self, name: str, layer: LayerRef | None, indices: tuple[Index, ...], pos: int, end: int
    ) -> Node:
        shown = "\\delta" if name == "delta" else name
        if name == "delta" and layer is None:
            if len(indices) != 2:
                raise self.fail(
                    "\\delta is \\delta^{(l)} (the error signal) or \\delta_{ij} (Kronecker)", pos
                )
            return Kron(pos, end, indices[0], indices[1])
        most = {"E": 0, "n": 0, "w": 2, "W": 2}.get(name, 1)
        if len(indices) > most or (name in ("w", "W") and len(indices) == 1):
            wanted = {0: "no unit index", 1: "one unit index", 2: "two unit indices, as w_{jk}"}
            raise self.fail(f"{shown} takes {wanted[most]}", pos)
        if name in ("E", "y", "x") and layer is not None:
            raise self.fail(f"{shown} takes no layer superscript", pos)
        if (name in _NEEDS_LAYER or name == "delta") and layer is None:
            raise self.fail(f"{shown} needs a layer, as in {shown}^{{(l)}}", pos)
        if name == "x":
            return Qty(pos, end, "a", LayerRef("", 0), indices)
        if name == "W":
            return Qty(pos, end, "w", layer, indices, matrix=not indices)
        return Qty(pos, end, name, layer, indices)

    def is_layer(self, script: Tree[Token]) -> bool:
        tokens = self.token_list(script)
        return len(tokens) >= 2 and tokens[0].type == "LPAR" and tokens[-1].type == "RPAR"

    def layer(self, script: Tree[Token]) -> LayerRef:
        tokens = self.token_list(script)
        inner = tokens[1:-1]
        values = [str(t) for t in inner]
        ok = len(inner) in (1, 3) and (inner[0].type == "NUMBER" or values[0] in ("l", "L"))
        if len(inner) == 3:
            ok = ok and values[1] in "+-" and inner[2].type == "NUMBER" and values[0] in "lL"
        if not ok or any("." in v for v in values):
            raise self.fail(
                "a layer is a number, l, L, or l or L plus or minus a number, as in (l-1)",
                _pos(tokens[0]),
            )
        if inner[0].type == "NUMBER":
            return LayerRef("", int(values[0]))
        offset = 0 if len(inner) == 1 else int(values[2]) * (-1 if values[1] == "-" else 1)
        return LayerRef(values[0], offset)

    def indices(self, script: Tree[Token], name: str) -> tuple[Index, ...]:
        tokens = self.token_list(script)
        out: list[Index] = []
        for token in tokens:
            if token.type == "LETTER":
                out.append(self.index_letter(token))
            elif token.type == "NUMBER" and "." not in token:
                out.append(int(token))
            else:
                raise self.fail("unit indices are letters or whole numbers", _pos(token))
        if name in ("w", "W") and len(out) == 1 and isinstance(out[0], int):
            digits = str(tokens[0])
            if len(digits) == 2:  # w_{12}: units 1 and 2
                out = [int(digits[0]), int(digits[1])]
        if not out:
            raise self.fail("an empty subscript", _start(script))
        return tuple(out)

    def token_list(self, tree: Tree[Token]) -> list[Token]:
        return list(tree.scan_values(lambda v: isinstance(v, Token)))

    def tokens(self, tree: Tree[Token]) -> list[str]:
        return [str(t) for t in self.token_list(tree)]

    def arg_expr(self, arg: Tree[Token]) -> Node:
        if arg.data == "arg_group":
            arglist = arg.children[0]
            assert isinstance(arglist, Tree)
            exprs = [c for c in arglist.children if isinstance(c, Tree)]
            if len(exprs) != 1:
                raise self.fail("a comma can only separate unit indices", _start(arg))
            return self.expr(exprs[0])
        if arg.data == "arg_empty":
            raise self.fail("an empty superscript", _start(arg))
        token = arg.children[0]
        assert isinstance(token, Token)
        if arg.data == "arg_number":
            return Num(_pos(token), _endpos(token), Fraction(str(token)))
        if arg.data == "arg_letter":
            return self.symbol(_Sym(_pos(token), _endpos(token), str(token)), [])
        raise self.fail(f"{token} cannot stand here", _pos(token))

    def scripts(self, node: Node, scripts: list[Tree[Token]]) -> Node:
        """Superscripts after a finished operand: powers, transposes, elementwise powers."""
        for script in scripts:
            if script.data != "sup":
                what = "a subscript" if script.data == "sub" else "'"
                raise self.fail(
                    f"{what} cannot follow this; unit indices go on a, z, w, b, y", _start(script)
                )
            if isinstance(node, _Sym):
                raise self.fail(f"unknown symbol {node.name!r}", node.pos)
            tokens = self.tokens(script)
            end = _end(script)
            if tokens in (["T"], ["\\top"]):
                node = Tr(node.pos, end, node)
                continue
            arg = script.children[0]
            assert isinstance(arg, Tree)
            if tokens and tokens[0] == "\\circ":
                exponent = self.circ_exponent(arg)
                node = Pow(node.pos, end, node, exponent, True)
                continue
            node = Pow(node.pos, end, node, self.arg_expr(arg), False)
        return node

    def circ_exponent(self, arg: Tree[Token]) -> Node:
        tokens = self.token_list(arg)
        if len(tokens) != 2 or tokens[1].type != "NUMBER":
            raise self.fail("an elementwise power is written ^{\\circ 2}", _start(arg))
        return Num(_pos(tokens[1]), _endpos(tokens[1]), Fraction(str(tokens[1])))


def _minus_one(node: Node) -> Num:
    return Num(node.pos, node.pos, Fraction(-1))


def _pos(token: Token) -> int:
    return int(token.start_pos or 0)


def _endpos(token: Token) -> int:
    return int(token.end_pos or 0)


def _start(tree: Tree[Token]) -> int:
    return int(getattr(tree.meta, "start_pos", 0))


def _end(tree: Tree[Token]) -> int:
    return int(getattr(tree.meta, "end_pos", 0))


# ---------------------------------------------------------------- several equations in a file


_DISPLAY = re.compile(
    r"\\begin\{(aligned|align|equation|gather|multline|eqnarray)(\*?)\}(?P<a>.*?)"
    r"\\end\{\1\2\}|\\\[(?P<b>.*?)\\\]|\$\$(?P<c>.*?)\$\$",
    re.S,
)
#: A Markdown document's display maths: `$$` alone on a line.
_MARKDOWN_DISPLAY = re.compile(r"^\$\$\s*$", re.M)


def split_equations(text: str) -> list[tuple[int, int]]:
    """(start, end) of each equation in a .tex snippet: one per line or align row, where rows
    that start with '=' (after '&') or hold no '=' continue the equation above them.  In a whole
    document (\\begin{document}, or Markdown with `$$` lines), only display math (align,
    aligned, equation, \\[ \\], $$) is read."""
    regions = []
    if "\\begin{document}" in text or _MARKDOWN_DISPLAY.search(text):
        for match in _DISPLAY.finditer(text):
            group = next(g for g in ("a", "b", "c") if match.group(g) is not None)
            regions.append(match.span(group))
    spans: list[tuple[int, int]] = []
    for first, last in regions or [(0, len(text))]:
        spans.extend(_rows(text[first:last], first))
    return spans


def _rows(text: str, base: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    offset = base
    for line in text.splitlines(keepends=True):
        start = offset
        for piece in line.split("\\\\"):
            body = _meaningful(piece)
            if body:
                end = start + len(piece.rstrip())
                if spans and (body.startswith("=") or "=" not in body):
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans.append((start + len(piece) - len(piece.lstrip()), end))
            start += len(piece) + 2
        offset += len(line)
    return spans


def _meaningful(piece: str) -> str:
    """A row without layout (alignment, tags, environments, comments, spacing)."""
    text = piece.split("%", 1)[0] if "\\%" not in piece else piece
    for word in ("\\notag", "\\nonumber", "&", "$", "\\[", "\\]"):
        text = text.replace(word, " ")
    out: list[str] = []
    i = 0
    while i < len(text):
        for command in ("\\tag*", "\\tag", "\\label", "\\begin", "\\end"):
            if text.startswith(command, i):
                close = text.find("}", i)
                i = len(text) if close < 0 else close + 1
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out).strip()


# ---------------------------------------------------------------- the network at a point


def _restricted(net: Network) -> Network | None:
    """The one-neuron-per-layer chain of the network's activations and loss (None for softmax)."""
    if any(layer.activation.is_softmax for layer in net.layers):
        return None
    if all(layer.units == 1 for layer in net.layers) and net.inputs == 1:
        return net
    layers = tuple(Layer(1, layer.activation) for layer in net.layers)
    return Network(name=net.name, inputs=1, layers=layers, loss=net.loss, source=net.source)


@lru_cache(maxsize=4096)
def _scalar(expr: sympy.Expr, symbol: sympy.Symbol, value: float) -> float:
    return float(expr.evalf(20, subs={symbol: sympy.Float(value, 30)}))


@lru_cache(maxsize=4096)
def _scalar2(expr: sympy.Expr, a: float, y: float) -> float:
    return float(expr.evalf(20, subs={A: sympy.Float(a, 30), Y: sympy.Float(y, 30)}))


@lru_cache(maxsize=64)
def _loss_derivatives(expr: sympy.Expr) -> tuple[sympy.Expr, sympy.Expr]:
    return sympy.diff(expr, A), sympy.diff(expr, Y)


def _apply(fn: Callable[[float], float], value: Val) -> Val:
    if isinstance(value, float):
        return fn(value)
    return np.asarray(np.vectorize(fn, otypes=[np.float64])(value), dtype=np.float64)


Key = tuple[str, int]


class _Point:
    """The network's values at one random point (float64) and exact Jacobians between them."""

    def __init__(self, net: Network, seed: int) -> None:
        rng = np.random.default_rng(seed)
        sizes = net.sizes
        self.net, self.sizes, self.depth = net, sizes, net.depth
        self.W = {m: rng.uniform(-1.2, 1.2, (sizes[m], sizes[m - 1])) for m in range(1, len(sizes))}
        self.b = {m: rng.uniform(-0.5, 0.5, (sizes[m], 1)) for m in range(1, len(sizes))}
        self.a: dict[int, Array] = {0: rng.uniform(-1.5, 1.5, (sizes[0], 1))}
        y = rng.uniform(0.05, 0.95, (sizes[-1], 1))
        if net.loss.builtin and net.loss.name == "cross_entropy":
            y = y / y.sum()
        self.y = y
        self.z: dict[int, Array] = {}
        self.act_jac: dict[int, Array] = {}
        for m, layer in enumerate(net.layers, start=1):
            z = self.W[m] @ self.a[m - 1] + self.b[m]
            self.z[m] = z
            act = layer.activation
            if act.expr is None:
                e = np.exp(z - z.max())
                a = e / e.sum()
                self.act_jac[m] = np.diagflat(a) - a @ a.T
            else:
                a = np.asarray(_apply(self.sigma(m), z))
                self.act_jac[m] = np.diagflat(np.asarray(_apply(self.sigma_prime(m), z)))
            self.a[m] = a
        loss = net.loss.expr
        d_a, d_y = _loss_derivatives(loss)
        out = self.a[self.depth]
        pairs = list(zip(out[:, 0], y[:, 0], strict=True))
        self.E = float(sum(_scalar2(loss, float(av), float(yv)) for av, yv in pairs))
        self.dE_da = np.array([[_scalar2(d_a, float(av), float(yv))] for av, yv in pairs])
        self.dE_dy = np.array([[_scalar2(d_y, float(av), float(yv))] for av, yv in pairs])
        self._jac: dict[tuple[Key, Key], Array] = {}

    def activation(self, m: int) -> Activation:
        return self.net.layers[m - 1].activation

    def sigma(self, m: int) -> Callable[[float], float]:
        expr = self.activation(m).expr
        assert expr is not None
        return lambda v: _scalar(expr, Z, float(v))

    def sigma_prime(self, m: int) -> Callable[[float], float]:
        derivative = activation_rule(self.activation(m)).derivative_z
        assert derivative is not None
        return lambda v: _scalar(derivative, Z, float(v))

    def size(self, key: Key) -> int:
        kind, m = key
        if kind == "E":
            return 1
        if kind == "y":
            return self.sizes[-1]
        if kind == "w":
            return self.sizes[m] * self.sizes[m - 1]
        return self.sizes[m]

    def jac(self, x: Key, y: Key) -> Array:
        """d x / d y, flattened to (size x, size y): the true derivative through the network."""
        cached = self._jac.get((x, y))
        if cached is not None:
            return cached
        out = self._jacobian(x, y)
        self._jac[x, y] = out
        return out

    def _jacobian(self, x: Key, y: Key) -> Array:
        if x == y:
            return np.eye(self.size(x))
        kind, m = x
        zero = np.zeros((self.size(x), self.size(y)))
        if kind == "E":
            if y[0] == "y":
                return self.dE_dy.T
            return self.dE_da.T @ self.jac(("a", self.depth), y)
        if kind == "a" and m > 0:
            return self.act_jac[m] @ self.jac(("z", m), y)
        if kind == "z":
            out = self.W[m] @ self.jac(("a", m - 1), y)
            if y == ("w", m):
                below = self.sizes[m - 1]
                direct = np.zeros_like(zero)
                for j in range(self.sizes[m]):
                    direct[j, j * below : (j + 1) * below] = self.a[m - 1][:, 0]
                out = out + direct
            if y == ("b", m):
                out = out + np.eye(self.sizes[m])
            return out
        return zero

    def array(self, kind: str, m: int) -> Array:
        """The value of a whole quantity: column vectors, W as a matrix."""
        if kind == "a":
            return self.a[m]
        if kind == "z":
            return self.z[m]
        if kind == "b":
            return self.b[m]
        if kind == "w":
            return self.W[m]
        if kind == "y":
            return self.y
        if kind == "delta":
            return self.jac(("E", 0), ("z", m)).T
        raise AssertionError(kind)  # pragma: no cover


# ---------------------------------------------------------------- analysis


class _Undefined(Exception):
    """A side has no value at this instance; `benign` when the claim simply does not apply."""

    def __init__(self, reason: str, benign: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.benign = benign


class _Malformed(Exception):
    """A side has no value anywhere: shapes that do not fit, a tensor where a matrix is needed."""


_LAYER_RANGE = {"a": 0, "n": 0, "z": 1, "w": 1, "b": 1, "delta": 1}


@dataclass
class _Use:
    """One place a unit index appears: the layer whose units it numbers (None: Kronecker)."""

    layer: LayerRef | None
    node: Node


def _index_uses(qty: Qty) -> list[tuple[Index, LayerRef | None]]:
    """Each unit index of a quantity with the layer whose units it numbers."""
    if qty.kind == "y":
        return [(x, LayerRef("L", 0)) for x in qty.indices]
    assert qty.layer is not None or not qty.indices
    layer = qty.layer or LayerRef("", 0)
    if qty.kind == "w" and len(qty.indices) == 2:
        below = LayerRef(layer.base, layer.offset - 1)
        return [(qty.indices[0], layer), (qty.indices[1], below)]
    return [(x, layer) for x in qty.indices]


@dataclass
class _Scope:
    """Free index uses of one side, and its sums (index, node, uses in the body)."""

    free: dict[str, list[_Use]] = field(default_factory=dict)
    sums: list[tuple[SumOver, list[_Use]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _scope(node: Node, depth: int, scope: _Scope | None = None) -> _Scope:
    scope = scope if scope is not None else _Scope()

    def use(letter: Index, layer: LayerRef | None, where: Node) -> None:
        if isinstance(letter, str):
            scope.free.setdefault(letter, []).append(_Use(layer, where))

    if isinstance(node, Qty):
        for letter, layer in _index_uses(node):
            use(letter, layer, node)
    elif isinstance(node, Kron):
        use(node.first, None, node)
        use(node.second, None, node)
    elif isinstance(node, SumOver):
        inner = _scope(node.body, depth)
        uses = inner.free.pop(node.index, [])
        if any(s.index == node.index for s, _ in inner.sums):
            scope.problems.append(f"index {node.index} is summed twice, one sum inside the other")
        scope.problems.extend(inner.problems)
        for letter, found in inner.free.items():
            scope.free.setdefault(letter, []).extend(found)
        scope.sums.extend(inner.sums)
        scope.sums.append((node, uses))
        for limit in (node.lower, node.upper):
            if limit is not None:
                _scope(limit, depth, scope)
    else:
        for child in children(node):
            _scope(child, depth, scope)
    return scope


def _mode(sides: list[Node]) -> tuple[Mode, str | None]:
    """The form the equation is written in, and why it mixes forms (None when it does not)."""
    nodes = [n for side in sides for n in walk(side)]
    indexed = [n for n in nodes if isinstance(n, Qty) and n.indices]
    sums = [n for n in nodes if isinstance(n, SumOver)]
    markers = [
        n
        for n in nodes
        if (isinstance(n, Qty) and (n.matrix or (n.kind == "delta" and not n.indices)))
        or isinstance(n, Tr)
        or (isinstance(n, Pow) and n.elementwise)
        or (isinstance(n, Mul) and any(op == "odot" for op, _ in n.factors))
    ]
    plain = [
        n
        for n in nodes
        if isinstance(n, Qty) and not n.indices and n.kind not in ("E", "n") and not n.matrix
    ]
    if indexed or sums:
        if markers:
            return "index", "it mixes unit indices with the vectorised form (W, δ, ⊙, transposes)"
        if plain:
            return "index", f"{_show(plain[0])} has no unit index, but the equation uses indices"
        return "index", None
    return ("vector" if markers else "neuron"), None


def _show(node: Node) -> str:
    """How a quantity is written in the lecture's notation."""
    if isinstance(node, Qty):
        base = {"delta": "\\delta"}.get(node.kind, node.kind)
        if node.matrix:
            base = "W"
        sub = "".join(str(i) for i in node.indices)
        text = f"{base}_{{{sub}}}" if node.indices else base
        return f"{text}^{{({node.layer.text()})}}" if node.layer is not None else text
    return "this"


def _layers_used(sides: list[Node]) -> set[str]:
    return {
        n.layer.base for side in sides for n in walk(side) if isinstance(n, Qty) and n.layer
    } - {""}


def _layer_domain(sides: list[Node], depth: int) -> tuple[list[int | None], str | None]:
    """The values of l for which every quantity exists (None stands for an equation without l),
    or why a fixed layer does not exist.  An empty list with no reason: no layer l fits."""
    qtys = [n for side in sides for n in walk(side) if isinstance(n, Qty) and n.layer is not None]
    for q in qtys:
        assert q.layer is not None
        if q.layer.base == "l":
            continue
        m = q.layer.value(None, depth)
        lowest = _LAYER_RANGE.get(q.kind, 0)
        if not lowest <= m <= depth:
            what = "the input layer has no " + q.kind if m == 0 else f"layer {m} does not exist"
            return [], f"{_show(q)} does not exist: {what} (the network has layers 1 to {depth})"
    if "l" not in _layers_used(sides):
        return [None], None
    values = []
    for v in range(0, depth + 1):
        ok = True
        for q in qtys:
            assert q.layer is not None
            if q.layer.base == "l":
                m = v + q.layer.offset
                ok = ok and _LAYER_RANGE.get(q.kind, 0) <= m <= depth
        if ok:
            values.append(v)
    return list(values), None


def _no_layer(sides: list[Node], depth: int) -> str:
    """Why no value of l fits: the quantity asking the most of l from below, and from above."""
    low: tuple[int, str] | None = None
    high: tuple[int, str] | None = None
    for q in (n for side in sides for n in walk(side) if isinstance(n, Qty)):
        if q.layer is None or q.layer.base != "l":
            continue
        least = _LAYER_RANGE.get(q.kind, 0) - q.layer.offset
        most = depth - q.layer.offset
        if low is None or least > low[0]:
            low = (least, _show(q))
        if high is None or most < high[0]:
            high = (most, _show(q))
    assert low is not None and high is not None
    return (
        f"no layer l of this network (L = {depth}) has every quantity of it: "
        f"{low[1]} needs l ≥ {low[0]} and {high[1]} needs l ≤ {high[0]}"
    )


def _elementwise_uses(sides: list[Node]) -> list[LayerRef]:
    """The layers l + k (written with the symbolic l) whose derivative the equation reads unit by
    unit: σ'(z_j^{(l)}), σ'(z^{(l)}) (but not transposed), ∂a_j^{(l)}/∂z_j^{(l)} with one unit on
    both, and ∂a^{(l)}/∂z^{(l)} as a factor of ⊙ or a whole side.  Such a rule presupposes an
    elementwise activation at that layer; the Jacobian ∂a_i/∂z_j and (∂a/∂z)^T do not."""
    found: list[LayerRef] = []

    def visit(node: Node, parent: Node | None) -> None:
        ref: LayerRef | None = None
        if isinstance(node, Call) and node.fn == "sigma_prime":
            layer = _sigma_layer(node)
            indexed = any(isinstance(n, Qty) and n.indices for n in walk(node.arg))
            if indexed or not isinstance(parent, Tr):
                ref = layer
        elif (
            isinstance(node, Part)
            and (node.num.kind, node.den.kind) == ("a", "z")
            and node.num.layer == node.den.layer
        ):
            if node.num.indices:
                if len(node.num.indices) == 1 and node.num.indices == node.den.indices:
                    ref = node.num.layer
            elif not node.den.indices:
                in_odot = isinstance(parent, Mul) and any(op == "odot" for op, _ in parent.factors)
                if parent is None or in_odot:
                    ref = node.num.layer
        if ref is not None and ref.base == "l":
            found.append(ref)
        for child in children(node):
            visit(child, node)

    for side in sides:
        visit(side, None)
    return found


def _softmax_layers(net: Network) -> set[int]:
    return {m for m, layer in enumerate(net.layers, start=1) if layer.activation.is_softmax}


def _split_domain(
    sides: list[Node], net: Network, domain: list[int | None]
) -> tuple[list[int | None], list[tuple[int, int]]]:
    """The values of l where the equation's elementwise derivatives are at elementwise layers,
    and the (l, softmax layer) pairs left out because one of them is at a softmax layer."""
    uses = _elementwise_uses(sides)
    softmax = _softmax_layers(net)
    if not uses or not softmax:
        return domain, []
    kept: list[int | None] = []
    left_out: list[tuple[int, int]] = []
    for v in domain:
        hits = [] if v is None else [u.value(v, net.depth) for u in uses]
        hits = [m for m in hits if m in softmax]
        if v is not None and hits:
            left_out.append((v, hits[0]))
        else:
            kept.append(v)
    return kept, left_out


def _softmax_rule_tag(net: Network, mode: Mode, sides: list[Node], layer: int) -> str:
    """The tag of the derivation's rule for softmax layer `layer` through its Jacobian: the
    output's general rule of the same kind (else its delta), in the view the equation uses."""
    derivation = _derivation(net)
    view: View = "vector" if mode == "vector" else "index"
    found = _kind(sides[0])
    kinds: list[Kind] = [found[0], "delta"] if found else ["delta"]
    if layer == net.depth:
        for kind in kinds:
            rule = derivation.general_rule(view, kind, nt.L_sym)
            if rule is not None:
                return tag(rule)
    jacobian = derivation.layers[layer - 1].equation(view, "jacobian")
    return tag(jacobian) if jacobian is not None else ""


def _skipped_note(
    net: Network, mode: Mode, sides: list[Node], left_out: list[tuple[int, int]]
) -> str:
    """'the softmax output l = 2, where σ' is the Jacobian ∂a_i/∂z_j, ...: see (IL.d)'."""
    places = []
    for v, m in left_out:
        what = "the softmax output" if m == net.depth else f"softmax layer {m}"
        places.append(f"{what} l = {v}" if v == m else f"l = {v} (layer {m} is {what})")
    layers = sorted({m for _, m in left_out})
    tags = [t for t in (_softmax_rule_tag(net, mode, sides, m) for m in layers) if t]
    see = f": see ({', '.join(tags)})" if tags else ""
    return f"{' or '.join(places)}, where σ' is the Jacobian ∂a_i/∂z_j, not unit by unit{see}"


def _index_problems(left: Node, right: Node, depth: int, domain: list[int | None]) -> str | None:
    """Free indices on one side only, indices both free and summed, sums over the wrong range."""
    sides = [_scope(left, depth), _scope(right, depth)]
    names = ("left", "right")
    problems: list[str] = [*sides[0].problems, *sides[1].problems]
    summed: dict[str, str] = {}
    for name, scope in zip(names, sides, strict=True):
        for node, _ in scope.sums:
            summed.setdefault(node.index, name)
    reported: set[str] = set()
    for letter, where in summed.items():
        free_on = [n for n, s in zip(names, sides, strict=True) if letter in s.free]
        if free_on:
            sides_text = " and ".join(free_on)
            problems.append(
                f"index {letter} is both free ({sides_text} side) and summed ({where} side)"
            )
            reported.add(letter)
    for letter in sides[1].free:  # free on the left only: the right is the same for each value
        if letter not in sides[0].free and letter not in reported:
            problems.append(f"index {letter} is free on the right side only")
            reported.add(letter)
    for letter in {**sides[0].free, **sides[1].free}:
        uses = sides[0].free.get(letter, []) + sides[1].free.get(letter, [])
        if letter not in reported and all(u.layer is None for u in uses):
            problems.append(f"index {letter} numbers no unit (it appears only in δ_{{ij}})")
    for scope in sides:
        for node, uses in scope.sums:
            problem = _sum_problem(node, uses, depth, domain)
            if problem:
                problems.append(problem)
    return "; ".join(problems) if problems else None


def _sum_problem(
    node: SumOver, uses: list[_Use], depth: int, domain: list[int | None]
) -> str | None:
    if node.lower is not None and not (isinstance(node.lower, Num) and node.lower.value == 1):
        return f"the sum over {node.index} must start at 1 (units are numbered from 1)"
    layered = [u for u in uses if u.layer is not None]
    if node.upper is None:
        return None if layered else f"the sum over {node.index} has no upper limit"
    upper = node.upper
    if isinstance(upper, Num):
        return None
    if not (isinstance(upper, Qty) and upper.kind == "n" and upper.layer is not None):
        return f"the sum over {node.index} runs to a number or to a width n^{{(l)}}"
    for use in layered:
        assert use.layer is not None
        for v in domain:
            if use.layer.value(v, depth) != upper.layer.value(v, depth):
                return (
                    f"the sum over {node.index} runs to n^{{({upper.layer.text()})}}, but "
                    f"{node.index} numbers the units of layer {use.layer.text()} "
                    f"in {_show(use.node)}"
                )
    return None


def _sigma_layer(call: Call) -> LayerRef | None:
    """The layer whose activation \\sigma(x) means: that of the z (or a) it is applied to."""
    found = [n for n in walk(call.arg) if isinstance(n, Qty) and n.kind in ("z", "a")]
    layers = {n.layer for n in found if n.layer is not None}
    if len(layers) == 1:
        return layers.pop()
    zs = {n.layer for n in found if n.kind == "z" and n.layer is not None}
    return zs.pop() if len(zs) == 1 else None


def _check_sigmas(sides: list[Node], net: Network, text: str) -> None:
    kinds = {layer.activation for layer in net.layers}
    for side in sides:
        for node in walk(side):
            if (
                isinstance(node, Call)
                and node.fn.startswith("sigma")
                and _sigma_layer(node) is None
                and len(kinds) != 1
            ):
                raise LatexError(
                    "cannot tell which layer's \\sigma this is: apply it to z of one layer",
                    text,
                    node.pos,
                )


# ---------------------------------------------------------------- evaluation


def _shape(v: Val) -> str:
    if isinstance(v, float):
        return "a number"
    rows, cols = v.shape
    return f"{rows}×{cols}"


class _Evaluator:
    """Values of AST nodes at one point, for given layer and index values."""

    def __init__(self, point: _Point) -> None:
        self.p = point
        self.depth = point.depth

    def layer(self, ref: LayerRef, env: dict[str, int]) -> int:
        return ref.value(env.get("l"), self.depth)

    def value(self, node: Node, env: dict[str, int]) -> Val:
        if isinstance(node, Num):
            try:
                return float(node.value)
            except OverflowError:
                return math.inf
        if isinstance(node, Euler):
            return math.e
        if isinstance(node, Qty):
            return self.quantity(node, env)
        if isinstance(node, Kron):
            return 1.0 if self.index(node.first, env) == self.index(node.second, env) else 0.0
        if isinstance(node, Part):
            return self.partial(node, env)
        if isinstance(node, Call):
            return self.call(node, env)
        if isinstance(node, Add):
            total: Val = 0.0
            for sign, term in node.terms:
                total = _add(total, self.value(term, env), sign)
            return total
        if isinstance(node, Mul):
            return self.product(node, env)
        if isinstance(node, Pow):
            return self.power(node, env)
        if isinstance(node, Tr):
            v = self.value(node.arg, env)
            return v if isinstance(v, float) else v.T
        if isinstance(node, SumOver):
            return self.sum(node, env)
        raise AssertionError(node)  # pragma: no cover

    def index(self, index: Index, env: dict[str, int]) -> int:
        return index if isinstance(index, int) else env[index]

    def quantity(self, q: Qty, env: dict[str, int]) -> Val:
        if q.kind == "E":
            return self.p.E
        assert q.layer is not None or q.kind == "y"
        m = self.layer(q.layer, env) if q.layer is not None else self.depth
        if q.kind == "n":
            return float(self.p.sizes[m])
        value = self.p.array(q.kind, m)
        if not q.indices:
            return value
        where = [self.index(x, env) for x in q.indices]
        for axis, unit in enumerate(where):
            if not 1 <= unit <= value.shape[axis]:
                raise _Undefined(
                    f"{_show(q)} with unit {unit} does not exist: "
                    f"units are numbered 1 to {value.shape[axis]}"
                )
        return float(value[where[0] - 1, where[1] - 1 if len(where) > 1 else 0])

    def key(self, q: Qty, env: dict[str, int]) -> Key:
        if q.kind == "E":
            return ("E", 0)
        if q.kind == "y":
            return ("y", 0)
        assert q.layer is not None
        return (q.kind, self.layer(q.layer, env))

    def flat(self, q: Qty, env: dict[str, int]) -> int:
        if not q.indices:
            return 0
        where = [self.index(x, env) for x in q.indices]
        key = self.key(q, env)
        shape = self.p.array(key[0], key[1]).shape if key[0] not in ("E",) else (1, 1)
        for axis, unit in enumerate(where):
            if not 1 <= unit <= shape[axis]:
                raise _Undefined(f"{_show(q)} with unit {unit} does not exist")
        if len(where) == 2:
            return int((where[0] - 1) * shape[1] + where[1] - 1)
        return where[0] - 1

    def partial(self, node: Part, env: dict[str, int]) -> Val:
        num, den = node.num, node.den
        x, y = self.key(num, env), self.key(den, env)
        jac = self.p.jac(x, y)  # softmax included: ∂a_j/∂z_j is its Jacobian's diagonal entry
        if num.indices or den.indices:
            return float(jac[self.flat(num, env), self.flat(den, env)])
        if num.kind == "E":
            shape = self.p.array(y[0], y[1]).shape if y[0] != "y" else self.p.y.shape
            return jac.reshape(shape)
        if den.kind == "w" and jac.shape[0] > 1:
            raise _Malformed(f"∂{_show(num)}/∂{_show(den)} is not a matrix; write it with indices")
        if den.kind == "w":
            return jac.reshape(self.p.W[y[1]].shape)
        return jac

    def call(self, node: Call, env: dict[str, int], diagonal: bool = False) -> Val:
        """A function's value; `diagonal`: the call is a whole factor of a ⊙ product, where a
        softmax σ' is read elementwise, as ∂a_j/∂z_j (its Jacobian's diagonal)."""
        arg = self.value(node.arg, env)
        if node.fn in ("sigma", "sigma_prime"):
            ref = _sigma_layer(node)
            m = self.layer(ref, env) if ref is not None else 1  # one activation throughout
            if not 1 <= m <= self.depth:
                raise _Undefined(f"layer {m} has no activation σ")
            if self.p.activation(m).is_softmax:
                return self.softmax(node, m, arg, env, diagonal)
            fn = self.p.sigma(m) if node.fn == "sigma" else self.p.sigma_prime(m)
            return _apply(fn, arg)
        with np.errstate(all="ignore"):
            fns: dict[str, Callable[[Any], Any]] = {
                "exp": np.exp,
                "log": np.log,
                "tanh": np.tanh,
                "sinh": np.sinh,
                "cosh": np.cosh,
                "sqrt": np.sqrt,
                "heaviside": lambda v: np.heaviside(v, 0.0),
            }
            out = fns[node.fn](arg)
        return float(out) if isinstance(arg, float) else np.asarray(out, dtype=np.float64)

    def softmax(self, node: Call, m: int, arg: Val, env: dict[str, int], diagonal: bool) -> Val:
        """σ or σ' of softmax layer m: σ(z^{(m)}) is the vector a^{(m)}, σ(z_j^{(m)}) its entry
        a_j^{(m)}; σ'(z^{(m)}) is the Jacobian ∂a^{(m)}/∂z^{(m)} (its diagonal inside ⊙) and
        σ'(z_j^{(m)}) the entry ∂a_j^{(m)}/∂z_j^{(m)}, as for any other layer."""
        prime = node.fn == "sigma_prime"
        if isinstance(arg, float):
            inner = node.arg
            if not (isinstance(inner, Qty) and inner.kind == "z" and len(inner.indices) == 1):
                name = "σ'" if prime else "σ"
                raise _Malformed(
                    f"layer {m} is softmax, which acts on the whole vector z^{{({m})}}: "
                    f"{name} of one number is not defined there; write {name}(z_j^{{({m})}})"
                )
            unit = self.index(inner.indices[0], env) - 1
            s = self.p.a[m][:, 0]
            if prime:
                return float(s[unit] * (1.0 - s[unit]))
            return float(s[unit])
        if arg.shape[1] != 1:
            raise _Malformed(f"softmax (layer {m}) acts on a column vector, not a {_shape(arg)}")
        with np.errstate(all="ignore"):
            e = np.exp(arg - arg.max())
            s = e / e.sum()
        if not prime:
            return np.asarray(s, dtype=np.float64)
        if diagonal:
            return np.asarray(s * (1.0 - s), dtype=np.float64)
        return np.asarray(np.diagflat(s) - s @ s.T, dtype=np.float64)

    def product(self, node: Mul, env: dict[str, int]) -> Val:
        segments: list[Val] = []
        current: Val | None = None
        ops = [op for op, _ in node.factors]
        for n, (op, factor) in enumerate(node.factors):
            alone = op == "odot" or (n + 1 < len(ops) and ops[n + 1] == "odot")
            alone = alone and (n + 1 == len(ops) or ops[n + 1] == "odot")
            alone = alone and (n == 0 or op == "odot")
            v = self.elementwise(factor, env) if alone else self.value(factor, env)
            if op == "odot" and current is not None:
                segments.append(current)
                current = v
            elif current is None:
                current = v
            elif op == "/":
                current = _divide(current, v)
            else:
                current = _times(current, v)
        assert current is not None
        segments.append(current)
        out = segments[0]
        for v in segments[1:]:
            out = _hadamard(out, v)
        return out

    def elementwise(self, node: Node, env: dict[str, int]) -> Val:
        """A whole factor of a ⊙ product: there σ'(z^{(m)}) and ∂a^{(m)}/∂z^{(m)} mean the
        vector of ∂a_j/∂z_j, the Jacobian's diagonal (all of it for an elementwise layer, and
        not all of it for softmax, so an elementwise softmax claim meets the true Jacobian)."""
        if isinstance(node, Call) and node.fn == "sigma_prime":
            return self.call(node, env, diagonal=True)
        value = self.value(node, env)
        if (
            isinstance(node, Part)
            and node.num.kind == "a"
            and node.den.kind == "z"
            and not node.num.indices
            and not node.den.indices
            and isinstance(value, np.ndarray)
            and value.ndim == 2
            and value.shape[0] == value.shape[1]
            and self.key(node.num, env)[1] == self.key(node.den, env)[1]
        ):
            return np.asarray(np.diag(value).reshape(-1, 1), dtype=np.float64)
        return value

    def power(self, node: Pow, env: dict[str, int]) -> Val:
        base = self.value(node.base, env)
        exponent = self.value(node.exponent, env)
        if not isinstance(exponent, float):
            raise _Malformed("an exponent must be a number")
        with np.errstate(all="ignore"):
            if isinstance(base, float):
                try:
                    return float(base**exponent) if base > 0 or exponent.is_integer() else math.nan
                except OverflowError:
                    return math.inf
                except ZeroDivisionError:
                    return math.nan
            return np.asarray(np.power(base, exponent), dtype=np.float64)

    def sum(self, node: SumOver, env: dict[str, int]) -> Val:
        low = 1 if node.lower is None else self.value(node.lower, env)
        if node.upper is not None:
            high = self.value(node.upper, env)
        else:
            high = float(self.p.sizes[self.sum_layer(node, env)])
        if not (isinstance(low, float | int) and isinstance(high, float)):
            raise _Malformed("the limits of a sum must be numbers")
        if not (float(low).is_integer() and high.is_integer()):
            raise _Malformed("the limits of a sum must be whole numbers")
        if high - low > MAX_SUM_TERMS:
            raise _Malformed(f"a sum of more than {MAX_SUM_TERMS} terms")
        total: Val = 0.0
        for v in range(int(low), int(high) + 1):
            total = _add(total, self.value(node.body, {**env, node.index: v}), 1)
        return total

    def sum_layer(self, node: SumOver, env: dict[str, int]) -> int:
        for q in walk(node.body):
            if isinstance(q, Qty):
                for letter, layer in _index_uses(q):
                    if letter == node.index and layer is not None:
                        return self.layer(layer, env)
        raise _Undefined(f"the sum over {node.index} has no range")


def _add(x: Val, y: Val, sign: int) -> Val:
    if isinstance(x, float) or isinstance(y, float) or x.shape == y.shape:
        return x + sign * y
    raise _Malformed(f"it adds a {_shape(x)} and a {_shape(y)} matrix")


def _times(x: Val, y: Val) -> Val:
    if isinstance(x, float) or isinstance(y, float):
        return x * y
    if x.shape[1] != y.shape[0]:
        raise _Malformed(
            f"a product of a {_shape(x)} and a {_shape(y)} matrix is not defined"
            " (\\odot is the elementwise product)"
        )
    return x @ y


def _divide(x: Val, y: Val) -> Val:
    with np.errstate(all="ignore"):
        if isinstance(y, float):
            if y == 0.0:
                return x * math.inf if isinstance(x, float) else x * np.inf
            return x / y
        if isinstance(x, float) or x.shape == y.shape:
            return np.asarray(x / y, dtype=np.float64)
    raise _Malformed(f"it divides a {_shape(x)} by a {_shape(y)} matrix")


def _hadamard(x: Val, y: Val) -> Val:
    if isinstance(x, float) or isinstance(y, float) or x.shape == y.shape:
        return x * y
    raise _Malformed(f"\\odot needs equal shapes, not {_shape(x)} and {_shape(y)}")


def _differ(left: Val, right: Val, tolerance: float) -> tuple[tuple[int, int], float, float] | None:
    """The first entry where the sides disagree, or None when they agree everywhere."""
    if isinstance(left, float) or isinstance(right, float) or left.shape == right.shape:
        lv, rv = np.broadcast_arrays(np.atleast_2d(left), np.atleast_2d(right))
    elif left.size == 1 and right.size == 1:
        lv, rv = left.reshape(1, 1), right.reshape(1, 1)
    else:
        raise _Malformed(f"the left side is {_shape(left)} and the right side {_shape(right)}")
    with np.errstate(all="ignore"):
        scale = np.maximum(np.abs(lv), np.abs(rv))
        close = np.abs(lv - rv) <= tolerance * scale + ABSOLUTE_TOLERANCE
    bad = ~(close & np.isfinite(lv) & np.isfinite(rv))  # inf and nan are no real values
    if not bad.any():
        return None
    r, c = (int(v) for v in np.argwhere(bad)[0])
    return (r, c), float(lv[r, c]), float(rv[r, c])


# ---------------------------------------------------------------- judging


@dataclass
class _Claim:
    step: int
    left: Node
    right: Node


def verify(
    network: Network,
    equation: str,
    *,
    seed: int = 0,
    points: int = POINTS,
    tolerance: float = TOLERANCE,
) -> Verdict:
    """Judge one LaTeX equation on `network`; raises LatexError when it cannot be read."""
    sides = parse_equation(equation)
    try:
        return _judge(network, sides, equation, seed, points, tolerance)
    except RecursionError:
        raise LatexError("the equation is nested too deeply", equation, 0) from None


def verify_text(
    network: Network, text: str, *, seed: int = 0, tolerance: float = TOLERANCE
) -> list[tuple[int, Verdict | LatexError]]:
    """Judge every equation of a .tex snippet; (line, verdict or reading error) for each."""
    out: list[tuple[int, Verdict | LatexError]] = []
    for start, end in split_equations(text):
        line = 1 + text.count("\n", 0, start)
        try:
            sides = parse_equation(text[start:end])
        except LatexError as err:
            out.append((line, err.at(text, start)))
            continue
        try:
            out.append((line, _judge(network, sides, text[start:end], seed, POINTS, tolerance)))
        except LatexError as err:
            out.append((line, err.at(text, start)))
        except RecursionError:
            out.append((line, LatexError("the equation is nested too deeply", text, start)))
    return out


def _judge(
    net: Network, sides: list[Node], text: str, seed: int, points: int, tolerance: float
) -> Verdict:
    _check_sigmas(sides, net, text)
    mode, mixed = _mode(sides)
    correct = _correct(net, sides, mode)

    def verdict(holds: bool, reason: str, found: _Outcome | None = None, **extra: Any) -> Verdict:
        instance = found.instance if found else None
        at_l = dict(instance.layers).get("l") if instance else None
        hint = correct if at_l is None else _correct(net, sides, mode, at_l)
        checked = extra.get("checked", found.count if found else 0)
        symbolic = extra.get("symbolic", False)
        applies = extra.get("applies", True)
        return Verdict(holds, reason, instance, hint, tolerance, checked, symbolic, applies)

    def not_applying(why: str) -> Verdict:
        return verdict(False, f"does not apply: {why}", applies=False)

    if mixed:
        return verdict(False, f"does not hold: {mixed}")
    evaluated, note = net, ""
    if mode == "neuron":
        restricted = _restricted(net)
        if restricted is not None:
            evaluated = restricted
            if restricted is not net:
                note = " (on the one-neuron-per-layer chain of this network's activations)"
    _check_size(evaluated)
    depth = net.depth
    domain, missing = _layer_domain(sides, depth)
    if missing:
        return not_applying(missing)
    everywhere = domain
    domain, left_out = _split_domain(sides, net, domain)
    skipped = _skipped_note(net, mode, sides, left_out) if left_out else ""
    claims = [
        _Claim(n, left, right) for n, (left, right) in enumerate(itertools.pairwise(sides), 1)
    ]
    many = len(claims) > 1
    states = [_Point(evaluated, seed + p) for p in range(points)]
    for claim in claims:
        problem = (
            _index_problems(claim.left, claim.right, depth, everywhere) if mode == "index" else None
        )
        if problem:
            found = _check_claim(claim, states, domain, mode, tolerance) if domain else None
            example = ""
            if found is not None and found.instance is not None and found.malformed is None:
                example = f"; for example {_counterexample(found.instance, mode, points)}"
            reason = f"{_step(claim, many)}does not hold: {problem}{example}"
            return verdict(False, reason, found if example else None)
    if not domain and left_out:
        only = "the only layer l" if len(left_out) == 1 else "every layer l"
        return not_applying(
            "it reads layer l's derivative unit by unit, a rule for elementwise activations, "
            f"and {only} of this network it has is {skipped}"
        )
    if not domain:
        return not_applying(_no_layer(sides, depth))
    checked = 0
    vacuous: list[str] = []
    for claim in claims:
        found = _check_claim(claim, states, domain, mode, tolerance)
        checked += found.count
        step = _step(claim, many)
        if found.instance is not None:
            if found.malformed is not None:
                where = _describe(found.instance, mode, points)
                return verdict(False, f"{step}does not hold {where}: {found.malformed}", found)
            example = _counterexample(found.instance, mode, points)
            reason = f"{step}does not hold {example}{note}"
            return verdict(False, reason, found, checked=checked)
        if found.count == 0:
            why, benign = found.skipped or ("it has no instance on this network", True)
            if not benign:
                return verdict(False, f"{step}does not hold: {why}", checked=checked)
            return not_applying(f"{step}{why}".strip())
        if found.skipped is not None:
            vacuous.append(f"{step}{found.skipped[0]}".strip())
    identities = _symbolic(claims) if mode != "vector" else 0
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


def _check_size(net: Network) -> None:
    sizes = net.sizes
    for m in range(1, len(sizes)):
        if sizes[m] * sizes[m] * max(sizes[m - 1], 1) > MAX_JACOBIAN:
            raise SymbackpropError(
                f"{net.name}: layer {m} ({sizes[m]} units) is too wide to check numerically;"
                " verify on a smaller network with the same activations and loss"
            )


def _step(claim: _Claim, many: bool) -> str:
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
    claim: _Claim, states: list[_Point], domain: list[int | None], mode: Mode, tolerance: float
) -> _Outcome:
    """Compare both sides at every point, layer l and index tuple until they disagree."""
    depth = states[0].depth
    letters: list[str] = []
    uses: dict[str, list[_Use]] = {}
    if mode == "index":
        for side in (claim.left, claim.right):
            for letter, found in _scope(side, depth).free.items():
                if letter not in uses:
                    letters.append(letter)
                uses.setdefault(letter, []).extend(found)
    out = _Outcome()
    uses_big_l = "L" in _layers_used([claim.left, claim.right])
    for number, point in enumerate(states, start=1):
        ev = _Evaluator(point)
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
                env = dict(zip(letters, values, strict=True))
                if l_value is not None:
                    env["l"] = l_value
                try:
                    left = ev.value(claim.left, env)
                    right = ev.value(claim.right, env)
                    left, right = _as_jacobian(claim.left, left, right)
                    right, left = _as_jacobian(claim.right, right, left)
                    differ = _differ(left, right, tolerance)
                except _Malformed as err:
                    out.instance = Instance(claim.step, number, layers, (), None, None)
                    out.malformed = str(err)
                    return out
                except _Undefined as err:
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


def _as_jacobian(side: Node, value: Val, other: Val) -> tuple[Val, Val]:
    """A side that is ∂a^{(m)}/∂z^{(m)} (a square matrix) against a column: the column is read
    as the elementwise derivative, the diagonal matrix diag(v).  Elementwise layers agree
    with it; softmax's Jacobian does not (off its diagonal)."""
    if (
        isinstance(side, Part)
        and (side.num.kind, side.den.kind) == ("a", "z")
        and not side.num.indices
        and not side.den.indices
        and side.num.layer == side.den.layer
        and isinstance(value, np.ndarray)
        and isinstance(other, np.ndarray)
        and value.shape[0] == value.shape[1] > 1
        and other.shape == (value.shape[0], 1)
    ):
        return value, np.asarray(np.diagflat(other), dtype=np.float64)
    return value, other


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


# ---------------------------------------------------------------- symbolic check


class _NotSymbolic(Exception):
    pass


_LETTERS: dict[str, sympy.Symbol] = {"j": nt.j, "k": nt.k, "i": nt.i}


def _letter(index: Index) -> sympy.Expr:
    if isinstance(index, int):
        return sympy.Integer(index)
    return _LETTERS.get(index) or sympy.Symbol(index, integer=True, positive=True)


_CLASSES: dict[str, Any] = {
    "a": nt.Act,
    "z": nt.Pre,
    "w": nt.Weight,
    "b": nt.Bias,
    "delta": nt.Delta,
    "n": nt.Width,
}


def to_sympy(node: Node) -> sympy.Expr:
    """The AST as SymPy over the notation classes (index and one-neuron forms)."""
    if isinstance(node, Num):
        return sympy.Rational(node.value.numerator, node.value.denominator)
    if isinstance(node, Euler):
        return sympy.E
    if isinstance(node, Qty):
        if node.kind == "E":
            return nt.E
        if node.kind == "y":
            return nt.Target(*[_letter(x) for x in node.indices])
        assert node.layer is not None
        cls = _CLASSES[node.kind]
        if node.matrix:
            cls = nt.WeightMatrix
        return cls(node.layer.expr(), *[_letter(x) for x in node.indices])
    if isinstance(node, Kron):
        return sympy.KroneckerDelta(_letter(node.first), _letter(node.second))
    if isinstance(node, Part):
        return nt.Partial(to_sympy(node.num), to_sympy(node.den))
    if isinstance(node, Call):
        arg = to_sympy(node.arg)
        table: dict[str, Any] = {
            "sigma": nt.Sigma,
            "sigma_prime": nt.SigmaPrime,
            "exp": sympy.exp,
            "log": sympy.log,
            "tanh": sympy.tanh,
            "sinh": sympy.sinh,
            "cosh": sympy.cosh,
            "sqrt": sympy.sqrt,
            "heaviside": lambda v: sympy.Heaviside(v, 0),
        }
        return table[node.fn](arg)
    if isinstance(node, Add):
        return sympy.Add(*[sign * to_sympy(t) for sign, t in node.terms])
    if isinstance(node, Mul):
        out = sympy.Integer(1)
        for op, factor in node.factors:
            value = to_sympy(factor)
            out = out / value if op == "/" else out * value
        return out
    if isinstance(node, Pow) and not node.elementwise:
        return sympy.Pow(to_sympy(node.base), to_sympy(node.exponent))
    if isinstance(node, SumOver) and node.upper is not None:
        lower = sympy.Integer(1) if node.lower is None else to_sympy(node.lower)
        return sympy.Sum(to_sympy(node.body), (_letter(node.index), lower, to_sympy(node.upper)))
    raise _NotSymbolic


def _symbolic(claims: list[_Claim]) -> int:
    """How many claims are identities SymPy sees after expanding, partials and sigma' kept as
    symbols: rearrangements are, the chain rule itself is not."""
    count = 0
    for claim in claims:
        try:
            count += sympy.expand(to_sympy(claim.left) - to_sympy(claim.right)) == 0
        except (_NotSymbolic, TypeError, ValueError, AttributeError):
            continue
    return count


# ---------------------------------------------------------------- the correct formula


@lru_cache(maxsize=16)
def _derivation(network: Network) -> Derivation:
    return derive(network)


def _kind(side: Node) -> tuple[Kind, Qty] | None:
    """What a left-hand side states, and the quantity whose layer places it."""
    if isinstance(side, Qty) and side.kind == "E":
        return "loss", side
    if isinstance(side, Qty) and side.kind == "delta":
        return "delta", side
    if not isinstance(side, Part):
        return None
    num, den = side.num, side.den
    if num.kind == "E":
        kinds: dict[str, Kind] = {"w": "dE_dw", "b": "dE_db", "z": "delta", "a": "dE_da_prev"}
        kind = kinds.get(den.kind)
        return (kind, den) if kind else None
    if num.kind == "a" and den.kind == "z":
        return ("sigma_prime" if num.indices == den.indices else "jacobian"), den
    return None


def _correct(net: Network, sides: list[Node], mode: Mode, l_value: int | None = None) -> str | None:
    """The derivation's form of the equation's left-hand side, in the lecture's notation: from
    the view the equation is written in, else from another view.  `l_value`: the layer l where
    the equation failed; where that puts the left side at a softmax output, the rule quoted is
    the output's (through the Jacobian), not the general hidden-layer rule."""
    derivation = _derivation(net)
    depth = net.depth
    softmax_output = depth in _softmax_layers(net)
    own: dict[Mode, View] = {"index": "index", "vector": "vector", "neuron": "chain"}
    order: tuple[View, ...] = ("index", "vector", "chain")
    views = [own[mode], *(v for v in order if v != own[mode])]
    for view in views:
        if view == "chain" and not derivation.has_chain_view:
            continue
        for side in (sides[0], sides[-1]):
            found = _kind(side)
            if found is None:
                continue
            kind, qty = found
            layer = qty.layer or LayerRef("L", 0)
            if l_value is not None and layer.base == "l" and softmax_output:
                m = layer.value(l_value, depth)
                if (m + 1 if kind == "dE_da_prev" else m) == depth:
                    layer = LayerRef("L", m - depth)
                    kind = "jacobian" if kind == "sigma_prime" else kind
            eq = derivation.rule(view, kind, layer.expr())
            if eq is not None:
                return f"{latex(eq.lhs)} = {latex(eq.final)}"
    return None


# ---------------------------------------------------------------- the command line


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
