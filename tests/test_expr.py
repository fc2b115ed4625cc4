"""The safe expression parser: right SymPy results, clear errors with columns, and no way to hang.

Hostile inputs (code injection, huge powers, deep nesting) must fail fast and never run anything.
"""

from __future__ import annotations

import ast
import builtins
import pickle
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sympy
import sympy.parsing.sympy_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from symbackprop.expr import FUNCTIONS, MAX_DEPTH, MAX_LENGTH, ExprError, parse_expression

z = sympy.Symbol("z", real=True)
a = sympy.Symbol("a", real=True)
y = sympy.Symbol("y", real=True)
Z = {"z": z}
AY = {"a": a, "y": y}


def fails(text: str, variables: dict[str, sympy.Symbol] = Z) -> ExprError:
    """The ExprError that parsing `text` raises (the test fails if it returns)."""
    with pytest.raises(ExprError) as info:
        parse_expression(text, variables)
    return info.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("z/(1 + abs(z))", z / (1 + sympy.Abs(z))),
        ("1/(1 + exp(-z))", 1 / (1 + sympy.exp(-z))),
        ("0.01*z", sympy.Rational(1, 100) * z),
        ("-z**2", -(z**2)),
        ("(-z)**2", z**2),
        ("2**3**2", sympy.Integer(512)),
        ("z - 1 - 2", z - 3),
        ("z / 2 / 4", z / 8),
        ("+z", z),
        ("z**0.5", sympy.sqrt(z)),
        ("max(z, 0)", sympy.Max(z, 0)),
        ("min(z, 0, 1)", sympy.Min(z, 0)),
        ("max(z, 0.01*z)", sympy.Max(z, z / 100)),
        ("tanh(z) + sinh(z) + cosh(z)", sympy.tanh(z) + sympy.sinh(z) + sympy.cosh(z)),
        ("sin(z)*cos(z) - erf(z)", sympy.sin(z) * sympy.cos(z) - sympy.erf(z)),
        ("log(1 + exp(z)) + sqrt(z)", sympy.log(1 + sympy.exp(z)) + sympy.sqrt(z)),
        ("  z + 1  ", z + 1),
        ("(z +\n 1)", z + 1),
        ("0x10*z", 16 * z),
        ("z**100", z**100),
        ("10**300", sympy.Integer(10) ** 300),
        ("-" * MAX_DEPTH + "z", z),
    ],
)
def test_parses_to_the_sympy_expression(text: str, expected: Any) -> None:
    result = parse_expression(text, Z)
    assert isinstance(result, sympy.Expr)
    assert result == expected


def test_nesting_up_to_the_limit_is_accepted() -> None:
    expected = z
    for _ in range(MAX_DEPTH):
        expected = sympy.exp(expected)
    assert parse_expression("exp(" * MAX_DEPTH + "z" + ")" * MAX_DEPTH, Z) == expected


def test_loss_with_two_variables() -> None:
    assert parse_expression("(a - y)**2 / 2", AY) == (a - y) ** 2 / 2
    assert parse_expression("-y*log(a) - (1 - y)*log(1 - a)", AY) == -y * sympy.log(a) - (
        1 - y
    ) * sympy.log(1 - a)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.01", sympy.Rational(1, 100)),
        ("1e-8", sympy.Rational(1, 10**8)),
        ("0.1 + 0.2", sympy.Rational(3, 10)),
        ("1_000.5", sympy.Rational(2001, 2)),
        (".5e3", sympy.Integer(500)),
        ("2.", sympy.Integer(2)),
        ("0.3333333333333333333333", sympy.Rational(3333333333333333333333, 10**22)),
    ],
)
def test_numbers_are_exact(text: str, expected: Any) -> None:
    result = parse_expression(text, Z)
    assert result == expected
    assert not result.atoms(sympy.Float)


def test_long_flat_sum_is_not_too_deep() -> None:
    assert parse_expression("+".join(["z"] * 400), Z) == 400 * z


def test_functions_whitelist() -> None:
    assert set(FUNCTIONS) == {
        "exp",
        "log",
        "sqrt",
        "abs",
        "tanh",
        "sinh",
        "cosh",
        "sin",
        "cos",
        "erf",
        "max",
        "min",
    }
    assert FUNCTIONS["abs"] is sympy.Abs
    assert FUNCTIONS["max"] is sympy.Max


