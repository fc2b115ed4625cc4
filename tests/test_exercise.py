"""`exercise` and `grade` (issue 15): worksheets for students, grades for instructors.

The expected answers of an exercise (the derivation's equations at its layers) are checked
against JAX's derivatives (tests/oracle.py), on seeded variant networks; a submission written
here by hand scores full, and each mistake made in it by hand (with its kind named by hand)
loses that question's marks and is named in the CSV.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy

from symbackprop import cli
from symbackprop.cli import exercise as cli_exercise
from symbackprop.notation import L_sym, i, j, k, l_sym
from symbackprop.spec import load_spec
from symbackprop.verify import exercise, grade

from .oracle import Evaluator, close, index_values, sample
from .test_latex import compile_tex, needs_pdflatex

HEADER = (
    "% symbackprop answers: network multi_node, seed none, view index, "
    "ask dE_da_out,sigma_prime,jacobian,delta,dE_dw,dE_db,dE_da_prev\n"
)
#: multi_node (2-3-2, sigmoid, sigmoid, squared error) answered by hand, each question worked
#: out as the solution does, in the lecture's notation (not the printer's).
GOOD = (
    HEADER
    + r"""% question 1
\begin{align*}
\frac{\partial E}{\partial a_j^{(2)}} &= 2(a_j^{(2)} - y_j)
\end{align*}
% question 2
\begin{align*}
\frac{\partial a_j^{(2)}}{\partial z_j^{(2)}} &= \sigma'(z_j^{(2)}) \\
&= a_j^{(2)} (1 - a_j^{(2)})
\end{align*}
% question 3
\begin{align*}
\frac{\partial E}{\partial w_{jk}^{(2)}} &= \frac{\partial z_j^{(2)}}{\partial w_{jk}^{(2)}}
  \frac{\partial a_j^{(2)}}{\partial z_j^{(2)}} \frac{\partial E}{\partial a_j^{(2)}} \\
&= a_k^{(1)} a_j^{(2)} (1 - a_j^{(2)}) \cdot 2 (a_j^{(2)} - y_j)
\end{align*}
% question 4
\begin{align*}
\frac{\partial E}{\partial b_j^{(2)}} &= \sigma'(z_j^{(2)}) \frac{\partial E}{\partial a_j^{(2)}} \\
&= 2 a_j^{(2)} (1 - a_j^{(2)}) (a_j^{(2)} - y_j)
\end{align*}
% question 5
\begin{align*}
\frac{\partial E}{\partial a_k^{(1)}} &= \sum_{j=1}^{n^{(2)}} w_{jk}^{(2)} \sigma'(z_j^{(2)})
  \frac{\partial E}{\partial a_j^{(2)}} \\
&= \sum_{j=1}^{n^{(2)}} 2 w_{jk}^{(2)} a_j^{(2)} (1 - a_j^{(2)}) (a_j^{(2)} - y_j)
\end{align*}
% question 6
\begin{align*}
\frac{\partial a_j^{(1)}}{\partial z_j^{(1)}} &= a_j^{(1)} (1 - a_j^{(1)})
\end{align*}
% question 7
\begin{align*}
\frac{\partial E}{\partial w_{jk}^{(1)}}
  &= a_k^{(0)} \sigma'(z_j^{(1)}) \frac{\partial E}{\partial a_j^{(1)}}
\end{align*}
% question 8
\begin{align*}
\frac{\partial E}{\partial b_j^{(1)}}
  &= a_j^{(1)} (1 - a_j^{(1)}) \frac{\partial E}{\partial a_j^{(1)}}
