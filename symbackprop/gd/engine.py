"""Gradient descent on a typed expression, the numbers only: the lecture's worked example.

EXPR is parsed by the whitelist parser of symbackprop.expr (never evaluated) and differentiated
once by SymPy; the float64 iterations w <- w - lr * df/dw run until the steps are used up, |grad|
falls below the tolerance, or the descent diverges. Printing the result is report.py's, the
worked LaTeX printing/worked.py's, the picture plot.py's.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import sympy
from sympy import Expr, Symbol

from ..errors import SymbackpropError
from ..expr import FUNCTIONS, MAX_LENGTH, ExprError, parse_expression

#: The most iterations one run may ask for.
MAX_STEPS = 10**7
#: |w| beyond this many times max(1, |start|) counts as diverging.
DIVERGENCE_LIMIT = 1e12
#: Significant digits of every printed number (the slides' 2.68, 2.3728, -4.993682).
DIGITS = 7
#: How many first iterations --latex works out (the last one is always added); the descent
#: keeps these rows whatever `keep_every` says.
WORKED_FIRST = 3

StopReason = Literal["steps exhausted", "tolerance reached", "diverging"]

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_EVALUATION_ERRORS = (ArithmeticError, ValueError, TypeError)


@dataclass(frozen=True, slots=True)
class GDRow:
    """One iterate: its number (0 = start), the parameters, f and the gradient there."""

    iteration: int
    values: tuple[float, ...]
    f: float
    gradient: tuple[float, ...]

    @property
    def gradient_norm(self) -> float:
        """The Euclidean norm of the gradient, which --tol compares."""
        return math.hypot(*self.gradient)


@dataclass(frozen=True)
class GDResult:
    """A finished descent: what was minimised, the kept iterates, and why it stopped."""

    expression: Expr
    variables: tuple[str, ...]
    gradient: tuple[Expr, ...]
    lr: float
    tol: float
    rows: tuple[GDRow, ...]
    stop: StopReason
    detail: str
    #: The optimiser's name and its hyper-parameters, for `gd --method`; "" for plain descent.
    method: str = ""
    options: tuple[tuple[str, float], ...] = ()

    @property
    def symbols(self) -> tuple[Symbol, ...]:
        """The variables as the SymPy symbols the expression uses."""
        return tuple(Symbol(name, real=True) for name in self.variables)

    @property
    def last(self) -> GDRow:
        """The final iterate: where the descent stopped."""
        return self.rows[-1]


def gradient_descent(
    expr_text: str,
    start: float | Mapping[str, float] | tuple[float, ...],
    lr: float,
    steps: int,
    tol: float = 0.0,
    var: str | None = None,
    *,
    keep_every: int = 1,
    method: str | None = None,
    options: Mapping[str, float] | None = None,
) -> GDResult:
    """Run `steps` steps of gradient descent on EXPR from `start` (a number, or name -> number).

    Stops early when |grad| < tol or when diverging. `keep_every` K > 1 keeps only iterations
    0 to WORKED_FIRST, every K-th and the last two, so long runs stay small. Bad input raises
    SymbackpropError: an ExprError (a TextError, which can draw the caret) for EXPR itself.
    `method` names an optimiser of symbackprop.optim (its `options` over the defaults, lr
    being `lr`) to step with instead of w <- w - lr * grad.
    """
    check_settings(lr, steps, tol, keep_every)
    advance = None
    chosen: tuple[tuple[str, float], ...] = ()
    if method is not None:
        from ..optim.numeric import stepper

        advance = stepper(method, {**(options or {}), "lr": lr})
        chosen = tuple(advance.values.items())
    expression, names, values = read_problem(expr_text, start, var)
    symbols = tuple(Symbol(name, real=True) for name in names)
    gradient = tuple(expression.diff(symbol) for symbol in symbols)
    evaluate = numeric([expression, *gradient], symbols)
    limit = DIVERGENCE_LIMIT * max(1.0, *(abs(v) for v in values))
    rows: list[GDRow] = []
    w = values
    previous: tuple[tuple[float, ...], tuple[float, ...]] = (w, ())
    for k in range(steps + 1):
        numbers, problem = evaluate(w)
        gradient_values = numbers[1:]
        norm = math.hypot(*gradient_values)
        # A cheap test first: a row that might stop the descent gets the careful look.
        if (
            problem
            or k >= steps
            or not tol <= norm < math.inf
            or not math.isfinite(numbers[0])
            or not max(map(abs, w)) <= limit
        ):
            row = GDRow(k, w, numbers[0], gradient_values)
            stop, detail = _stopped(row, names, problem, limit, tol, steps)
            if stop is not None:
                if k > 0 and rows[-1].iteration != k - 1:
                    before, numbers_before = previous
                    rows.append(GDRow(k - 1, before, numbers_before[0], numbers_before[1:]))
                rows.append(row)
                return GDResult(
                    expression,
                    names,
                    gradient,
                    lr,
                    tol,
                    tuple(rows),
                    stop,
                    detail,
                    method or "",
                    chosen,
                )
        if k <= WORKED_FIRST or k % keep_every == 0:
            rows.append(GDRow(k, w, numbers[0], gradient_values))
        previous = (w, numbers)
        # w stays finite: it was within the limit and the gradient finite (overflow gives inf).
        if advance is not None:
            w = advance(w, gradient_values)
        else:
            w = tuple([wi - lr * gi for wi, gi in zip(w, gradient_values, strict=True)])
    raise AssertionError("unreachable: the last step always stops")  # pragma: no cover


def _stopped(
    row: GDRow, names: tuple[str, ...], problem: str, limit: float, tol: float, steps: int
) -> tuple[StopReason | None, str]:
    """Why the descent stops at `row`, with the detail to print, or (None, '') to go on."""
    numbers = (*row.values, row.f, *row.gradient)
    if problem:
        return "diverging", f"diverging (cannot evaluate f or its gradient: {problem})"
    if not all(math.isfinite(x) for x in numbers):
        return "diverging", "diverging (f or its gradient is not finite)"
    largest = max(range(len(names)), key=lambda i: abs(row.values[i]))
    if abs(row.values[largest]) > limit:
        size = format_number(abs(row.values[largest]))
        return "diverging", f"diverging (|{names[largest]}| = {size} > {format_number(limit)})"
    norm = row.gradient_norm
    if norm < tol:
        return "tolerance reached", f"tolerance reached (|grad| = {format_number(norm)} < {tol:g})"
    if row.iteration >= steps:
        return "steps exhausted", "steps exhausted"
    return None, ""


def check_settings(lr: float, steps: int, tol: float, keep_every: int) -> None:
    """Refuse learning rates, step counts and tolerances that cannot describe a descent."""
    if not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
        raise SymbackpropError(f"the learning rate --lr must be a positive number, got {lr}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise SymbackpropError(f"--steps must be a whole number from 0 to {MAX_STEPS}, got {steps}")
    if not isinstance(tol, int | float) or not math.isfinite(tol) or tol < 0:
        raise SymbackpropError(f"--tol must be a number >= 0, got {tol}")
    if isinstance(keep_every, bool) or not isinstance(keep_every, int) or keep_every < 1:
        raise SymbackpropError(f"--every must be a whole number >= 1, got {keep_every}")


def find_variables(expr_text: str) -> tuple[str, ...]:
    """The names EXPR uses as variables, in order of appearance: read from its syntax tree
    (never evaluated), leaving out called names and whitelisted function names. A name that
    cannot be a variable (_x, α) raises ExprError; unparseable text gives () for the parser to
    report."""
    body = expr_text.lstrip()
    if len(expr_text) > MAX_LENGTH:
        return ()
    try:
        with warnings.catch_warnings():  # no SyntaxWarning on stderr for "1if x else 2"
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(body, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    found = sorted(
        (
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Name) and id(node) not in called and node.id not in FUNCTIONS
        ),
        key=lambda node: (node.lineno, node.col_offset),
    )
    for node in found:
        if not _IDENTIFIER.fullmatch(node.id):
            shift = len(expr_text) - len(body)
            column = shift + len(body.encode()[: node.col_offset].decode(errors="ignore"))
            raise ExprError(
                f"EXPR: '{node.id}' cannot be a variable at column {column + 1}; variable names "
                "are ASCII letters, digits and _, starting with a letter",
                expr_text,
                column if node.lineno == 1 else None,
            )
    return tuple(dict.fromkeys(node.id for node in found))


def parse_start(text: str) -> float | dict[str, float] | tuple[float, ...]:
    """--start as a number (one variable), NAME=NUMBER,NAME=NUMBER (each variable), or
    NUMBER,NUMBER (the variables in the order EXPR first uses them)."""
    if "=" not in text:
        if "," in text:
            return tuple(_start_number(part, text) for part in text.split(","))
        return _start_number(text, text)
    values: dict[str, float] = {}
    for part in text.split(","):
        name, sep, number = (piece.strip() for piece in part.partition("="))
        if not sep or not _IDENTIFIER.fullmatch(name):
            raise SymbackpropError(
                f"malformed --start {text!r}: expected a number, or NAME=NUMBER,NAME=NUMBER,..."
            )
        if name in values:
            raise SymbackpropError(f"--start gives {name} twice")
        values[name] = _start_number(number, text)
    return values


def _start_number(number: str, whole: str) -> float:
    """One starting value: a finite decimal number."""
    try:
        value = float(number)
    except ValueError:
        raise SymbackpropError(
            f"malformed --start {whole!r}: {number.strip()!r} is not a number "
            "(expected a number, or NAME=NUMBER,NAME=NUMBER,...)"
        ) from None
    if not math.isfinite(value):
        raise SymbackpropError(f"--start values must be finite numbers, got {number.strip()}")
    return value


def read_problem(
    expr_text: str, start: float | Mapping[str, float] | tuple[float, ...], var: str | None
) -> tuple[Expr, tuple[str, ...], tuple[float, ...]]:
    """EXPR parsed over its variables, the variables in descent order, and their start values.

    Shared by the descent and the command, which checks --plot against it before any work.
    """
    names = find_variables(expr_text)
    symbols = {name: Symbol(name, real=True) for name in names}
    try:
        expression = parse_expression(expr_text, symbols)
    except ExprError as err:  # the same error, its message saying which argument it is about
        raise ExprError(f"EXPR: {err.message}", err.text, err.offset) from None
    listed = ", ".join(names)
    if var is not None and var not in names:
        have = f"its variables are {listed}" if names else "it has no variables"
        raise SymbackpropError(f"--var {var}: EXPR has no variable {var!r} ({have})")
    if not names:
        raise SymbackpropError("EXPR has no variables, so there is nothing to descend on")
    if isinstance(start, tuple):
        if var is not None or len(start) != len(names):
            raise SymbackpropError(
                f"--start gives {len(start)} numbers for the {len(names)} variables of EXPR "
                f"({listed}, in that order); or name them: "
                f"--start {','.join(f'{n}=...' for n in names)}"
            )
        start = dict(zip(names, start, strict=True))
    if isinstance(start, Mapping):
        order = tuple(start)
        unknown = [name for name in order if name not in names]
        if unknown:
            raise SymbackpropError(
                f"--start names {', '.join(unknown)}, not a variable of EXPR (its variables: "
                f"{listed})"
            )
        if var is not None and order != (var,):
            raise SymbackpropError(f"--var {var} goes with a bare number: --start 3 --var {var}")
        missing = [name for name in names if name not in start]
        if missing:
            raise SymbackpropError(
                f"--start gives no value for {', '.join(missing)}; every variable of EXPR needs "
                f"one: --start {','.join(f'{n}=...' for n in names)}"
            )
        values = tuple(float(start[name]) for name in order)
    else:
        chosen = var if var is not None else names[0]
        others = [name for name in names if name != chosen]
        if others:
            raise SymbackpropError(
                f"EXPR has {len(names)} variables ({listed}); give each a start: "
                f"--start {','.join(f'{n}=...' for n in names)}"
            )
        order, values = (chosen,), (float(start),)
    if not all(math.isfinite(v) for v in values):
        raise SymbackpropError("--start values must be finite numbers")
    return expression, order, values


def numeric(
    exprs: Sequence[Expr], symbols: Sequence[Symbol]
) -> Callable[[Sequence[float]], tuple[tuple[float, ...], str]]:
    """float64 values of already-parsed expressions at a point, with the reason when undefined.

    lambdify prints the SymPy expressions (not user text) as math-module Python code.
    """
    try:
        compiled = sympy.lambdify(list(symbols), list(exprs), modules="math", dummify=True)
    except (TypeError, ValueError, NotImplementedError) as err:
        raise SymbackpropError(f"cannot compute EXPR numerically ({err})") from None
    undefined = (math.nan,) * len(exprs)

    def evaluate(point: Sequence[float]) -> tuple[tuple[float, ...], str]:
        try:
            return tuple(map(float, compiled(*point))), ""
        except _EVALUATION_ERRORS as err:
            return undefined, _undefined_because(err)

    return evaluate


def _undefined_because(err: Exception) -> str:
    """Why a value could not be computed, in words rather than Python's exception text."""
    if isinstance(err, ZeroDivisionError):
        return "a division by zero"
    if isinstance(err, OverflowError):
        return "a number too large for float64"
    if isinstance(err, TypeError):
        return "a complex number, such as a fractional power of a negative number"
    return "a value outside the domain of a function such as log or sqrt"


def format_number(x: float) -> str:
    """A float with DIGITS significant digits, trailing zeros dropped: 2.68, -4.993682."""
    return format(x, f".{DIGITS}g")
