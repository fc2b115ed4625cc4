"""The command line starts without SymPy, NumPy, lark or Jinja (issue 14); the package's names
load on first use; the command modules all have one shape; one exit-code table; and no module
of symbackprop is in an import circle."""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from symbackprop import cli
from symbackprop.cli import exits

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "symbackprop"
HEAVY = ("sympy", "numpy", "lark", "jinja2")
#: Runs `python -m symbackprop ARGS` in a fresh interpreter, then prints (last line, JSON) which
#: heavy packages it loaded.
PROBE = (
    "import json, runpy, sys\n"
    "sys.argv = ['symbackprop', *json.loads(sys.argv[1])]\n"
    "try:\n"
    "    runpy.run_module('symbackprop', run_name='__main__', alter_sys=True)\n"
    "except SystemExit:\n"
    "    pass\n"
    f"heavy = {HEAVY!r}\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
)


def heavy_modules_loaded(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert "Traceback" not in done.stderr, done.stderr
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        [],
        ["nonsense"],
        ["examples"],
        *[[name, "--help"] for name in cli.COMMANDS],
        ["verify", "seed_chain", "--seed", "one"],
        ["derive"],  # a missing argument
        ["derive", "seed_chain", "--format", "pdf"],
        ["check", "xor", "--seed", "one"],
        ["train", "xor", "--data", "xor", "--lr", "fast"],
        ["gd"],
        ["gd", "(w+5)**2", "--start", "3", "--lr", "0.02"],  # --steps missing
        ["gd", "(w+5)**2", "--start", "3", "--lr", "fast", "--steps", "5"],
        ["gd", "(w+5)**2", "--start", "3", "--lr", "0.02", "--steps", "many"],
    ],
    ids=" ".join,
)
def test_light_commands_load_no_heavy_package(args: list[str]) -> None:
    assert heavy_modules_loaded(*args) == []


def test_examples_lists_what_the_spec_reader_finds(capsys: pytest.CaptureFixture[str]) -> None:
    from symbackprop.spec import examples

    assert cli.main(["examples"]) == 0
    assert capsys.readouterr().out.split() == examples()


def test_the_light_parsers_state_what_the_modules_do() -> None:
    """The few facts the parsers repeat so as not to import their modules."""
    from symbackprop.cli import check, derive, gd, train, verify
    from symbackprop.data import bundled
    from symbackprop.gd.engine import MAX_STEPS
    from symbackprop.gradcheck import DIRECTIONAL_ABOVE
    from symbackprop.render import Format
    from symbackprop.verify import judge

    assert get_args(Format) == derive.FORMATS
    assert check.DIRECTIONAL_ABOVE == DIRECTIONAL_ABOVE
    assert gd.MAX_STEPS == MAX_STEPS
    assert list(train.BUNDLED_DATA) == bundled()
    assert (verify.POINTS, verify.TOLERANCE) == (judge.POINTS, judge.TOLERANCE)


def _listed_help(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {action.dest: action.help for action in commands._choices_actions}


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_every_command_module_has_one_shape(name: str) -> None:
    """HELP, register(commands) and run(args); the line --help lists for a command is the
    same whether or not that command is the one registered in full."""
    module = cli.command_module(name)
    assert callable(module.register) and callable(module.run)
    assert _listed_help(cli.parser())[name] == module.HELP
    assert _listed_help(cli.parser(name))[name] == module.HELP


def test_readme_lists_exactly_the_exit_codes() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", section, flags=re.MULTILINE)
    assert [int(status) for status, _ in rows] == sorted(exits.MEANINGS)
    for status, meaning in rows:
        assert meaning.startswith(exits.MEANINGS[int(status)]), (status, meaning)


def test_the_help_states_the_exit_table(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert exits.status_line() in capsys.readouterr().out
    assert exits.status_line() == "Exit status: 0 done, 1 a check failed, 2 bad input."


def test_every_public_name_loads_and_stays_the_function() -> None:
    """`symbackprop.derive` is the function, even once the module symbackprop.derive has been
    imported (which would otherwise bind the module to that attribute)."""
    import symbackprop.derive
    import symbackprop.gradcheck
    import symbackprop.render

    for name in symbackprop.__all__:
        value = getattr(symbackprop, name)
        assert not isinstance(value, type(symbackprop)), name
        assert name in dir(symbackprop)
    assert callable(symbackprop.derive) and callable(symbackprop.render)
    assert symbackprop.spec.load_spec is symbackprop.load_spec  # submodules too, on first use
    with pytest.raises(AttributeError):
        _ = symbackprop.no_such_name


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = (
        "import sys, symbackprop\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


# ---------------------------------------------------------------- no import circle


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The symbackprop modules `path` imports when run: at module level and inside functions,
    but not under `if TYPE_CHECKING:`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", "") == "TYPE_CHECKING":
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, *([child.module] if child.module else [])])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    resolved = set()
    for target in found:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


def test_no_module_is_in_an_import_circle() -> None:
    """ir displays a Derivation through render (imported inside the method), and render and
    naming read ir's classes for type hints only; this checks that holds, package-wide."""
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path, name, set(paths)) for name, path in paths.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def walk(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                circle = [*path[path.index(target) :], target]
                pytest.fail("import circle: " + " -> ".join(circle))
            if target not in state:
                walk(target, [*path, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert "symbackprop.render" in graph["symbackprop.ir"]  # the display methods' import
    assert "symbackprop.ir" not in graph["symbackprop.render"] | graph["symbackprop.naming"]


def test_every_kind_has_a_tag_letter() -> None:
    from symbackprop.ir import Kind
    from symbackprop.naming import KIND_CODES

    assert set(KIND_CODES) == set(get_args(Kind))
