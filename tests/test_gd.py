"""The `gd` command and `symbackprop.gd`: the lecture's worked example, convergence, divergence,
tables, LaTeX that compiles, plots, and bad input (exit 2, nothing run).

Numbers are checked against closed forms of gradient descent on quadratics, computed here
independently: on (w+5)^2 with rate 0.02, w_k = -5 + 8 * 0.96^k.
"""

from __future__ import annotations

import builtins
import math
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sympy import Dummy

from symbackprop import cli, gd
from symbackprop.errors import SymbackpropError
from symbackprop.gd import GDResult, gradient_descent
from symbackprop.printing.worked import WorkedLatexPrinter
from tests.test_latex import compile_tex, needs_pdflatex

ROOT = Path(__file__).resolve().parent.parent
WORKED = ["gd", "(w+5)**2", "--start", "3", "--lr", "0.02", "--steps", "175"]
BOWL = "(w1-1)**2 + 3*(w2+2)**2"
ERROR_PREFIX = "symbackprop: error: "


def closed_form(k: int) -> float:
    """The lecture's example in closed form: w_k + 5 = (1 - 2 * 0.02)^k (3 + 5)."""
    return -5 + 8 * 0.96**k


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def table_rows(out: str) -> dict[int, list[str]]:
    """The printed table as {iteration: [cells after the iteration number]}."""
    rows: dict[int, list[str]] = {}
    for line in out.splitlines():
        cells = line.split()
        if cells and cells[0].isdigit() and len(cells) > 1:
            rows[int(cells[0])] = cells[1:]
    return rows


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# -- the lecture's worked example ----------------------------------------------------------


def test_worked_example_prints_the_slides_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, *WORKED)
    assert status == 0 and err == ""
    rows = table_rows(out)
    assert sorted(rows) == list(range(176))
    assert rows[0][0] == "3"
    assert rows[1][0] == "2.68"
    assert rows[2][0] == "2.3728"
    assert rows[175][0] == "-4.993682"
    assert out.rstrip().endswith("stopped at iteration 175: steps exhausted")


def test_worked_example_matches_the_closed_form(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, *WORKED)
    for k, (w, f, grad) in table_rows(out).items():
        exact = closed_form(k)
        assert w == f"{exact:.7g}"
        assert float(f) == pytest.approx((exact + 5) ** 2, rel=1e-6)
        assert float(grad) == pytest.approx(2 * (exact + 5), rel=1e-6)
    result = gradient_descent("(w+5)**2", 3, 0.02, 175)
    assert [row.iteration for row in result.rows] == list(range(176))
    for row in result.rows:
        assert row.values[0] == pytest.approx(closed_form(row.iteration), abs=1e-12)
    assert result.stop == "steps exhausted" and result.variables == ("w",)


