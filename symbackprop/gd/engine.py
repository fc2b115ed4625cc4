"""The `gd` command: gradient descent on a typed expression, as in the lecture's worked example.

SymPy differentiates the expression once; the float64 iterations w <- w - lr * df/dw are printed
as a table, as the slides' worked LaTeX, or drawn on the loss landscape.
"""

from __future__ import annotations

import argparse
import ast
import io
import math
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import sympy
from sympy import Dummy, Expr, Symbol

from .arguments import number_arg, paragraph, whole_number_arg
from .errors import SymbackpropError
from .expr import FUNCTIONS, MAX_LENGTH, ExprError, parse_expression
from .files import display_path, write_atomic
from .printing.common import factored, lecture_factors
from .printing.latex import LectureLatexPrinter
from .printing.text import text
from .render import environment

#: The most iterations one run may ask for.
MAX_STEPS = 10**7
#: |w| beyond this many times max(1, |start|) counts as diverging.
DIVERGENCE_LIMIT = 1e12
#: Significant digits of every printed number (the slides' 2.68, 2.3728, -4.993682).
DIGITS = 7
#: How many first iterations --latex works out (the last one is always added).
WORKED_FIRST = 3
PLOT_INCHES = (8.0, 6.0)
PLOT_DPI = 100
#: Up to this many steps a plot gets every iterate; beyond, the rows --every keeps.
PLOT_ALL_STEPS = 100_000
PLOT_HINT = "--plot needs matplotlib, which is not installed: pip install 'symbackprop[plot]'"

StopReason = Literal["steps exhausted", "tolerance reached", "diverging"]
EXIT_OK, EXIT_DIVERGED, EXIT_BAD_INPUT = 0, 1, 2

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_EVALUATION_ERRORS = (ArithmeticError, ValueError, TypeError)


class ExpressionError(SymbackpropError):
    """EXPR rejected by the parser: a one-line message, plus the text with a caret under it."""

    def __init__(self, message: str, caret: str = "") -> None:
        super().__init__(message)
        self.caret = caret


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
    start: float | Mapping[str, float],
    lr: float,
    steps: int,
    tol: float = 0.0,
    var: str | None = None,
    *,
    keep_every: int = 1,
) -> GDResult:
    """Run `steps` steps of gradient descent on EXPR from `start` (a number, or name -> number).

    Stops early when |grad| < tol or when diverging. `keep_every` K > 1 keeps only iterations
    0-3, every K-th and the last two, so long runs stay small; raises SymbackpropError on bad input.
    """
    _check_settings(lr, steps, tol, keep_every)
    expression, names, values = _problem(expr_text, start, var)
    symbols = tuple(Symbol(name, real=True) for name in names)
    gradient = tuple(expression.diff(symbol) for symbol in symbols)
    evaluate = _numeric([expression, *gradient], symbols)
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
                return GDResult(expression, names, gradient, lr, tol, tuple(rows), stop, detail)
        if k <= WORKED_FIRST or k % keep_every == 0:
            rows.append(GDRow(k, w, numbers[0], gradient_values))
        previous = (w, numbers)
        # w stays finite: it was within the limit and the gradient finite (overflow gives inf).
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
        size = _number(abs(row.values[largest]))
        return "diverging", f"diverging (|{names[largest]}| = {size} > {_number(limit)})"
    norm = row.gradient_norm
    if norm < tol:
        return "tolerance reached", f"tolerance reached (|grad| = {_number(norm)} < {tol:g})"
    if row.iteration >= steps:
        return "steps exhausted", "steps exhausted"
    return None, ""