REJECTIONS = [
    ("z^2", ["use ** for powers, not ^"], 1),
    ("z.__class__", ["attribute access", "__class__"], 1),
    ("__import__('os').system('echo hi')", ["attribute access", "system"], 16),
    ("__import__('os')", ["unknown function '__import__'"], 0),
    ("__builtins__", ["unknown name '__builtins__'"], 0),
    ("lambda: 1", ["lambda is not allowed"], 0),
    ("[1][0]", ["indexing"], 3),
    ("f(z)", ["unknown function 'f'", "functions: abs"], 0),
    ("z + sinn(z)", ["unknown function 'sinn'", "did you mean 'sin'"], 4),
    ("exp(z, 2)", ["exp takes exactly 1 argument", "got 2"], 7),
    ("exp()", ["exp takes exactly 1 argument", "got 0"], 0),
    ("max(z)", ["max takes at least 2 arguments"], 0),
    ("exp(x=z)", ["keyword arguments are not allowed"], 4),
    ("exp(*z)", ["unpacking"], 4),
    ("True", ["True is not allowed"], 0),
    ("None", ["None is not allowed"], 0),
    ("1j", ["complex numbers"], 0),
    ('"s"', ["strings are not allowed"], 0),
    ("b'x'", ["strings are not allowed"], 0),
    ("z // 2", ["'//'", "use / for division"], 2),
    ("z % 2", ["'%'"], 2),
    ("z @ z", ["'@'"], 2),
    ("z & 1", ["bitwise"], 2),
    ("~z", ["bitwise"], 0),
    ("not z", ["'not' is not allowed"], 0),
    ("z < 1", ["comparisons are not allowed"], 2),
    ("z and 1", ["'and' and 'or'"], 2),
    ("z if z else 1", ["conditional expressions"], 2),
    ("[z for z in [1]]", ["comprehensions"], 0),
    ("(z, 1)", ["commas"], 0),
    ("q + 1", ["unknown name 'q'", "allowed variables: z", "functions: abs"], 0),
    ("  q", ["unknown name 'q'"], 2),
    ("(z +\n q)", ["unknown name 'q'"], 6),
    ("é + q", ["unknown name 'é'"], 0),
    ("z + é.x", ["attribute access"], 5),
    ("exp", ["'exp' is a function"], 0),
    ("z(1)", ["'z' is a variable, not a function"], 0),
    ("z +", ["syntax error"], 3),
    ("(z + 1", ["syntax error", "never closed"], 0),
    ("z )", ["syntax error"], 2),
    ("1/0", ["division by zero"], 1),
    ("log(0)", ["undefined"], 0),
    ("log(-2)", ["complex, not real"], 0),
    ("sqrt(-1)*z", ["complex, not real"], 0),
    ("1e999", ["number too large"], 0),
    ("1" * 31, ["number too large", "30 digits"], 0),
    ("z**101", ["exponent too large (limit 100)"], 1),
    ("1e-400", ["number too small"], 0),
]


@pytest.mark.parametrize(("text", "words", "column"), REJECTIONS)
def test_rejections_name_the_problem_and_column(text: str, words: list[str], column: int) -> None:
    err = fails(text)
    message = str(err)
    for word in words:
        assert word in message
    assert err.column == column
    assert f"at column {column + 1}" in message  # counted from 1 for people
    assert err.text == text
    assert err.message == message
    assert "\n" not in message
    assert not re.search(r"\b(BinOp|UnaryOp|Attribute|Subscript|Constant|Call|ast)\b", message)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_expression(text: str) -> None:
    err = fails(text)
    assert "empty expression" in str(err)
    assert err.column is None
    assert err.caret() == ""


def test_error_survives_pickling() -> None:
    err = pickle.loads(pickle.dumps(fails("z ^ 2")))
    assert (err.message, err.text, err.column) == (str(err), "z ^ 2", 2)


def test_error_lists_allowed_names() -> None:
    message = str(fails("z.real", AY))
    assert "the variables a, y" in message
    assert "functions abs, cos" in message