def test_table_has_seven_significant_digits(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(
        capsys, "gd", "w**2/2", "--start", "0.3333333333", "--lr", "0.5", "--steps", "1"
    )
    assert status == 0
    rows = table_rows(out)
    assert rows[0] == ["0.3333333", "0.05555556", "0.3333333"]
    assert rows[1] == ["0.1666667", "0.01388889", "0.1666667"]


# -- several variables, convergence and divergence -----------------------------------------


def test_bowl_converges_to_its_minimum_and_stops_on_tolerance() -> None:
    result = gradient_descent(BOWL, {"w1": 3, "w2": -1}, 0.1, 10_000, tol=1e-8)
    assert result.stop == "tolerance reached"
    assert result.detail.startswith("tolerance reached (|grad| = ")
    w1, w2 = result.last.values
    assert w1 == pytest.approx(1, abs=1e-8) and w2 == pytest.approx(-2, abs=1e-8)
    # Independent closed form: w1_k = 1 + 2 * 0.8^k, w2_k = -2 + 0.4^k.
    for row in result.rows:
        k = row.iteration
        assert row.values[0] == pytest.approx(1 + 2 * 0.8**k, abs=1e-12)
        assert row.values[1] == pytest.approx(-2 + 0.4**k, abs=1e-12)
    norms = [math.hypot(4 * 0.8**k, 6 * 0.4**k) for k in range(200)]
    first_below = next(k for k, norm in enumerate(norms) if norm < 1e-8)
    assert result.last.iteration == first_below
    assert result.last.gradient_norm < 1e-8 <= result.rows[-2].gradient_norm


def test_bowl_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(
        capsys, "gd", BOWL, "--start", "w1=3,w2=-1", "--lr", "0.1", "--steps", "500", "--tol",
        "1e-8", "--every", "50",
    )  # fmt: skip
    assert status == 0
    rows = table_rows(out)
    last = max(rows)
    assert rows[last][:2] == ["1", "-2"]
    assert "tolerance reached (|grad| = " in out and "< 1e-08)" in out


def test_start_order_sets_the_column_order() -> None:
    result = gradient_descent(BOWL, {"w2": -1, "w1": 3}, 0.1, 1)
    assert result.variables == ("w2", "w1")
    assert result.rows[1].values == pytest.approx((-1 - 0.1 * 6, 3 - 0.1 * 4))


def test_divergence_is_reported_with_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(
        capsys, "gd", "(w+5)**2", "--start", "3", "--lr", "1.5", "--steps", "100"
    )
    assert status == 1
    assert "diverging" in out.splitlines()[-1]
    rows = table_rows(out)
    last = max(rows)
    assert last < 100
    # w_k + 5 = (1 - 2 * 1.5)^k * 8 = 8 * (-2)^k
    for k, cells in rows.items():
        assert float(cells[0]) == pytest.approx(-5 + 8 * (-2) ** k, rel=1e-6)
    limit = gd.DIVERGENCE_LIMIT * 3  # relative to the start, w = 3
    assert abs(float(rows[last][0])) > limit > abs(float(rows[last - 1][0]))


def test_leaving_the_domain_counts_as_diverging() -> None:
    result = gradient_descent("log(w)", 1, 2, 10)
    assert result.stop == "diverging" and "cannot evaluate" in result.detail
    assert result.last.iteration == 1 and math.isnan(result.last.f)


def test_steps_zero_and_start_at_the_minimum() -> None:
    assert gradient_descent("(w+5)**2", 3, 0.1, 0).rows[-1].iteration == 0
    at_minimum = gradient_descent("(w+5)**2", -5, 0.1, 100, tol=1e-12)
    assert at_minimum.stop == "tolerance reached" and at_minimum.last.iteration == 0


def test_var_names_the_variable(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run_cli(
        capsys, "gd", "(v-1)**2", "--start", "0", "--var", "v", "--lr", "0.25", "--steps", "2"
    )
    assert status == 0
    assert table_rows(out)[2][0] == "0.75"  # v_k = 1 - 0.5^k


# -- --every --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "steps", "printed"),
    [(7, 30, [0, 7, 14, 21, 28, 30]), (10, 30, [0, 10, 20, 30]), (1, 3, [0, 1, 2, 3])],
)
def test_every_prints_first_every_kth_and_last(
    capsys: pytest.CaptureFixture[str], every: int, steps: int, printed: list[int]
) -> None:
    status, out, _ = run_cli(
        capsys, "gd", "(w+5)**2", "--start", "3", "--lr", "0.02", "--steps", str(steps),
        "--every", str(every),
    )  # fmt: skip
    assert status == 0
    rows = table_rows(out)
    assert sorted(rows) == printed
    for k, cells in rows.items():
        assert cells[0] == f"{closed_form(k):.7g}"


def test_every_keeps_the_last_row_when_stopping_early(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(
        capsys, "gd", BOWL, "--start", "w1=3,w2=-1", "--lr", "0.1", "--steps", "500",
        "--tol", "1e-8", "--every", "25",
    )  # fmt: skip
    assert sorted(table_rows(out)) == [0, 25, 50, 75, 89]


def test_keep_every_thins_the_stored_rows() -> None:
    result = gradient_descent("(w+5)**2", 3, 0.02, 35, keep_every=10)
    assert [row.iteration for row in result.rows] == [0, 1, 2, 3, 10, 20, 30, 34, 35]
    assert result.last.values[0] == pytest.approx(closed_form(35), abs=1e-12)


# -- LaTeX ----------------------------------------------------------------------------------


def worked_document(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status, out, err = run_cli(capsys, *argv, "--latex")
    assert status in (0, 1)
    assert "stopped at iteration" in err  # notes go to stderr; stdout is only the document
    assert out.startswith("%") and out.rstrip().endswith(r"\end{document}")
    return out


def test_latex_works_the_iterations_as_the_slides(capsys: pytest.CaptureFixture[str]) -> None:
    doc = worked_document(capsys, *WORKED)
    assert r"w &= 3 - (0.02) \cdot (2 \left(3 + 5\right)) = 2.68" in doc
    assert r"w &= 2.68 - (0.02) \cdot (2 \left(2.68 + 5\right)) = 2.3728" in doc
    before = f"{closed_form(174):.7g}"
    assert before == "-4.993419"
    assert rf"w &= {before} - (0.02) \cdot (2 \left({before} + 5\right)) = -4.993682" in doc
    shown = [int(k) for k in re.findall(r"\\paragraph\{Iteration (\d+):\}", doc)]
    assert shown == [1, 2, 3, 175]
    assert r"\frac{df}{d w} = 2 \left(w + 5\right)" in doc


@needs_pdflatex
@pytest.mark.parametrize(
    "argv",
    [
        WORKED,
        ["gd", BOWL, "--start", "w1=3,w2=-1", "--lr", "0.1", "--steps", "500", "--tol", "1e-8"],
        ["gd", "(w+5)**2", "--start", "3", "--lr", "1.5", "--steps", "100"],
        ["gd", "log(w)", "--start", "1", "--lr", "2", "--steps", "10"],
        ["gd", "w**3/3 - exp(-w**2) + erf(w) + abs(w) + max(w, 1) + 1/w", "--start", "-1",
         "--lr", "0.01", "--steps", "6"],
        ["gd", "x*y + x**2*y**2 + sqrt(x**2 + 1)", "--start", "x=1e-9,y=-3", "--lr", "0.01",
         "--steps", "2"],
        ["gd", "(w+5)**2", "--start", "3", "--lr", "0.02", "--steps", "0"],
    ],
)  # fmt: skip
def test_latex_compiles(
    capsys: pytest.CaptureFixture[str], argv: list[str], tmp_path: Path
) -> None:
    compile_tex(worked_document(capsys, *argv), tmp_path)


def test_worked_printer_keeps_numbers_apart() -> None:
    w, v = Dummy("w"), Dummy("v")
    printer = WorkedLatexPrinter({w: -2.0, v: 3.0})
    assert printer.doprint(3 * w**2) == r"3 \left(-2\right)^{2}"
    assert printer.doprint(3 * v**2) == r"3 \cdot 3^{2}"
    assert printer.doprint(v * w) == r"3 \left(-2\right)"
    assert printer.doprint(v + w) == "3 - 2"
    assert printer.doprint(v - w) == r"3 - \left(-2\right)"
    assert printer.doprint(2 * w + 10) == r"2 \left(-2 + 5\right)"
    small = WorkedLatexPrinter({w: 1.5e-9})
    assert small.doprint(w**2) == r"\left(1.5 \cdot 10^{-9}\right)^{2}"


# -- plots ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["gd", "(w+5)**2", "--start", "3", "--lr", "0.02", "--steps", "175"],
        ["gd", BOWL, "--start", "w1=3,w2=-1", "--lr", "0.1", "--steps", "500", "--tol", "1e-8"],
        ["gd", "(w+5)**2", "--start", "3", "--lr", "1.5", "--steps", "100"],
    ],
)
def test_plots_are_written(
    capsys: pytest.CaptureFixture[str], argv: list[str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "descent.png"
    status, out, _ = run_cli(capsys, *argv, "--plot", str(target))
    assert status in (0, 1)
    assert out.rstrip().endswith(f"wrote {target}")
    assert target.stat().st_size > 5000
    width, height = png_size(target)
    assert (width, height) == (
        round(gd.PLOT_INCHES[0] * gd.PLOT_DPI),
        round(gd.PLOT_INCHES[1] * gd.PLOT_DPI),
    )
    assert [p.name for p in tmp_path.iterdir()] == ["descent.png"]


def test_plot_failure_leaves_the_old_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "descent.png"
    target.write_bytes(b"old picture")

    def refuse(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    status, _, err = run_cli(capsys, *WORKED, "--plot", str(target))
    assert status == 2
    assert err.startswith(ERROR_PREFIX) and "No space left on device" in err
    assert target.read_bytes() == b"old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["descent.png"]


def test_plot_refuses_three_variables(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "p.png"
    status, out, err = run_cli(
        capsys, "gd", "a**2 + b**2 + c**2", "--start", "a=1,b=1,c=1", "--lr", "0.1",
        "--steps", "5", "--plot", str(target),
    )  # fmt: skip
    assert status == 2 and out == "" and not target.exists()
    assert err.count("\n") == 1 and "one or two variables" in err


def test_missing_matplotlib_gives_a_one_line_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    target = tmp_path / "p.png"
    status, out, err = run_cli(capsys, *WORKED, "--plot", str(target))
    assert status == 2 and out == "" and not target.exists()
    assert err == f"{ERROR_PREFIX}{gd.PLOT_HINT}\n"
    assert "pip install 'symbackprop[plot]'" in err


# -- bad input ------------------------------------------------------------------------------

INJECTIONS = [
    "__import__('os').system('touch MARKER')",
    "w + __import__('os').system('touch MARKER')",
    "eval(\"open('MARKER', 'w')\")",
    "open('MARKER', 'w').close() or w",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "(lambda: __import__('os').system('touch MARKER'))()",
    "w.__class__",
    "__builtins__",
]


@pytest.mark.parametrize("expr", INJECTIONS)
def test_injection_is_refused_and_nothing_runs(
    capsys: pytest.CaptureFixture[str], expr: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(capsys, "gd", expr, "--start", "1", "--lr", "0.1", "--steps", "3")
    assert status == 2 and out == ""
    assert err.startswith(ERROR_PREFIX + "EXPR: ")
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_injection_in_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", "gd", INJECTIONS[0], "--start", "1", "--lr", "0.1",
         "--steps", "3", "--latex", "--plot", "p.png"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 2 and run.stdout == ""
    message, text_line, caret = run.stderr.splitlines()
    assert message.startswith(ERROR_PREFIX + "EXPR: attribute access ('.system')")
    assert text_line == "  " + INJECTIONS[0]
    assert caret.index("^") == text_line.index(".system")
    assert list(tmp_path.iterdir()) == []


def test_divergence_exit_status_in_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", "gd", "(w+5)**2", "--start", "3", "--lr", "1.5",
         "--steps", "100"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 1 and run.stderr == ""
    assert "stopped at iteration" in run.stdout and "diverging (|w| = " in run.stdout


def test_unparseable_expr_shows_the_caret(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(
        capsys, "gd", "(w+5)^2", "--start", "3", "--lr", "0.1", "--steps", "3"
    )
    assert status == 2 and out == ""
    assert err.splitlines() == [
        f"{ERROR_PREFIX}EXPR: '^' is not allowed at column 6; use ** for powers, not ^",
        "  (w+5)^2",
        "       ^",
    ]


@pytest.mark.parametrize(
    ("expr", "options", "needle"),
    [
        ("w + x", ["--start", "3"], "EXPR has 2 variables (w, x); give each a start"),
        ("w + x", ["--start", "w=1"], "--start gives no value for x"),
        ("w + x", ["--start", "w=1,x=2,y=3"], "--start names y, not a variable of EXPR"),
        ("w", ["--start", "w=1,w=2"], "--start gives w twice"),
        ("w", ["--start", "w=1,,"], "malformed --start"),
        ("w", ["--start", "3,4"], "--start gives 2 numbers for the 1 variables"),
        ("w", ["--start", "abc"], "malformed --start"),
        ("w", ["--start", "w="], "malformed --start"),
        ("w", ["--start", "nan"], "finite"),
        ("w", ["--start", "w=inf"], "finite"),
        ("w", ["--start", "3", "--var", "x"], "--var x: EXPR has no variable 'x'"),
        ("w + x", ["--start", "w=1,x=2", "--var", "w"], "--var w goes with a bare number"),
        ("7", ["--start", "3"], "EXPR has no variables"),
        ("w", ["--start", "3", "--lr", "nan"], "learning rate"),
        ("w", ["--start", "3", "--lr", "0"], "learning rate"),
        ("w", ["--start", "3", "--lr", "-0.1"], "learning rate"),
        ("w", ["--start", "3", "--lr", "inf"], "learning rate"),
        ("w", ["--start", "3", "--steps", "-1"], "--steps must be"),
        ("w", ["--start", "3", "--steps", str(10**7 + 1)], "--steps must be"),
        ("w", ["--start", "3", "--steps", str(10**30)], "--steps must be"),
        ("w", ["--start", "3", "--tol", "nan"], "--tol must be"),
        ("w", ["--start", "3", "--tol", "-1"], "--tol must be"),
        ("w", ["--start", "3", "--every", "0"], "--every must be"),
        ("w", ["--start", "3", "--plot", "p.txt"], "must end in .png"),
        ("w", ["--start", "3", "--plot", "/no/such/folder/p.png"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], expr: str, options: list[str], needle: str
) -> None:
    defaults = {"--lr": "0.1", "--steps": "3"}
    extra = [x for key, value in defaults.items() if key not in options for x in (key, value)]
    status, out, err = run_cli(capsys, "gd", expr, *options, *extra)
    assert status == 2 and out == ""
    assert err.startswith(ERROR_PREFIX) and err.count("\n") == 1, err
    assert needle in err


@pytest.mark.parametrize(("expr", "column"), [("_x + w", 0), ("w + α", 4), ("  w + __class__", 6)])
def test_names_that_are_not_plain_identifiers(
    capsys: pytest.CaptureFixture[str], expr: str, column: int
) -> None:
    status, _, err = run_cli(capsys, "gd", expr, "--start", "1", "--lr", "0.1", "--steps", "1")
    assert status == 2
    message, _, caret = err.splitlines()
    assert "cannot be a variable" in message and f"at column {column + 1}" in message
    assert caret.index("^") == column + 2


def test_api_errors_are_symbackprop_errors() -> None:
    with pytest.raises(SymbackpropError, match="learning rate"):
        gradient_descent("w**2", 1, float("nan"), 10)
    with pytest.raises(SymbackpropError, match="EXPR: "):
        gradient_descent("w**", 1, 0.1, 10)
    with pytest.raises(SymbackpropError, match="steps"):
        gradient_descent("w**2", 1, 0.1, True)


def test_find_variables_reads_names_without_running_anything() -> None:
    assert gd.find_variables("exp(b) * a + sin(a) - c1") == ("b", "a", "c1")
    assert gd.find_variables("foo(x)") == ("x",)
    assert gd.find_variables("w +") == ()


def test_result_is_frozen() -> None:
    result = gradient_descent("(w+5)**2", 3, 0.02, 2)
    assert isinstance(result, GDResult)
    with pytest.raises(AttributeError):
        result.stop = "diverging"  # type: ignore[misc]