def _check_settings(lr: float, steps: int, tol: float, keep_every: int) -> None:
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
    (never evaluated), leaving out called names and whitelisted function names."""
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
            err = ExprError(
                f"'{node.id}' cannot be a variable at column {column + 1}; variable names are "
                "ASCII letters, digits and _, starting with a letter",
                expr_text,
                column if node.lineno == 1 else None,
            )
            raise ExpressionError(f"EXPR: {err}", err.caret())
    return tuple(dict.fromkeys(node.id for node in found))


def parse_start(text: str) -> float | dict[str, float]:
    """--start as a number (one variable) or NAME=NUMBER,NAME=NUMBER (each variable)."""
    if "=" not in text:
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


def _problem(
    expr_text: str, start: float | Mapping[str, float], var: str | None
) -> tuple[Expr, tuple[str, ...], tuple[float, ...]]:
    """EXPR parsed over its variables, the variables in descent order, and their start values."""
    names = find_variables(expr_text)
    symbols = {name: Symbol(name, real=True) for name in names}
    try:
        expression = parse_expression(expr_text, symbols)
    except ExprError as err:
        raise ExpressionError(f"EXPR: {err}", err.caret()) from None
    listed = ", ".join(names)
    if var is not None and var not in names:
        have = f"its variables are {listed}" if names else "it has no variables"
        raise SymbackpropError(f"--var {var}: EXPR has no variable {var!r} ({have})")
    if not names:
        raise SymbackpropError("EXPR has no variables, so there is nothing to descend on")
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


def _numeric(
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


def _number(x: float) -> str:
    """A float with DIGITS significant digits, trailing zeros dropped: 2.68, -4.993682."""
    return format(x, f".{DIGITS}g")


# -- the table ------------------------------------------------------------------------------


def table(result: GDResult, every: int = 1) -> str:
    """The iteration table: iteration 0 (the start), every `every`-th and the last row."""
    names = result.variables
    single = len(names) == 1
    point = ", ".join(names)
    headers = ["iteration", *names, f"f({point})", *(f"df/d{name}" for name in names)]
    widths = [max(len(h), 9 if i == 0 else DIGITS + 8) for i, h in enumerate(headers)]
    last = result.last.iteration
    lines = [f"f({point}) = {text(result.expression)}"]
    lines += [f"df/d{n} = {text(g)}" for n, g in zip(names, result.gradient, strict=True)]
    start = ", ".join(
        f"{n} = {_number(v)}" for n, v in zip(names, result.rows[0].values, strict=True)
    )
    rule = f"{names[0]} <- {names[0]} - {result.lr:g} * df/d{names[0]}"
    if not single:
        rule = f"w <- w - {result.lr:g} * grad f, for w = ({point})"
    lines += [f"gradient descent: {rule}; start {start}", ""]
    lines.append("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    for row in result.rows:
        if row.iteration % every == 0 or row.iteration == last:
            cells = [str(row.iteration), *map(_number, (*row.values, row.f, *row.gradient))]
            lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines) + "\n"


# -- the worked LaTeX -----------------------------------------------------------------------


def number_latex(x: float) -> str:
    """A float as LaTeX with DIGITS significant digits: 2.68, -4.993682, 1.5 \\cdot 10^{-8}."""
    if math.isnan(x):
        return r"\mathrm{NaN}"
    if math.isinf(x):
        return r"\infty" if x > 0 else r"-\infty"
    mantissa, _, exponent = _number(x).partition("e")
    return rf"{mantissa} \cdot 10^{{{int(exponent)}}}" if exponent else mantissa


class WorkedLatexPrinter(LectureLatexPrinter):
    """The lecture's LaTeX with numbers in place of variables, written as the slides do: the
    derivative 2(w + 5) at w = 3 prints 2 \\left(3 + 5\\right), never evaluated."""

    def __init__(self, values: Mapping[Dummy, float]) -> None:
        super().__init__()
        self._values = dict(values)

    def _value(self, expr: Expr) -> float | None:
        return self._values.get(expr) if isinstance(expr, Dummy) else None

    def _print_Dummy(self, expr: Dummy) -> str:
        value = self._value(expr)
        return number_latex(value) if value is not None else str(super()._print_Dummy(expr))

    def _print_Pi(self, expr: Expr) -> str:
        return r"\pi"

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        split = factored(expr)
        if split is not None:
            coeff, rest = split
            return rf"{self._print(coeff)} \left({self._print(rest)}\right)"
        terms = self._as_ordered_terms(expr, order=order)
        tex = str(self._print(terms[0]))
        for term in terms[1:]:
            value = self._value(term)
            if value is not None and value < 0:
                tex += f" - {number_latex(-value)}"
            elif term.could_extract_minus_sign():
                tex += f" - {self._operand_after_sign(-term)}"
            else:
                tex += f" + {self._operand_after_sign(term)}"
        return tex

    def _operand_after_sign(self, term: Expr) -> str:
        printed = str(self._print(term))
        return rf"\left({printed}\right)" if printed.startswith("-") else printed

    def _print_Mul(self, expr: sympy.Mul) -> str:
        coeff, rest = expr.as_coeff_Mul()
        num, den = sympy.fraction(rest)
        factors = lecture_factors(num)
        if den != 1 and len(factors) == 1:
            body = str(self._print(factors[0]))
        else:
            body = self._juxtapose([self._factor(f) for f in factors])
        if den != 1:
            under = self._juxtapose([self._factor(f) for f in lecture_factors(den)])
            body = rf"\frac{{{body}}}{{{under}}}"
        if coeff == 1:
            return body
        if coeff == -1:
            return f"- {body}"
        return self._juxtapose([str(self._print(coeff)), body])

    @staticmethod
    def _juxtapose(pieces: list[str]) -> str:
        """Factors side by side, with a dot where two numbers would run together (3 \\cdot 2)."""
        tex = pieces[0]
        for piece in pieces[1:]:
            tex += rf" \cdot {piece}" if piece[:1].isdigit() or piece[:1] == "." else f" {piece}"
        return tex

    def _print_Pow(self, expr: sympy.Pow) -> str:
        base, exponent = expr.args
        value = self._value(base)
        root = exponent.is_Rational and exponent.p == 1 and exponent.q > 1
        if value is not None and not root:
            shown = number_latex(value)
            if value < 0 or " " in shown:
                shown = rf"\left({shown}\right)"
            return f"{shown}^{{{self._print(exponent)}}}"
        return str(super()._print_Pow(expr))


def _latex(expr: Expr) -> str:
    """An expression in the lecture's LaTeX, through the worked printer (which also prints pi)."""
    return str(WorkedLatexPrinter({}).doprint(expr))


