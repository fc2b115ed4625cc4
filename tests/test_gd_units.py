"""The pieces of `symbackprop.gd` on their own: the engine against the lecture's published
iterates, the report's table and stop line, the EXPR errors as TextErrors, the worked printer
in printing/, and the import order between the two packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop.errors import TextError
from symbackprop.gd import engine, report
from symbackprop.printing import worked

ROOT = Path(__file__).resolve().parent.parent


def test_engine_reproduces_the_lecture_iterates() -> None:
    """The slides: (w+5)^2 from w = 3 with eta = 0.02 goes 3 -> 2.68 -> 2.3728 -> 2.077888 ...
    and reaches -4.993682 at iteration 175."""
    result = engine.gradient_descent("(w+5)**2", 3, 0.02, 175)
    shown = [engine.format_number(row.values[0]) for row in result.rows]
    assert shown[:4] == ["3", "2.68", "2.3728", "2.077888"]
    assert shown[175] == "-4.993682"
    first = result.rows[0]
    assert (first.f, first.gradient) == (64.0, (16.0,))
    assert result.stop == "steps exhausted" and result.detail == "steps exhausted"
    assert [str(g) for g in result.gradient] == ["2*w + 10"]


def test_engine_keeps_the_worked_rows_when_thinning() -> None:
    result = engine.gradient_descent("(w+5)**2", 3, 0.02, 1000, keep_every=400)
    kept = [row.iteration for row in result.rows]
    assert kept == [*range(engine.WORKED_FIRST + 1), 400, 800, 999, 1000]


def test_report_table_and_summary() -> None:
    result = engine.gradient_descent("(w+5)**2", 3, 0.02, 2)
    lines = report.table(result).splitlines()
    assert lines[:3] == [
        "f(w) = (w + 5)^2",
        "df/dw = 2(w + 5)",
        "gradient descent: w <- w - 0.02 * df/dw; start w = 3",
    ]
    assert lines[4].split() == ["iteration", "w", "f(w)", "df/dw"]
    assert [line.split()[:2] for line in lines[5:]] == [["0", "3"], ["1", "2.68"], ["2", "2.3728"]]
    assert report.summary(result) == "stopped at iteration 2: steps exhausted"


@pytest.mark.parametrize(
    ("expr", "message", "caret"),
    [
        ("(w+5)^2", "EXPR: '^' is not allowed at column 6", "(w+5)^2\n     ^"),
        ("w + _x", "EXPR: '_x' cannot be a variable at column 5", "w + _x\n    ^"),
    ],
)
def test_expr_errors_are_text_errors(expr: str, message: str, caret: str) -> None:
    with pytest.raises(TextError) as raised:
        engine.gradient_descent(expr, 1, 0.1, 1)
    err = raised.value
    assert str(err).startswith(message) and err.text == expr
    assert err.caret() == caret
    assert err.caret_lines() == "".join(f"\n  {line}" for line in caret.splitlines())


def test_worked_latex_lays_out_the_slides() -> None:
    doc = worked.worked_latex(engine.gradient_descent("(w+5)**2", 3, 0.02, 175))
    assert r"w &= 3 - (0.02) \cdot (2 \left(3 + 5\right)) = 2.68" in doc
    assert worked.number_latex(1.5e-9) == r"1.5 \cdot 10^{-9}"
    assert worked.number_latex(float("-inf")) == r"-\infty"


@pytest.mark.parametrize(
    "first", ["symbackprop.printing.worked", "symbackprop.gd.engine", "symbackprop.gd.command"]
)
def test_either_package_can_be_imported_first(first: str) -> None:
    """printing/worked.py imports gd.engine, and gd's command imports printing.worked: each
    must load whichever a program imports first."""
    code = f"import {first}; from symbackprop import gd; gd.run; gd.gradient_descent"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
