"""Property-based fuzzing of every parser: each call gives a result or a clean one-line
SymbackpropError (ExprError for the inner parse_expression) within TIME_LIMIT seconds.

The regression tests at the end hold the exact inputs of bugs the fuzzing found.
"""

from __future__ import annotations

import io
import math
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop.data import load_data
from symbackprop.errors import SpecError, SymbackpropError
from symbackprop.expr import parse_expression
from symbackprop.gd import find_variables, gradient_descent
from symbackprop.spec import load_spec, load_spec_text

from .fuzz_figures import (
    EXPR_TOKENS,
    EXTREMES,
    LATEX_TOKENS,
    TARGETS,
    VALID_DICT,
    VALID_SPEC,
    call_data,
    call_expr,
    call_gd,
    call_latex,
    call_npz,
    call_spec,
    check,
    corrupt,
    mutate_dict,
    npz_bytes,
    paths,
    rand_grammatical,
    toml_document,
    valid_equations,
)

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
FEW = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

texts = st.text(max_size=300)
specs = st.sampled_from(["multi_node", "classifier"])


def soup(tokens: list[str], size: int = 40) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(tokens), max_size=size).map("".join)


def char_mutations(base: str, alphabet: str) -> st.SearchStrategy[str]:
    """`base` with a few characters deleted, inserted or replaced."""

    @st.composite
    def mutate(draw: st.DrawFn) -> str:
        text = list(base)
        for _ in range(draw(st.integers(0, 4))):
            i = draw(st.integers(0, max(len(text) - 1, 0)))
            op = draw(st.integers(0, 2))
            char = draw(st.sampled_from(alphabet) | st.characters())
            if op == 0 and text:
                del text[i]
            elif op == 1:
                text.insert(i, char)
            elif text:
                text[i] = char
        return "".join(text)

    return mutate()


# ---------------------------------------------------------------- specs

toml_scalars = (
    st.integers()
    | st.sampled_from([0, -1, 10**6, 10**6 + 1, 2**63, -(2**64), 10**4000])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=30)
    | st.sampled_from(["sigmoid", "softmax", 'a"b', "x\ny", "__import__('os')", "z**9**9"])
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@FUZZ
@given(st.sampled_from(paths(VALID_DICT)), toml_values, st.booleans())
def test_spec_one_field_mutated(path: tuple[Any, ...], value: Any, delete: bool) -> None:
    check(call_spec, toml_document(mutate_dict(VALID_DICT, path, value, delete)))


@FUZZ
@given(texts | char_mutations(VALID_SPEC, '"[]{}=\n#.,\\0123456789'))
def test_spec_text(text: str) -> None:
    check(call_spec, text)


@FEW
@given(st.binary(max_size=300))
def test_spec_file_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "fuzz.toml"
        file.write_bytes(raw)
        check(load_spec, file)


# ---------------------------------------------------------------- expressions and gd


@st.composite
def grammatical(draw: st.DrawFn) -> str:
    return rand_grammatical(random.Random(draw(st.integers(0, 2**32))), 4)


expressions = texts | soup(EXPR_TOKENS) | grammatical()


@FUZZ
@given(expressions)
def test_expression(text: str) -> None:
    check(call_expr, text)


@FUZZ
@given(
    expressions.map(lambda e: e.replace("z", "x")),
    st.floats() | st.dictionaries(st.sampled_from(["x", "y", "q"]), st.floats(), max_size=2),
    st.floats() | st.sampled_from([0.1, 1e300, -1.0]),
    st.integers(-2, 60),
)
def test_gd(expr: str, start: Any, lr: float, steps: int) -> None:
    check(call_gd, (expr, start, lr, steps))
    check(find_variables, expr)


# ---------------------------------------------------------------- LaTeX


@FUZZ
@given(texts | soup(LATEX_TOKENS))
def test_latex_soup(text: str) -> None:
    check(call_latex, text)


@FUZZ
@given(
    st.sampled_from(valid_equations()).flatmap(
        lambda eq: char_mutations(eq, "{}^_=\\()+-0123lLajkE ")
    )
)
def test_latex_mutated_equations(text: str) -> None:
    check(call_latex, text)


# ---------------------------------------------------------------- data files

cells = st.sampled_from(
    ["0", "1", "0.5", "-2", "nan", "inf", "", "1e999", "abc", '"1"', "x1"]
) | st.text(max_size=5)


@FEW
@given(st.binary(max_size=400), specs)
def test_csv_bytes(raw: bytes, spec: str) -> None:
    check(call_data, (raw, spec))


@FUZZ
@given(
    st.lists(st.lists(cells, min_size=1, max_size=6), max_size=6),
    st.sampled_from(["\n", "\r\n", "\r"]),
    specs,
)
def test_csv_rows(rows: list[list[str]], newline: str, spec: str) -> None:
    raw = newline.join(",".join(row) for row in rows).encode("utf-8", "surrogatepass")
    check(call_data, (raw, spec))