def worked_latex(result: GDResult) -> str:
    """A standalone LaTeX document working out the first WORKED_FIRST iterations and the last,
    each as the update with the numbers substituted into the derivative."""
    symbols = result.symbols
    dummies = tuple(Dummy(name) for name in result.variables)
    swap = dict(zip(symbols, dummies, strict=True))
    partials = [g.xreplace(swap) for g in result.gradient]
    names = [_latex(s) for s in symbols]
    by_number = {row.iteration: row for row in result.rows}
    last = result.last.iteration
    shown = [*range(1, min(WORKED_FIRST, last) + 1), *([last] if last > WORKED_FIRST else [])]
    lr = number_latex(result.lr)
    iterations = []
    for number in shown:
        before, after = by_number[number - 1], by_number[number]
        printer = WorkedLatexPrinter(dict(zip(dummies, before.values, strict=True)))
        updates = [
            {
                "name": names[i],
                "old": number_latex(before.values[i]),
                "grad": printer.doprint(partials[i]),
                "new": number_latex(after.values[i]),
            }
            for i in range(len(names))
        ]
        iterations.append({"number": number, "updates": updates})
    start = result.rows[0]

    def point(row: GDRow) -> list[dict[str, str]]:
        return [
            {"name": n, "value": number_latex(v)} for n, v in zip(names, row.values, strict=True)
        ]

    context = {
        "variables": names,
        "f": _latex(result.expression),
        "derivatives": [
            {"name": n, "tex": _latex(g)} for n, g in zip(names, result.gradient, strict=True)
        ],
        "lr": lr,
        "start": point(start),
        "start_f": number_latex(start.f),
        "iterations": iterations,
        "gap": last > WORKED_FIRST + 1,
        "final": {
            "number": last,
            "point": point(result.last),
            "f": number_latex(result.last.f),
        },
        "stop": result.detail,
    }
    return environment("document").get_template("gd/worked.tex.jinja").render(**context)


