"""Every Python snippet of the README runs as written (issue 14), and every Python API the prose
names (`symbackprop.gradcheck(network)`, `from symbackprop.gradcheck import report`) exists.

The README's ```python blocks are of three kinds:
- sessions (`>>>` lines): run by doctest, each printed output compared (`...` matches any text);
- excerpts of a generated module (the block is verbatim in a file under generated/): run in that
  module's namespace, replacing its functions, which must then compute what the module computes;
- scripts: run as a file by a fresh interpreter in an empty folder, which must exit 0.
This runs the README's own text, never a user's.
"""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
GENERATED = ROOT / "generated"
_FENCE = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def python_blocks() -> list[tuple[int, str]]:
    """Each ```python block of the README: the line its code starts on, and its code."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start(1)) + 1, m[1]) for m in _FENCE.finditer(text)]


def _excerpt_of(code: str) -> Path | None:
    """The generated module this block is copied from, if any."""
    for path in sorted(GENERATED.glob("*.py")):
        if code in path.read_text(encoding="utf-8"):
            return path
    return None


BLOCKS = python_blocks()


def test_the_readme_has_python_snippets_of_each_kind() -> None:
    kinds = {
        "session" if ">>> " in code else "excerpt" if _excerpt_of(code) else "script"
        for _, code in BLOCKS
    }
    assert kinds == {"session", "excerpt", "script"}


@pytest.mark.parametrize(
    ("line", "code"), [b for b in BLOCKS if ">>> " in b[1]], ids=lambda v: f"line {v}"
)
def test_readme_session_runs_as_shown(
    line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    parser = doctest.DocTestParser()
    test = parser.get_doctest(code, {}, f"README.md:{line}", str(README), line - 1)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)
    failures: list[str] = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)
    assert runner.tries > 0


@pytest.mark.parametrize(
    ("line", "code"),
    [b for b in BLOCKS if ">>> " not in b[1] and _excerpt_of(b[1])],
    ids=lambda v: f"line {v}",
)
def test_readme_excerpt_is_the_generated_code(line: int, code: str) -> None:
    from symbackprop.codegen import load_module

    path = _excerpt_of(code)
    assert path is not None
    source = path.read_text(encoding="utf-8")
    original, patched = load_module(source, path.stem), load_module(source, path.stem)
    exec(compile(code, f"README.md:{line}", "exec"), vars(patched))  # noqa: S102 - our README
    params = original.init_params(seed=1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, original.LAYER_SIZES[0]))
    Y = np.abs(rng.normal(size=(5, original.LAYER_SIZES[-1])))
    Y /= Y.sum(axis=1, keepdims=True)  # a distribution per row fits every loss
    expected, got = original.gradients(params, X, Y), patched.gradients(params, X, Y)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name])


@pytest.mark.parametrize(
    ("line", "code"),
    [b for b in BLOCKS if ">>> " not in b[1] and not _excerpt_of(b[1])],
    ids=lambda v: f"line {v}",
)
def test_readme_script_runs(line: int, code: str, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"README.md line {line}:\n{done.stderr}"
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr


# ---------------------------------------------------------------- API names in the prose

_SPAN = re.compile(r"`([^`\n]+(?:\n[^`\n]+)?)`")
_CALL = re.compile(r"^(symbackprop(?:\.\w+)+)\(")
_FROM = re.compile(r"^from (symbackprop(?:\.\w+)*) import (\w+(?:, \w+)*)$")


def _prose() -> str:
    """The README without its fenced blocks."""
    return re.sub(r"^```.*?^```$", "", README.read_text(encoding="utf-8"), flags=re.M | re.S)


def _mentions() -> list[str]:
    return [m[1] for m in _SPAN.finditer(_prose()) if _CALL.match(m[1]) or _FROM.match(m[1])]


def test_the_prose_names_python_api() -> None:
    mentions = _mentions()
    assert "symbackprop.gradcheck(network)" in mentions
    assert any(m.startswith("symbackprop.verify.verify(") for m in mentions)


#: Run in a fresh interpreter, as a reader's first lines would be: `import symbackprop` (or
#: `import symbackprop.x`), then the dotted name; prints whether it is a callable, not a module.
PROBE = (
    "import importlib, sys, types\n"
    "kind, path, names = sys.argv[1], sys.argv[2], sys.argv[3:]\n"
    "if kind == 'call':\n"
    "    value = importlib.import_module('symbackprop')\n"
    "    for part in path.split('.')[1:]:\n"
    "        value = getattr(value, part)\n"
    "    print(callable(value) and not isinstance(value, types.ModuleType))\n"
    "else:\n"
    "    module = importlib.import_module(path)\n"
    "    print(all(hasattr(module, name) for name in names))\n"
)


@pytest.mark.parametrize("mention", _mentions())
def test_each_api_the_prose_names_works_as_written(mention: str) -> None:
    """`symbackprop.a.b(...)`: reachable right after `import symbackprop`, and callable;
    `from symbackprop.x import y`: importable."""
    call, found = _CALL.match(mention), _FROM.match(mention)
    if call:
        args = ["call", call[1]]
    else:
        assert found is not None
        args = ["from", found[1], *found[2].split(", ")]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip() == "True", f"{mention}: {done.stdout}{done.stderr}"


# ---------------------------------------------------------------- results print as the CLI does


_RIGHT = r"(a^{(L)} - y) \cdot \sigma'(z^{(L)}) \cdot a^{(L-1)}"


@pytest.mark.parametrize(
    "equation",
    [rf"\frac{{\partial E}}{{\partial w^{{(L)}}}} = {f}{_RIGHT}" for f in ("2", "")],
    ids=["holds", "factor-missing"],
)
def test_a_verdict_prints_what_verify_prints(
    equation: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import symbackprop
    from symbackprop import cli

    verdict = symbackprop.verify.verify(symbackprop.load_spec("seed_chain"), equation)
    cli.main(["verify", "seed_chain", equation])
    assert capsys.readouterr().out == f"{verdict}\n"