def test_caret_points_at_the_column() -> None:
    err = fails("z ^ 2")
    assert err.caret() == "z ^ 2\n  ^"
    err = fails("(z +\n q)")
    text_line, marker = err.caret().split("\n")
    assert marker.index("^") == err.column == 6
    assert text_line[6] == "q"


INJECTIONS = [
    "__import__('os').system('touch {path}')",
    "__import__('pathlib').Path('{path}').touch()",
    "open('{path}', 'w')",
    "exec(\"open('{path}', 'w')\")",
    "eval(\"__import__('os').system('touch {path}')\")",
    "().__class__.__bases__[0].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__()][0]('{path}')",
    "(lambda: open('{path}', 'w'))()",
]


@pytest.mark.parametrize("template", INJECTIONS)
def test_injection_does_not_run(
    template: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / f"PWNED_{uuid.uuid4().hex}"
    real_compile = builtins.compile

    def compile_to_ast_only(*args: Any, **kwargs: Any) -> Any:
        flags = kwargs.get("flags", args[3] if len(args) > 3 else 0)
        assert flags & ast.PyCF_ONLY_AST, "source was compiled to run, not to an AST"
        return real_compile(*args, **kwargs)

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("user text reached eval, exec or a SymPy string parser")

    monkeypatch.setattr(builtins, "compile", compile_to_ast_only)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", forbidden)
    fails(template.format(path=path))
    assert not path.exists()


@pytest.mark.parametrize(
    "text",
    [
        "z**(10**10**10)",
        "10**10**10",
        "2**99999",
        "9**9**9",
        "exp(1000000*log(2))",
        "exp(z + 10**29*log(2))",
        "exp(1)**(z + 10**29*log(2))",
        "(1e29*z)**100",
        "2**(z + 10**29)",
        "max(z, 7**(1e300 + z))",
        "sqrt(exp(-1e300))**log(0.1)",
        "(1/5000000000000000000000000000025000)**(1/100)",
        "*".join(["999999999999999999999999999999"] * 20),
        "exp(exp(exp(100)))",
    ],
)
def test_huge_numbers_are_refused_fast(text: str) -> None:
    start = time.perf_counter()
    err = fails(text)
    assert time.perf_counter() - start < 1.0
    assert "too large" in str(err) or "too small" in str(err)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("(" * 10_000, "too long"),
        ("-" * 5000 + "z", "too long"),
        ("+".join(["z"] * 1000), "too long"),
        ("(" * (MAX_DEPTH + 1) + "z" + ")" * (MAX_DEPTH + 1), "nested too deeply (limit 60)"),
        ("-" * 500 + "z", "nested too deeply (limit 60)"),
        ("exp(" * 61 + "z" + ")" * 61, "nested too deeply (limit 60)"),
        ("z" + "**z" * 70, "nested too deeply (limit 60)"),
    ],
)
def test_size_and_depth_limits(text: str, words: str) -> None:
    assert words in str(fails(text))


def test_length_limit_boundary() -> None:
    assert parse_expression("z" + " " * (MAX_LENGTH - 1), Z) == z
    err = fails("z" + " " * MAX_LENGTH)
    assert err.column == MAX_LENGTH


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_gives_an_expression_or_expr_error(text: str) -> None:
    try:
        result = parse_expression(text, AY)
    except ExprError as err:
        assert "\n" not in str(err)
        assert err.column is None or 0 <= err.column <= len(text)
    else:
        assert isinstance(result, sympy.Expr)


_LEAVES = st.sampled_from(
    ["z", "1", "0", "2", "-1", "0.5", "1e29", "1e300", "1e-300", "690", "999999999999"]
)


_VARIADIC = ("max", "min")


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children)
    called = st.tuples(st.sampled_from(sorted(FUNCTIONS)), children, children)
    return st.one_of(
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        called.map(lambda t: f"{t[0]}({t[1]}, {t[2]})" if t[0] in _VARIADIC else f"{t[0]}({t[1]})"),
        children.map(lambda c: f"-{c}"),
    )


@settings(max_examples=100, deadline=None)
@given(st.recursive(_LEAVES, _combine, max_leaves=12))
def test_any_formula_gives_an_expression_or_expr_error(text: str) -> None:
    try:
        result = parse_expression(text, Z)
    except ExprError:
        return
    assert isinstance(result, sympy.Expr)
    assert result.free_symbols <= {z}
