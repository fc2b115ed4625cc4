"""Reading an equation: the lark grammar `grammar.lark` gives a generic parse tree, `_Builder`
turns it into the tree of `tree.py`, giving meaning to symbols and scripts, and rejects anything
else as a LatexError with its position.  The text is never evaluated."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import TextError
from .tree import (
    Add,
    Call,
    Cases,
    Euler,
    Extremum,
    Index,
    Kron,
    LayerRef,
    Mul,
    Node,
    Num,
    Part,
    Pow,
    Qty,
    SumOver,
    Tr,
    walk,
)

#: The longest equation read, in characters.
MAX_TEXT = 100_000


class LatexError(TextError):
    """An equation that cannot be read: a one-line message, the text, and the offset of the
    problem (`caret()`, `where()` from TextError)."""

    def at(self, text: str, base: int) -> LatexError:
        """The same error placed in a larger text, `base` characters in."""
        offset = None if self.offset is None else self.offset + base
        return LatexError(self.message, text, offset)


@dataclass(frozen=True)
class _Sym(Node):
    """A bare symbol before its scripts are read (only inside the builder)."""

    name: str


@dataclass(frozen=True)
class _PartialMark(Node):
    """`\\partial X` before a fraction pairs it (only inside the builder)."""

    qty: Qty


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = (resources.files("symbackprop.verify") / "grammar.lark").read_text("utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True)


_QUANTITIES = {"a", "z", "w", "W", "b", "y", "n", "E", "x", "delta", "lambda"}


_NOTATION = "a, z, w, W, b, y, n, E, x, e, \\delta, \\sigma, \\partial"


_FUNCTIONS = {
    "\\sigma": "sigma",
    "\\log": "log",
    "\\ln": "log",
    "\\exp": "exp",
    "\\tanh": "tanh",
    "\\sinh": "sinh",
    "\\cosh": "cosh",
    "\\sign": "sign",
    "\\sgn": "sign",
}


_NEEDS_LAYER = {"a", "z", "w", "W", "b", "n"}


def parse_equation(text: str) -> list[Node]:
    """The sides of `lhs = r1 = r2 ...` as ASTs; raises LatexError with the position."""
    if len(text) > MAX_TEXT:
        raise LatexError(f"the equation is too long (limit {MAX_TEXT} characters)")
    try:
        tree = _parser().parse(_cases(_bars(text)))
    except UnexpectedInput as err:
        raise _syntax_error(err, text) from None
    try:
        sides = _Builder(text).equation(tree)
    except RecursionError:
        raise LatexError("the equation is nested too deeply", text, 0) from None
    return sides


_CASES = re.compile(r"\\begin\s*\{cases\}(.*?)\\end\s*\{cases\}", re.S)


def _cases(text: str) -> str:
    """Inside each cases environment, its row breaks \\\\ marked "\x03 " and its & marked
    "\x04" (as many characters, so positions stay): elsewhere both are layout."""
    if "cases" not in text:
        return text
    out = list(text)
    for match in _CASES.finditer(text):
        start, end = match.span(1)
        n = start
        while n < end:
            if text.startswith("\\\\", n):
                out[n], out[n + 1] = "\x03", " "
                n += 2
                continue
            if text[n] == "\\":  # a command: \& stays as written
                n += 2
                continue
            if text[n] == "&":
                out[n] = "\x04"
            n += 1
    return "".join(out)


#: What may stand before an opening | (after skipping spaces): nothing, an operator, a bracket.
_OPENS_AFTER = set("=+-*/([{,^_&\x02")


def _bars(text: str) -> str:
    """The text with each opening | of an absolute value marked \x02 (one character for one,
    so positions stay): a | opens where nothing stands before it that it could close."""
    if "|" not in text:
        return text
    out = list(text)
    depth = 0
    for n, char in enumerate(text):
        if char != "|":
            continue
        before = text[:n].rstrip()
        if before.endswith("\\left"):
            depth += 1
            continue
        if before.endswith("\\right"):
            depth = max(0, depth - 1)
            continue
        opens = not before or before[-1] in _OPENS_AFTER or before.endswith(("\\cdot", "\\odot"))
        if depth == 0 or opens:
            out[n] = "\x02"
            depth += 1
        else:
            depth -= 1
    return "".join(out)


def _syntax_error(err: UnexpectedInput, text: str) -> LatexError:
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        rest = text[pos:]
        if rest.startswith("\\"):
            name = "\\" + "".join(itertools.takewhile(str.isalpha, rest[1:]))
            name = name if len(name) > 1 else rest[:2]
            return LatexError(f"unknown command {name}", text, pos)
        return LatexError(f"unexpected character {rest[:1].replace(chr(2), '|')!r}", text, pos)
    if isinstance(err, UnexpectedToken) and err.token.type != "$END":
        token = err.token
        shown = str(token.value).replace("\x02", "|").strip() or repr(str(token.value))
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
        ends: list[int] = []  # where each factor ends as written (after a closing \right))
        op = "*"
        for c in tree.children:
            if isinstance(c, Token):
                op = {"\\odot": "odot", "/": "/"}.get(str(c), "*")
                continue
            if c.data == "factor" and len(c.children) == 1 and _data(c.children[0]) == "circ":
                op = "odot"  # a \circ b: the Hadamard product
                continue
            node = self.bigsum(c) if c.data == "bigsum" else self.factor(c)
            factors.append((op, node))
            ends.append(max(node.end, _end(c)))
            op = "*"
        factors = self._heaviside(factors, ends)
        factors = self._inline_partials(factors)
        if len(factors) == 1:
            return factors[0][1]
        return Mul(_start(tree), _end(tree), tuple(factors))

    def cases(self, tree: Tree[Token]) -> Cases:
        """A cases environment: each row's value and condition (None: otherwise)."""
        rows: list[tuple[Node, tuple[Node, str, Node] | None]] = []
        for row in tree.children:
            if not isinstance(row, Tree):
                continue
            parts = [c for c in row.children if isinstance(c, Tree)]
            compare = next(
                (str(c) for c in row.children if isinstance(c, Token) and c.type == "CMP"), None
            )
            value = self.expr(parts[0])
            if compare is None:
                rows.append((value, None))
                continue
            op = {"\\ge": ">=", "\\geq": ">=", "\\le": "<=", "\\leq": "<="}.get(compare, compare)
            rows.append((value, (self.expr(parts[1]), op, self.expr(parts[2]))))
        if any(condition is None for _, condition in rows[:-1]):
            raise self.fail("'otherwise' is the last row of a cases environment", _start(tree))
        return Cases(_start(tree), _end(tree), tuple(rows))

    def _heaviside(
        self, factors: list[tuple[str, Node]], ends: list[int]
    ) -> list[tuple[str, Node]]:
        """H followed by a factor is the Heaviside step of it; the call ends where the factor
        does as written (its closing bracket included)."""
        out: list[tuple[str, Node]] = []
        for (op, node), end in zip(factors, ends, strict=True):
            if out and isinstance(out[-1][1], _Sym) and out[-1][1].name == "H" and op == "*":
                head = out.pop()
                out.append((head[0], Call(head[1].pos, end, "heaviside", node)))
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
        return self.scripts(base, scripts, _start(primary) if primary.data == "paren" else None)

    def primary(self, tree: Tree[Token]) -> Node:
        kind = tree.data
        first = tree.children[0]
        if kind == "number":
            assert isinstance(first, Token)
            return Num(_pos(first), _endpos(first), Fraction(str(first)))
        if kind in ("letter", "delta", "top", "circ", "primecmd", "lam"):
            assert isinstance(first, Token)
            name = {"delta": "delta", "lam": "lambda"}.get(kind, str(first))
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
        if kind == "over":  # {a \over b}
            num, den = (c for c in tree.children if isinstance(c, Tree))
            top, bottom = self.expr(num), self.expr(den)
            if isinstance(top, _PartialMark) and isinstance(bottom, _PartialMark):
                return self.partial(top, bottom, _start(tree), _end(tree))
            if isinstance(top, _PartialMark) or isinstance(bottom, _PartialMark):
                raise self.fail(
                    "a partial derivative needs \\partial above and below", _start(tree)
                )
            return Mul(_start(tree), _end(tree), (("*", top), ("/", bottom)))
        if kind == "abs":
            inner = next(c for c in tree.children if isinstance(c, Tree))
            return Call(_start(tree), _end(tree), "abs", self.expr(inner))
        if kind == "minmax":
            first_arg, second_arg = (c for c in tree.children if isinstance(c, Tree))
            assert isinstance(first, Token)
            fn = "max" if "max" in str(first) else "min"
            return Extremum(
                _start(tree), _end(tree), fn, self.expr(first_arg), self.expr(second_arg)
            )
        if kind == "cases":
            return self.cases(tree)
        if kind == "nabla":
            return self.nabla(tree)
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

    def nabla(self, tree: Tree[Token]) -> Part:
        """\\nabla_a E (Nielsen): the gradient ∂E/∂a^{(L)}; \\nabla_{w^{(l)}} E: ∂E/∂w^{(l)}."""
        arg, body = (c for c in tree.children if isinstance(c, Tree))
        if arg.data == "arg_letter" and str(arg.children[0]) == "a":
            token = arg.children[0]
            assert isinstance(token, Token)
            den: Node = Qty(_pos(token), _endpos(token), "a", LayerRef("L", 0), ())
        else:
            den = self.arg_expr(arg)
        num = self.factor(body)
        if not (isinstance(num, Qty) and num.kind == "E" and isinstance(den, Qty)):
            raise self.fail("\\nabla is written \\nabla_a E or \\nabla_{w^{(l)}} E", _start(tree))
        if den.kind not in ("a", "z", "w", "b"):
            raise self.fail("a gradient is taken with respect to a, z, w or b", den.pos)
        return Part(_start(tree), _end(tree), num, den)

    def partial(self, num: _PartialMark, den: _PartialMark, pos: int, end: int) -> Part:
        if num.qty.kind not in ("E", "a", "z", "w", "b", "y"):
            raise self.fail("the numerator of a partial derivative is E, a, z, w or b", num.pos)
        if den.qty.kind not in ("a", "z", "w", "b", "y"):
            raise self.fail("a derivative is taken with respect to a, z, w, b or y", den.pos)
        return Part(pos, end, num.qty, den.qty)

    def call(self, tree: Tree[Token], outer: list[Tree[Token]]) -> Node:
        head = tree.children[0]
        assert isinstance(head, Token)
        name = str(head)
        if name.startswith("\\operatorname"):
            name = "\\" + name.split("{", 1)[1].rstrip("}").strip()
        fn = _FUNCTIONS[name]
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
            elif (
                script.data == "sup"
                and layer is None
                and not rest
                and (name in _NEEDS_LAYER or name == "delta")
                and self.bare_layer(script)
            ):  # Nielsen's a^l_j, w^l_{jk}, \delta^{l+1}: nothing else fits a superscript there
                layer = self.layer(script, bare=True)
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
        if name == "lambda":  # a regularisation strength: λ (L2), λ_1 (L1), λ_2, λ^{(l)}
            if indices not in ((), (1,), (2,)):
                raise self.fail("\\lambda is λ (L2), λ_1 (L1) or λ_2, with a layer or not", pos)
            return Qty(pos, end, "lambda1" if indices == (1,) else "lambda", layer, ())
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

    def bare_layer(self, script: Tree[Token]) -> bool:
        """A superscript that is a layer written without parentheses: 2, l, L, l-1, L+1."""
        tokens = self.token_list(script)
        values = [str(t) for t in tokens]
        if len(tokens) == 1:
            number = tokens[0].type == "NUMBER" and "." not in values[0]
            return number or values[0] in ("l", "L")
        return (
            len(tokens) == 3
            and values[0] in ("l", "L")
            and values[1] in ("+", "-")
            and tokens[2].type == "NUMBER"
            and "." not in values[2]
        )

    def layer(self, script: Tree[Token], bare: bool = False) -> LayerRef:
        tokens = self.token_list(script)
        inner = tokens if bare else tokens[1:-1]
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

    def scripts(self, node: Node, scripts: list[Tree[Token]], start: int | None = None) -> Node:
        """Superscripts after a finished operand: powers, transposes, elementwise powers; the
        nodes they make start at `start` (a bracket around the operand) or the operand."""
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
            pos = node.pos if start is None else start
            start = None
            types = [t.type for t in self.token_list(script)]
            if tokens == ["T"] or types == ["TOP"]:
                node = Tr(pos, end, node)
                continue
            arg = script.children[0]
            assert isinstance(arg, Tree)
            if tokens and tokens[0] == "\\circ":
                exponent = self.circ_exponent(arg)
                node = Pow(pos, end, node, exponent, True)
                continue
            node = Pow(pos, end, node, self.arg_expr(arg), False)
        return node

    def circ_exponent(self, arg: Tree[Token]) -> Node:
        tokens = self.token_list(arg)
        if len(tokens) != 2 or tokens[1].type != "NUMBER":
            raise self.fail("an elementwise power is written ^{\\circ 2}", _start(arg))
        return Num(_pos(tokens[1]), _endpos(tokens[1]), Fraction(str(tokens[1])))


def _minus_one(node: Node) -> Num:
    return Num(node.pos, node.pos, Fraction(-1))


def _data(node: Tree[Token] | Token) -> str:
    return str(node.data) if isinstance(node, Tree) else ""


def _pos(token: Token) -> int:
    return int(token.start_pos or 0)


def _endpos(token: Token) -> int:
    return int(token.end_pos or 0)


def _start(tree: Tree[Token]) -> int:
    return int(getattr(tree.meta, "start_pos", 0))


def _end(tree: Tree[Token]) -> int:
    return int(getattr(tree.meta, "end_pos", 0))
