"""Safe parsing of user-typed math expressions into SymPy, without eval or SymPy's string parsers.

Only whitelisted ast nodes are converted by hand; sizes, nesting and constants are bounded.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

import sympy
from sympy import Expr, Symbol

from .errors import TextError

MAX_LENGTH = 1000
MAX_DEPTH = 60
MAX_INT_DIGITS = 30
MAX_DIGITS = 300
MAX_NUMERIC_EXPONENT = 1000
MAX_SYMBOLIC_EXPONENT = 100
_MAX_EXACT_DIGITS = 1000
_LIMIT = 10**MAX_DIGITS

FUNCTIONS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {
        "abs": sympy.Abs,
        "cos": sympy.cos,
        "cosh": sympy.cosh,
        "erf": sympy.erf,
        "exp": sympy.exp,
        "log": sympy.log,
        "max": sympy.Max,
        "min": sympy.Min,
        "sin": sympy.sin,
        "sinh": sympy.sinh,
        "sqrt": sympy.sqrt,
        "tanh": sympy.tanh,
    }
)
_VARIADIC = frozenset({"max", "min"})

_FLOAT_LITERAL = re.compile(r"(?:[0-9_]+\.?[0-9_]*|\.[0-9_]+)(?:[eE][+-]?[0-9_]+)?")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_UNDEFINED = (sympy.nan, sympy.zoo, sympy.oo, -sympy.oo)
_NOT_REAL = "the value is complex, not real"
_NOT_REAL_HINT = "for example the log or square root of a negative number"

_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
_FAMILY: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "+", ast.Mult: "*", ast.Div: "*"}
_OPERATOR_ERRORS: dict[type[ast.AST], tuple[str, str]] = {
    ast.BitXor: ("'^' is not allowed", "use ** for powers, not ^"),
    ast.FloorDiv: ("'//' (floor division) is not allowed", "use / for division"),
    ast.Mod: ("'%' (remainder) is not allowed", ""),
    ast.MatMult: ("'@' (matrix product) is not allowed", ""),
    ast.BitAnd: ("the bitwise operator '&' is not allowed", ""),
    ast.BitOr: ("the bitwise operator '|' is not allowed", ""),
    ast.LShift: ("the bitwise operator '<<' is not allowed", ""),
    ast.RShift: ("the bitwise operator '>>' is not allowed", ""),
    ast.Invert: ("the bitwise operator '~' is not allowed", ""),
    ast.Not: ("'not' is not allowed", ""),
}
_NODE_ERRORS: dict[type[ast.AST], str] = {
    ast.Subscript: "indexing with [...] is not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.IfExp: "conditional expressions ('a if c else b') are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and' and 'or' are not allowed",
    ast.NamedExpr: "assignment (':=') is not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.List: "square brackets [...] are not allowed",
    ast.Tuple: "commas are only allowed between function arguments",
    ast.Set: "braces {...} are not allowed",
    ast.Dict: "braces {...} are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}


class ExprError(TextError, ValueError):
    """A rejected user expression; `offset` (the column, on one line) of the problem, or None."""

    #: `column` counts from the start of the whole text, line breaks included.
    one_line = True

    def __init__(self, message: str, text: str, column: int | None = None) -> None:
        super().__init__(message, text, column)


def parse_expression(text: str, variables: Mapping[str, Symbol]) -> Expr:
    """Parse `text` using only `variables` (e.g. {"z": z}), numbers, + - * / ** and FUNCTIONS.

    Never evaluates the text: it is parsed with ast and only whitelisted nodes are converted.
    """
    return _Parser(text, variables).parse()


def _digits(value: Any) -> float:
    """log10 of the largest numerator or denominator among the rationals inside a constant."""
    sizes = [max(abs(int(r.p)), int(r.q)) for r in value.atoms(sympy.Rational)]
    return max((math.log10(s) for s in sizes if s > 0), default=0.0)


def _exact_work(exponent: Any) -> int:
    """How many times over SymPy may multiply a base's digits to raise it to `exponent` exactly."""
    if not isinstance(exponent, sympy.Rational):
        return 0
    return abs(int(exponent.p)) + int(exponent.q) - 1


def _log10_abs(value: Any) -> float:
    """log10 |value| of a constant (-inf for zero); nan when it cannot be evaluated."""
    parts = _log10_parts(value)
    return math.nan if any(math.isnan(part) for part in parts) else max(parts)