\end{align*}
"""
)

#: (file, the text replaced in GOOD, its replacement, the question it spoils, the mistake's
#: kind): each mistake made by hand, and named by hand.
MISTAKES = [
    ("factor", r"&= 2(a_j^{(2)} - y_j)", r"&= a_j^{(2)} - y_j", 1, "constant factor"),
    (
        "sigma",
        r"&= a_k^{(0)} \sigma'(z_j^{(1)}) \frac{\partial E}{\partial a_j^{(1)}}",
        r"&= a_k^{(0)} \frac{\partial E}{\partial a_j^{(1)}}",
        7,
        "missing sigma'",
    ),
    ("wkj", r"w_{jk}^{(2)} \sigma'", r"w_{kj}^{(2)} \sigma'", 5, "w_kj for w_jk"),
    (
        "tanh",
        "&= a_j^{(1)} (1 - a_j^{(1)})\n",
        "&= 1 - (a_j^{(1)})^2\n",
        6,
        "activation derivative",
    ),
    (
        "sign",
        r"&= a_j^{(1)} (1 - a_j^{(1)}) \frac",
        r"&= -a_j^{(1)} (1 - a_j^{(1)}) \frac",
        8,
        "sign",
    ),
    (
        "layer",
        r"&= \sigma'(z_j^{(2)}) \frac{\partial E}{\partial a_j^{(2)}}",
        r"&= \sigma'(z_j^{(1)}) \frac{\partial E}{\partial a_j^{(2)}}",
        4,
        "sigma' at the wrong layer",
    ),
]


def graded(text: str, name: str = "student") -> grade.Submission:
    return grade.grade_text(load_spec("multi_node"), text, f"{name}.tex", name)


def test_the_parsers_constants_are_the_modules() -> None:
    assert cli_exercise.KINDS == exercise.KINDS
    assert cli_exercise.VIEWS == exercise.VIEWS
    assert cli_exercise.POOL == exercise.POOL


# ---------------------------------------------------------------- exercises


@pytest.mark.parametrize("name", ["multi_node", "classifier", "xor"])
def test_a_seed_draws_a_network_of_the_same_shape(name: str) -> None:
    net = load_spec(name)
    drawn = [exercise.variant(net, seed) for seed in range(8)]
    for seed, other in enumerate(drawn):
        assert other.sizes == net.sizes and other.loss == net.loss
        assert exercise.variant(net, seed) == other  # the same seed, the same network
        for mine, theirs in zip(net.layers, other.layers, strict=True):
            if mine.activation.is_softmax:
                assert theirs.activation.is_softmax
            else:
                assert theirs.activation.name in exercise.POOL or theirs == mine
    assert len({tuple(layer.activation.name for layer in d.layers) for d in drawn}) >= 2


def _check(eq: object, s: object) -> list[str]:
    """Each step of a concrete layer's equation against JAX's numbers, at every unit binding."""
    layer = int(eq.layer)  # type: ignore[attr-defined]
    at = {l_sym: sympy.Integer(layer), L_sym: sympy.Integer(s.net.depth)}  # type: ignore[attr-defined]
    lhs = eq.lhs.xreplace(at)  # type: ignore[attr-defined]
    steps = [r.xreplace(at) for r in eq.rhs]  # type: ignore[attr-defined]
    free = set().union(*(e.free_symbols for e in [lhs, *steps])) & {i, j, k}
    failures = []
    for binding in index_values(free, s, layer):  # type: ignore[arg-type]
        ev = Evaluator(s, binding)  # type: ignore[arg-type]
        want = ev(lhs)
        for n, step in enumerate(steps, start=1):
            if not close(ev(step), want):
                failures.append(f"{latex_of(eq)} step {n} at {binding}")
    return failures


def latex_of(eq: object) -> str:
    from symbackprop.printing.latex import latex

    return latex(eq.lhs)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "seed"), [("multi_node", 1), ("multi_node", 4), ("classifier", 2)]
)
def test_the_expected_answers_agree_with_jax(name: str, seed: int) -> None:
    ex = exercise.make(load_spec(name), seed)
    assert ex.questions
    samples = [sample(ex.network, s) for s in (1, 2)]
    failures = [f for q in ex.questions for s in samples for f in _check(q.equation, s)]
    assert not failures, failures[:5]


@needs_pdflatex
@pytest.mark.parametrize("part", ["worksheet", "answers", "solutions"])
def test_the_sheets_compile(part: str, tmp_path: Path) -> None:
    ex = exercise.make(load_spec("classifier"), 5)
    compile_tex(getattr(exercise, part)(ex), tmp_path)


def test_the_worksheet_draws_the_network_and_leaves_the_answers_blank() -> None:
    ex = exercise.make(load_spec("multi_node"), 2)
    sheet = exercise.worksheet(ex)
    assert "\\begin{tikzpicture}" in sheet
    for q in ex.questions:
        assert f"{q.lhs} = $ \\hrulefill" in sheet
        assert q.steps[-1] not in sheet  # the answer is not given away
        assert q.steps[-1] in exercise.solutions(ex)


# ---------------------------------------------------------------- grading


def test_a_correct_submission_scores_full() -> None:
    sub = graded(GOOD)
    assert (sub.score, sub.total) == (8, 8), [a.note for a in sub.answers]
    assert all(a.status == "answered" and a.worked_out for a in sub.answers)


@pytest.mark.parametrize(
    ("name", "seed", "view"),
    [
        ("multi_node", 3, "index"),
        ("classifier", 1, "index"),
        ("xor", 7, "index"),
        ("multi_node", 2, "vector"),
        ("multi_node", 2, "chain"),
        ("classifier", 9, "vector"),
    ],
)
def test_the_solutions_of_a_seeded_sheet_score_full(name: str, seed: int, view: str) -> None:
    net = load_spec(name)
    ex = exercise.make(net, seed, view)  # type: ignore[arg-type]
    sub = grade.grade_text(net, exercise.solutions(ex), "solutions.tex", "solutions")
    assert sub.seed == seed and sub.score == sub.total == len(ex.questions)
    blank = grade.grade_text(net, exercise.answers(ex), "answers.tex", "answers")
    assert blank.score == 0 and {a.status for a in blank.answers} == {"no answer"}


@pytest.mark.parametrize(("student", "old", "new", "question", "kind"), MISTAKES)
def test_a_mistake_loses_its_marks_and_is_named(
    student: str, old: str, new: str, question: int, kind: str
) -> None:
    assert GOOD.count(old) == 1
    sub = graded(GOOD.replace(old, new), student)
    answer = sub.answers[question - 1]
    assert answer.marks < 1 and sub.score == sub.total - 1 + answer.marks
    assert all(a.marks == 1 for a in sub.answers if a.question != question)
    broken = [s for s in answer.steps if not s.right]
    assert broken and broken[0].diagnosis is not None
    assert broken[0].diagnosis.kind == kind, broken[0].diagnosis.message
    rows = list(csv.DictReader(io.StringIO(grade.csv_text([sub]))))
    named = [r for r in rows if r["question"] == str(question) and r["right"] == "0"]
    assert named and named[0]["mistake"] == kind and named[0]["diagnosis"]


def test_a_step_that_does_not_follow_costs_that_step_only() -> None:
    old = r"&= a_k^{(1)} a_j^{(2)} (1 - a_j^{(2)}) \cdot 2 (a_j^{(2)} - y_j)"
    wrong = (
        r"&= a_k^{(1)} a_j^{(2)} \cdot 2 (a_j^{(2)} - y_j) \\" + "\n"
        r"&= a_k^{(1)} a_j^{(2)} (1 - a_j^{(2)}) \cdot 2 (a_j^{(2)} - y_j)"
    )
    assert GOOD.count(old) == 1
    answer = graded(GOOD.replace(old, wrong)).answers[2]
    assert [s.right for s in answer.steps] == [True, False, True]
    assert answer.marks == pytest.approx(2 / 3)


def test_an_answer_to_another_question_or_not_worked_out() -> None:
    old = "\\frac{\\partial E}{\\partial b_j^{(1)}}\n"
    assert GOOD.count(old) == 1
    other = graded(GOOD.replace(old, "\\frac{\\partial E}{\\partial b_j^{(2)}}\n")).answers[7]
    assert other.status == "another question" and other.marks == 0
    lazy = GOOD.replace(  # question 3 stops at the chain rule, true but not worked out
        r" \\" + "\n" + r"&= a_k^{(1)} a_j^{(2)} (1 - a_j^{(2)}) \cdot 2 (a_j^{(2)} - y_j)", ""
    )
    assert lazy != GOOD
    answer = graded(lazy).answers[2]
    assert answer.steps and all(s.right for s in answer.steps)
    assert not answer.worked_out and answer.marks == 0.5


def test_a_restated_left_side_is_not_worked_out() -> None:
    text = GOOD.replace(r"&= 2(a_j^{(2)} - y_j)", r"&= \frac{\partial E}{\partial a_j^{(2)}}")
    answer = graded(text).answers[0]
    assert not answer.worked_out and answer.marks == 0.5


# ---------------------------------------------------------------- the commands


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_exercise_then_grade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "alice"
    status, out, _ = run(["exercise", "multi_node", "--seed", "3", "-o", str(folder)], capsys)
    assert status == 0 and "8 questions" in out
    assert sorted(p.name for p in folder.iterdir()) == [
        "answers.tex",
        "solutions.tex",
        "worksheet.tex",
    ]
    (folder / "bob.tex").write_text(GOOD.replace(r"&= 2(a_j^{(2)} - y_j)", r"&= a_j^{(2)} - y_j"))
    status, out, err = run(["grade", "multi_node", str(folder)], capsys)
    assert status == 0 and "worksheet.tex: no answers header, skipped" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == grade.CSV_FIELDS
    scores = {r["student"]: (r["score"], r["total"]) for r in rows}
    assert scores == {"answers": ("0", "8"), "bob": ("7", "8"), "solutions": ("8", "8")}
    status, out, _ = run(["grade", "multi_node", str(folder), "--json"], capsys)
    report = json.loads(out)
    assert report["schema"] == "symbackprop-grade/1"
    bob = next(s for s in report["submissions"] if s["student"] == "bob")
    assert bob["seed"] is None and bob["score"] == 7
    assert bob["questions"][0]["steps"][0]["diagnosis"]["kind"] == "constant factor"
    target = tmp_path / "scores.csv"
    status, out, _ = run(["grade", "multi_node", str(folder), "-o", str(target)], capsys)
    assert status == 0 and target.read_text().startswith("student,seed,question")
    assert "bob: 7 of 8; question 1: constant factor" in out.splitlines()


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        (HEADER.replace("view index", "view sideways"), "bad.tex:1: unknown view 'sideways'"),
        (HEADER.replace("ask dE_da_out", "ask dE_dx"), "bad.tex:1: ask: unknown kind 'dE_dx'"),
        (HEADER.replace("multi_node", "xor"), "the header names network 'xor'"),
        (HEADER + "% question 99\n", "question 99 is not on this exercise"),
    ],
)
def test_a_bad_answers_file_is_one_line(
    header: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.tex").write_text(header + GOOD.split("\n", 1)[1])
    status, out, err = run(["grade", "multi_node", str(tmp_path)], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and needle in err, err


def test_grade_needs_a_folder_with_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(["grade", "multi_node", str(tmp_path / "missing")], capsys)
    assert status == 2 and "not a folder of answers files" in err and err.count("\n") == 1
    status, _, err = run(["grade", "multi_node", str(tmp_path)], capsys)
    assert status == 2 and "no answers file" in err


def test_exercise_refuses_bad_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = run(["exercise", "xor", "--ask", "dE_dq", "-o", str(tmp_path / "x")], capsys)
    assert status == 2 and "--ask: unknown kind 'dE_dq'" in err
    status, _, err = run(["exercise", "classifier", "--view", "chain", "-o", str(tmp_path)], capsys)
    assert status == 2 and "softmax output has no one-neuron chain" in err
    assert not list(tmp_path.iterdir())


def test_their_help_loads_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from symbackprop import cli\n"
        "for name in ('exercise', 'grade'):\n"
        "    try:\n"
        "        cli.main([name, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'sympy', 'numpy', 'lark', 'jinja2'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