# -- the plot -------------------------------------------------------------------------------


def _matplotlib() -> tuple[Any, Any]:
    """matplotlib's Figure and Agg canvas, imported only when a plot is asked for."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SymbackpropError(PLOT_HINT) from None
    return Figure, FigureCanvasAgg


def _check_plot(path: str, variables: int) -> None:
    """Refuse a plot that cannot be drawn or written, before any work is done."""
    shown = display_path(path)
    if variables > 2:
        raise SymbackpropError(
            f"--plot draws one or two variables; EXPR has {variables} (leave out --plot)"
        )
    if not path.lower().endswith(".png"):
        raise SymbackpropError(f"--plot {shown}: the file name must end in .png")
    folder = Path(os.path.realpath(path)).parent
    if not folder.is_dir():
        raise SymbackpropError(f"--plot {shown}: the folder {display_path(folder)} does not exist")
    if Path(path).is_dir():
        raise SymbackpropError(f"--plot {shown}: is a directory, expected a file name")


def plot(result: GDResult, path: str) -> None:
    """Draw the landscape and the path (1-D curve or 2-D contours) to a PNG, written atomically."""
    import numpy as np

    _check_plot(path, len(result.variables))
    figure_class, canvas_class = _matplotlib()
    figure = figure_class(figsize=PLOT_INCHES, dpi=PLOT_DPI)
    canvas_class(figure)
    axes = figure.subplots()
    f = _numeric([result.expression], result.symbols)

    def f_at(*point: float) -> float:
        return f(point)[0][0]

    surface = np.vectorize(f_at, otypes=[float])
    path_rows = [row for row in result.rows if all(math.isfinite(v) for v in row.values)]
    xs = [row.values[0] for row in path_rows]
    names = result.variables
    marker = 3 if len(path_rows) <= 300 else 1
    if len(names) == 1:
        grid = np.linspace(*_span(xs), 400)
        axes.plot(grid, np.ma.masked_invalid(surface(grid)), color="tab:blue", label="f")
        axes.plot(
            xs,
            [row.f for row in path_rows],
            "o",
            color="tab:orange",
            ms=marker,
            alpha=0.7,
            label="iterates",
        )
        axes.set_xlabel(names[0])
        axes.set_ylabel(f"f({names[0]})")
    else:
        ys = [row.values[1] for row in path_rows]
        grid_x, grid_y = np.meshgrid(np.linspace(*_span(xs), 160), np.linspace(*_span(ys), 160))
        heights = np.ma.masked_invalid(surface(grid_x, grid_y))
        contours = axes.contour(grid_x, grid_y, heights, levels=20, cmap="viridis")
        figure.colorbar(contours, ax=axes, label=f"f({names[0]}, {names[1]})")
        axes.plot(xs, ys, "o-", color="tab:orange", ms=marker, lw=0.8, label="path")
        axes.set_xlabel(names[0])
        axes.set_ylabel(names[1])
    first, final = path_rows[0], path_rows[-1]
    axes.plot(*_marker(first, len(names)), "s", color="tab:green", label="start")
    axes.plot(*_marker(final, len(names)), "*", color="tab:red", ms=12, label="last")
    axes.legend()
    formula = text(result.expression)
    if len(formula) > 70:
        formula = formula[:67] + "..."
    axes.set_title(
        f"gradient descent on f = {formula}\n"
        f"learning rate η = {result.lr:g}, {final.iteration} iterations, {result.stop}"
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PLOT_DPI)
    write_atomic(path, buffer.getvalue())


def _marker(row: GDRow, dimensions: int) -> tuple[list[float], list[float]]:
    """Where a row sits on the plot: (w, f) in 1-D, (w1, w2) in 2-D."""
    if dimensions == 1:
        return [row.values[0]], [row.f]
    return [row.values[0]], [row.values[1]]


def _span(values: Sequence[float]) -> tuple[float, float]:
    """An axis range around `values` with a margin, never empty."""
    low, high = min(values), max(values)
    margin = 0.15 * (high - low) if high > low else max(1.0, 0.5 * abs(low))
    return low - margin, high + margin


# -- the command ----------------------------------------------------------------------------


def register(commands: Any) -> None:
    """Add the `gd` subcommand to the CLI's subparsers."""
    parser = commands.add_parser(
        "gd",
        help="run gradient descent on an expression, as in the lecture's worked example",
        description=paragraph(
            "Differentiate EXPR with SymPy and run gradient descent w <- w - lr * df/dw in "
            "float64, printing the iterations. Stops when the steps are used up, when |grad| < "
            "--tol, or when it diverges (exit status 1)."
        ),
        epilog='Examples:\n  symbackprop gd "(w+5)**2" --start 3 --lr 0.02 --steps 175\n'
        '  symbackprop gd "(w1-1)**2 + 3*(w2+2)**2" --start w1=3,w2=-1 --lr 0.1 --steps 500 \\\n'
        "      --tol 1e-8 --every 10\n"
        '  symbackprop gd "(w+5)**2" --start 3 --lr 0.02 --steps 175 --latex > worked.tex\n'
        '  symbackprop gd "(w+5)**2" --start 3 --lr 0.02 --steps 175 --plot descent.png\n'
        "Exit status: 0 done, 1 diverging, 2 bad input.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("expr", metavar="EXPR", help="the function to minimise, e.g. '(w+5)**2'")
    parser.add_argument(
        "--start",
        required=True,
        help="the starting point: a number (one variable) or NAME=NUMBER,... for each variable",
    )
    parser.add_argument("--lr", type=number_arg, required=True, help="the learning rate (eta) > 0")
    parser.add_argument(
        "--steps",
        type=whole_number_arg,
        required=True,
        metavar="N",
        help=f"the most iterations to run (0 to {MAX_STEPS})",
    )
    parser.add_argument("--var", metavar="NAME", help="the variable, when --start is a bare number")
    parser.add_argument(
        "--tol",
        type=number_arg,
        default=0.0,
        metavar="T",
        help="stop once |grad| < T (default 0: never)",
    )
    parser.add_argument(
        "--every",
        type=whole_number_arg,
        default=1,
        metavar="K",
        help="print every K-th row (the first and last always)",
    )
    parser.add_argument(
        "--latex",
        action="store_true",
        help="print the first and last iterations worked out, as a LaTeX document",
    )
    parser.add_argument("--plot", metavar="FILE.png", help="draw the landscape and the path")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """The `gd` command: 0 when done, 1 when diverging, 2 (or SymbackpropError) for bad input."""
    try:
        return _run(args)
    except ExpressionError as err:
        caret = "".join(f"\n  {line}" for line in err.caret.splitlines())
        print(f"symbackprop: error: {err}{caret}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _run(args: argparse.Namespace) -> int:
    start = parse_start(args.start)
    if args.plot is not None:
        _check_settings(args.lr, args.steps, args.tol, args.every)
        _, names, _ = _problem(args.expr, start, args.var)
        _check_plot(args.plot, len(names))
        _matplotlib()
    keep = 1 if args.plot is not None and args.steps <= PLOT_ALL_STEPS else args.every
    result = gradient_descent(
        args.expr, start, args.lr, args.steps, args.tol, args.var, keep_every=keep
    )
    notes: TextIO = sys.stderr if args.latex else sys.stdout
    if args.latex:
        sys.stdout.write(worked_latex(result))
    else:
        sys.stdout.write(table(result, args.every))
    print(f"stopped at iteration {result.last.iteration}: {result.detail}", file=notes)
    if args.plot is not None:
        plot(result, args.plot)
        print(f"wrote {display_path(args.plot)}", file=notes)
    return EXIT_DIVERGED if result.stop == "diverging" else EXIT_OK