def _log10_parts(value: Any) -> tuple[float, float]:
    """log10 of |re| and |im| of a constant, evaluated numerically so huge values are cheap."""
    if isinstance(value, sympy.Rational):
        p, q = abs(int(value.p)), int(value.q)
        return (math.log10(p) - math.log10(q) if p else -math.inf), -math.inf
    try:
        real, imag = value.evalf(15).as_real_imag()
        return _log10_float(real), _log10_float(imag)
    except (ArithmeticError, TypeError, ValueError, RecursionError):
        return math.nan, math.nan


def _log10_float(part: Any) -> float:
    """log10 |part| of an evaluated real number, read from its binary exponent."""
    if part.is_zero:
        return -math.inf
    if isinstance(part, sympy.Float):
        _, mantissa, exponent, _ = part._mpf_
        if mantissa:
            return float((math.log2(mantissa) + exponent) * math.log10(2))
    return math.inf if part.is_infinite else math.nan


class _Parser:
    """One parse: the text, the allowed names, and the constants already checked."""

    def __init__(self, text: str, variables: Mapping[str, Symbol]) -> None:
        self.text = text
        self.variables = variables
        self.checked: set[Any] = set()
        self.shift = 0
        self.line_starts = [0]

    def parse(self) -> Expr:
        """Check sizes, parse with ast, check depth, then convert."""
        text = self.text
        if len(text) > MAX_LENGTH:
            raise self.error(
                f"expression too long ({len(text)} characters; limit {MAX_LENGTH})", MAX_LENGTH
            )
        if not text.strip():
            raise self.error("empty expression", None)
        depth = 0
        for i, char in enumerate(text):
            if char in "([{":
                depth += 1
                if depth > MAX_DEPTH:
                    raise self.error(f"nested too deeply (limit {MAX_DEPTH})", i)
            elif char in ")]}":
                depth = max(depth - 1, 0)
        body = text.lstrip()
        self.shift = len(text) - len(body)
        self.line_starts = [0, *(m.end() for m in _NEWLINE.finditer(body))]
        try:
            with warnings.catch_warnings():  # "1if x else 2" warns on stderr; the error is ours
                warnings.simplefilter("ignore", SyntaxWarning)
                tree = ast.parse(body, mode="eval")
        except SyntaxError as exc:
            raise self.syntax_error(exc) from None
        except UnicodeError as exc:
            start = getattr(exc, "start", None)
            column = self.shift + start if isinstance(start, int) else None
            raise self.error("the text contains characters that cannot be read", column) from None
        except (RecursionError, MemoryError, ValueError):
            raise self.error("expression too complex", None) from None
        self.check_depth(tree.body)
        result = self.convert(tree.body)
        if not isinstance(result, Expr):
            raise self.error("the expression is not a number", self.start(tree.body))
        return result

    def error(self, message: str, column: int | None, detail: str = "") -> ExprError:
        """An ExprError reading 'message at column N; detail', N counted from 1."""
        where = "" if column is None else f" at column {column + 1}"
        return ExprError(f"{message}{where}{'; ' if detail else ''}{detail}", self.text, column)

    def syntax_error(self, exc: SyntaxError) -> ExprError:
        """A Python syntax error, its 1-based offset turned into a 0-based column of the text."""
        message = " ".join(str(exc.msg).split())
        if "null bytes" in message:
            return self.error("the text contains a null character", self.text.find("\0"))
        column = None
        if exc.lineno is not None and 1 <= exc.lineno <= len(self.line_starts):
            start, end = self.line_bounds(exc.lineno)
            offset = exc.offset if exc.offset is not None and exc.offset >= 1 else end - start + 1
            column = self.shift + min(start + offset - 1, end)
        return self.error(f"syntax error: {message}", column)

    def line_bounds(self, lineno: int) -> tuple[int, int]:
        """Start and end (before the line break) of a 1-based line of the parsed text."""
        body = self.text[self.shift :]
        start = self.line_starts[lineno - 1]
        nxt = self.line_starts[lineno] if lineno < len(self.line_starts) else len(body)
        return start, len(body[start:nxt].rstrip("\r\n")) + start

    def position(self, lineno: int, byte_col: int) -> int:
        """0-based offset in the text of an ast (line, UTF-8 byte column) position."""
        start, end = self.line_bounds(lineno)
        line = self.text[self.shift + start : self.shift + end]
        return self.shift + start + len(line.encode()[:byte_col].decode(errors="ignore"))

    def start(self, node: ast.AST) -> int | None:
        """Where a node begins in the text."""
        lineno, col = getattr(node, "lineno", None), getattr(node, "col_offset", None)
        return None if lineno is None or col is None else self.position(lineno, col)

    def after(self, node: ast.AST) -> int | None:
        """The first offset after `node` that is not a space, a ')' or a comment (an operator)."""
        lineno, col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if lineno is None or col is None:
            return self.start(node)
        i, text = self.position(lineno, col), self.text
        while i < len(text) and (text[i].isspace() or text[i] in ")\\#"):
            if text[i] == "#":
                while i < len(text) and text[i] not in "\r\n":
                    i += 1
            else:
                i += 1
        return i

    def check_depth(self, root: ast.expr) -> None:
        """Refuse trees nested deeper than MAX_DEPTH; a run of + - or of * / counts once."""
        stack: list[tuple[ast.AST, int]] = [(root, 0)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_DEPTH:
                raise self.error(f"nested too deeply (limit {MAX_DEPTH})", self.start(node))
            for child in ast.iter_child_nodes(node):
                same_run = (
                    isinstance(node, ast.BinOp)
                    and isinstance(child, ast.BinOp)
                    and child is node.left
                    and _FAMILY.get(type(node.op), "") == _FAMILY.get(type(child.op), "-")
                )
                nested = hasattr(child, "lineno") and not same_run
                stack.append((child, depth + 1 if nested else depth))

    def allowed(self) -> str:
        """The closing clause of most error messages."""
        return (
            f"only numbers, {self.variables_text()}, the operators + - * / ** and the "
            f"functions {', '.join(FUNCTIONS)} are allowed"
        )

    def functions_text(self) -> str:
        """'functions: abs, cos, ...'."""
        return f"functions: {', '.join(FUNCTIONS)}"

    def variables_text(self) -> str:
        """'the variables a, y' or 'no variables'."""
        names = ", ".join(sorted(self.variables))
        return f"the variables {names}" if names else "no variables"

    def convert(self, node: ast.expr) -> Any:
        """The SymPy value of a whitelisted node; anything else is an ExprError."""
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self.apply(lambda a: -a, [self.convert(node.operand)], self.start(node))
            if isinstance(node.op, ast.UAdd):
                return self.convert(node.operand)
            message, _ = _OPERATOR_ERRORS[type(node.op)]
            raise self.error(message, self.start(node), self.allowed())
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Attribute | ast.Subscript):
            column = self.after(node.value)
        elif isinstance(node, ast.Compare | ast.IfExp):
            column = self.after(node.left if isinstance(node, ast.Compare) else node.body)
        elif isinstance(node, ast.BoolOp):
            column = self.after(node.values[0])
        else:
            column = self.start(node)
        description = _NODE_ERRORS.get(type(node), "this kind of expression is not allowed")
        if isinstance(node, ast.Attribute):
            description = f"attribute access ('.{node.attr}') is not allowed"
        raise self.error(description, column, self.allowed())

    def number(self, node: ast.Constant) -> Any:
        """An int or float literal as an exact SymPy number."""
        value, column = node.value, self.start(node)
        if isinstance(value, bool) or value is None or value is Ellipsis:
            shown = "'...'" if value is Ellipsis else repr(value)
            raise self.error(f"{shown} is not allowed", column, self.allowed())
        if isinstance(value, complex):
            raise self.error("complex numbers (like 1j) are not allowed", column, self.allowed())
        if isinstance(value, str | bytes):
            raise self.error("strings are not allowed", column, self.allowed())
        if isinstance(value, int):
            if abs(value) >= 10**MAX_INT_DIGITS:
                raise self.error(f"number too large (limit {MAX_INT_DIGITS} digits)", column)
            return sympy.Integer(value)
        if not isinstance(value, float):
            raise self.error("this constant is not allowed", column, self.allowed())
        if not math.isfinite(value):
            raise self.error(f"number too large (limit 1e{MAX_DIGITS})", column)
        source = ast.get_source_segment(self.text[self.shift :], node)
        literal = source if source and _FLOAT_LITERAL.fullmatch(source) else repr(value)
        try:
            exact = Decimal(literal.replace("_", ""))
        except InvalidOperation:
            raise self.error("number out of range", column) from None
        if exact.is_zero():
            return sympy.Integer(0)
        if exact.adjusted() > MAX_DIGITS:
            raise self.error(f"number too large (limit 1e{MAX_DIGITS})", column)
        if exact.adjusted() < -MAX_DIGITS:
            raise self.error(f"number too small (limit 1e-{MAX_DIGITS})", column)
        return self.checked_value(sympy.Rational(*exact.as_integer_ratio()), column)

    def name(self, node: ast.Name) -> Any:
        """A variable; function names and unknown names are errors."""
        if node.id in self.variables:
            return self.variables[node.id]
        column = self.start(node)
        if node.id in FUNCTIONS:
            raise self.error(f"'{node.id}' is a function", column, f"call it as {node.id}(...)")
        names = ", ".join(sorted(self.variables)) or "none"
        hint = _suggest(node.id, [*self.variables, *FUNCTIONS])
        detail = f"allowed variables: {names}; {self.functions_text()}{hint}"
        raise self.error(f"unknown name '{node.id}'", column, detail)

    def binary(self, node: ast.BinOp) -> Any:
        """+ - * / (a run of one family converted without recursion) and guarded **."""
        op_type = type(node.op)
        if op_type is ast.Pow:
            base, exponent = self.convert(node.left), self.convert(node.right)
            column = self.after(node.left)
            self.check_power(base, exponent, column)
            return self.apply(lambda a, b: a**b, [base, exponent], column)
        if op_type not in _ARITHMETIC:
            message, detail = _OPERATOR_ERRORS[op_type]
            raise self.error(message, self.after(node.left), detail or self.allowed())
        run: list[ast.BinOp] = []
        left: ast.expr = node
        while isinstance(left, ast.BinOp) and _FAMILY.get(type(left.op)) == _FAMILY[op_type]:
            run.append(left)
            left = left.left
        result = self.convert(left)
        for step in reversed(run):
            right = self.convert(step.right)
            result = self.apply(_ARITHMETIC[type(step.op)], [result, right], self.after(step.left))
        return result

    def call(self, node: ast.Call) -> Any:
        """A whitelisted function applied to the right number of positional arguments."""
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                return self.convert(func)
            raise self.error(
                "only functions can be called", self.after(func), self.functions_text()
            )
        name, column = func.id, self.start(func)
        if name not in FUNCTIONS:
            if name in self.variables:
                raise self.error(
                    f"'{name}' is a variable, not a function", column, self.functions_text()
                )
            hint = _suggest(name, list(FUNCTIONS))
            raise self.error(f"unknown function '{name}'", column, self.functions_text() + hint)
        if node.keywords:
            keyword = node.keywords[0]
            what = "'**' unpacking is" if keyword.arg is None else "keyword arguments are"
            raise self.error(f"{what} not allowed in {name}(...)", self.start(keyword))
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(f"'*' unpacking is not allowed in {name}(...)", self.start(arg))
        count = len(node.args)
        if name in _VARIADIC:
            if count < 2:
                raise self.error(f"{name} takes at least 2 arguments (got {count})", column)
        elif count != 1:
            where = self.start(node.args[1]) if count > 1 else column
            raise self.error(f"{name} takes exactly 1 argument (got {count})", where)
        args = [self.convert(arg) for arg in node.args]
        return self.apply(FUNCTIONS[name], args, column)

    def check_power(self, base: Any, exponent: Any, column: int | None) -> None:
        """Refuse a power before SymPy computes it when the result could be huge."""
        if not exponent.is_number:
            if base.is_number:
                content, primitive = exponent.as_content_primitive()
                for constant in (exponent.as_coeff_Add()[0], content * primitive.as_coeff_Add()[0]):
                    self.check_power(base, constant, column)
            return
        if isinstance(exponent, sympy.Rational):
            size = abs(int(exponent.p)) / int(exponent.q)
        else:
            exponent_log = _log10_abs(exponent)
            if math.isnan(exponent_log):
                return
            size = math.inf if exponent_log > MAX_DIGITS else 10.0**exponent_log
        limit = MAX_NUMERIC_EXPONENT if base.is_number else MAX_SYMBOLIC_EXPONENT
        if size > limit:
            raise self.error(f"exponent too large (limit {limit})", column)
        scale = 0.0
        if isinstance(base, sympy.Rational):
            scale = _digits(base)
        elif base.is_number:
            base_log = _log10_abs(base)
            scale = abs(base_log) if math.isfinite(base_log) else 0.0
        if size * scale > MAX_DIGITS or _exact_work(exponent) * _digits(base) > _MAX_EXACT_DIGITS:
            raise self.error(f"number too large (limit 1e{MAX_DIGITS})", column)

    def apply(self, build: Callable[..., Any], args: list[Any], column: int | None) -> Any:
        """Call SymPy, turning its errors into ExprError, then check the result's constants."""
        try:
            result = build(*args)
        except (ArithmeticError, TypeError, ValueError, RecursionError, MemoryError) as exc:
            detail = " ".join(str(exc).split())
            raise self.error(f"cannot evaluate this ({detail})", column) from None
        return self.checked_value(result, column)

    def checked_value(self, value: Any, column: int | None) -> Any:
        """`value` once every new node in it is a finite, bounded constant or not a constant."""
        stack: list[tuple[Any, bool]] = [(value, False)]
        while stack:
            node, ready = stack.pop()
            if node in self.checked:
                continue
            if ready:
                self.check_node(node, column)
                self.checked.add(node)
            else:
                stack.append((node, True))
                stack.extend((arg, False) for arg in node.args)
        return value

    def check_node(self, node: Any, column: int | None) -> None:
        """One node: finite, real, within 1e300, and no c*log(k) that exp would make k**c."""
        if any(node is bad for bad in _UNDEFINED):
            raise self.error(
                "the value is undefined or infinite (for example a division by zero)", column
            )
        if isinstance(node, sympy.Rational):
            if int(node.q) > _LIMIT:
                raise self.error(f"number too small (limit 1e-{MAX_DIGITS})", column)
            if abs(int(node.p)) > _LIMIT * int(node.q):
                raise self.error(f"number too large (limit 1e{MAX_DIGITS})", column)
            return
        if isinstance(node, sympy.Mul):
            coeff, rest = node.as_coeff_Mul()
            for factor in _log_factors(rest):
                if factor.args[0].is_number and (
                    abs(int(coeff.p)) > MAX_NUMERIC_EXPONENT * int(coeff.q)
                    or _exact_work(coeff) * _digits(factor.args[0]) > _MAX_EXACT_DIGITS
                ):
                    raise self.error("number too large (a large multiple of a log)", column)
        if isinstance(node, sympy.Pow) and not node.base.is_number:
            exponent = node.exp
            if exponent.is_number and abs(exponent) > MAX_SYMBOLIC_EXPONENT:
                # SymPy merges (x**a)**b into x**(a*b): bound what it built, not each literal.
                raise self.error(
                    f"exponent too large (the powers multiply to {_shorten_number(exponent)};"
                    f" limit {MAX_SYMBOLIC_EXPONENT})",
                    column,
                )
        if node is sympy.I:
            raise self.error(_NOT_REAL, column, _NOT_REAL_HINT)
        if not node.is_Atom and node.is_number:
            real_log, imag_log = _log10_parts(node)
            if real_log > MAX_DIGITS or imag_log > MAX_DIGITS:
                raise self.error(f"number too large (limit 1e{MAX_DIGITS})", column)
            if imag_log > -math.inf:
                raise self.error(_NOT_REAL, column, _NOT_REAL_HINT)
            if -math.inf < real_log < -MAX_DIGITS:
                raise self.error(f"number too small (limit 1e-{MAX_DIGITS})", column)


def _shorten_number(value: Any) -> str:
    """A number as a person reads it: at most 12 characters."""
    text = str(value)
    return text if len(text) <= 12 else f"{float(value):.3g}"


def _log_factors(product: Any) -> Iterator[Any]:
    """The log(...) factors of a product, which exp would turn into powers."""
    return (f for f in sympy.Mul.make_args(product) if isinstance(f, sympy.log))


def _suggest(name: str, candidates: list[str]) -> str:
    """'; did you mean 'x'?' for a close match, else ''."""
    match = difflib.get_close_matches(name, candidates, n=1)
    return f"; did you mean '{match[0]}'?" if match else ""