shapes = st.sampled_from([(), (0,), (3,), (3, 2), (3, 3), (2, 2), (0, 2), (3, 2, 1), (3, 1)])
dtypes = st.sampled_from([np.float64, np.float32, np.int64, bool, object, np.complex128, str])
arrays = st.tuples(
    shapes,
    dtypes,
    st.lists(st.sampled_from([0.0, 1.0, 2.0, math.nan, math.inf]), min_size=18, max_size=18),
)


def make_array(spec: tuple[Any, Any, list[float]]) -> np.ndarray:
    shape, dtype, pool = spec
    values = np.array(pool[: int(np.prod(shape))]).reshape(shape)
    if dtype in (np.int64, bool):
        values = np.nan_to_num(np.clip(values, -5, 5))
    return values.astype(dtype)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["X", "Y", "Z"]), arrays, max_size=3),
    st.integers(0, 2**32),
    st.booleans(),
    st.booleans(),
    specs,
)
def test_npz(found: dict[str, Any], seed: int, broken: bool, compressed: bool, spec: str) -> None:
    raw = npz_bytes({key: make_array(value) for key, value in found.items()}, compressed)
    if broken:
        raw = corrupt(raw, random.Random(seed))
    check(call_npz, (raw, spec))


# ---------------------------------------------------------------- fixed hostile inputs


@pytest.mark.parametrize(
    ("target", "value"), [(name, value) for name, values in EXTREMES.items() for value in values]
)
def test_extreme_inputs(target: str, value: Any) -> None:
    check(TARGETS[target], value)


# ---------------------------------------------------------------- regressions


def test_spec_deeply_nested_array_is_a_spec_error() -> None:
    # was RecursionError out of tomllib
    with pytest.raises(SpecError, match="nested too deeply"):
        load_spec_text("a = " + "[" * 10_000 + "]" * 10_000)


def test_spec_deeply_nested_inline_table_is_a_spec_error() -> None:
    # was RecursionError out of tomllib
    with pytest.raises(SpecError, match="nested too deeply"):
        load_spec_text("a = " + "{b=" * 2000 + "1" + "}" * 2000)


def test_spec_integer_of_5000_digits_is_a_spec_error() -> None:
    # was ValueError: Exceeds the limit (4300 digits) for integer string conversion
    with pytest.raises(SpecError, match="number too long"):
        load_spec_text("inputs = " + "9" * 5000)


def test_expression_syntax_warning_is_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    # "1if" made ast print "<unknown>:1: SyntaxWarning: invalid decimal literal" to stderr
    with pytest.raises(ValueError, match="conditional expressions"):
        parse_expression("1if 2 else 3", {})
    with pytest.raises(Exception, match="conditional expressions"):
        gradient_descent("1if x else 2", 1.0, 0.1, 3)
    assert "SyntaxWarning" not in capfd.readouterr().err


@pytest.mark.filterwarnings("error")
def test_expression_under_warnings_as_errors() -> None:
    # with -W error the SyntaxWarning became a SyntaxError and a different message
    with pytest.raises(ValueError, match="conditional expressions"):
        parse_expression("1if 2 else 3", {})


def _npz_with_member(payload: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("X.npy", payload)
        zipped.writestr("Y.npy", payload)
    return archive.getvalue()


def _central_directory_patch(offset: int, value: bytes) -> bytes:
    """A valid X/Y archive with bytes at `offset` into the first central directory entry set."""
    raw = npz_bytes({"X": np.zeros((2, 2)), "Y": np.zeros((2, 2))})
    i = raw.index(b"PK\x01\x02") + offset
    return raw[:i] + value + raw[i + len(value) :]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # was NotImplementedError: zip file version 15.7
        (_central_directory_patch(6, bytes([157, 0])), "not a readable .npz archive"),
        # was RuntimeError: File 'X.npy' is encrypted, password required for extraction
        (_central_directory_patch(8, bytes([1, 0])), "not a readable .npz archive"),
        # was AttributeError: 'bytes' object has no attribute 'ndim' (np.load returns bytes)
        (_npz_with_member(b"junk"), "is not a NumPy array"),
        # was the misleading "holds Python objects (pickles)" for a damaged .npy header
        (_npz_with_member(b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}   \n"), "not a readable"),
    ],
)
def test_npz_damaged_archives_are_clean_errors(raw: bytes, message: str, tmp_path: Path) -> None:
    file = tmp_path / "bad.npz"
    file.write_bytes(raw)
    with pytest.raises(SymbackpropError, match=message) as caught:
        load_data(file, load_spec_text(VALID_SPEC))
    assert "\n" not in str(caught.value)
