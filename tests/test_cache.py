"""The repeat cache (symbackprop.cache): a second derive, generate, check or train of the same
network reuses the answer without deriving, prints exactly what an uncached run prints, and a
bad entry, --no-cache, SYMBACKPROP_NO_CACHE or an unusable folder only mean deriving again.

The oracle for every output is the same command run with --no-cache (the code path that has
no cache in it); "did not derive" is seen by a spy in place of symbackprop.derive.derive.
"""

from __future__ import annotations

import importlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from symbackprop import cache, cli

#: The module (the package's name `derive` is the function).
derive_module = importlib.import_module("symbackprop.derive")

ROOT = Path(__file__).resolve().parent.parent

CUSTOM = """\
name = "custom"
inputs = 2
loss = "squared_error"

[[layers]]
units = 3
activation = { expr = "z / (1 + abs(z))", name = "softsign" }

[[layers]]
units = 1
activation = "sigmoid"
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache folder, the cache on."""
    where = tmp_path / "cache"
    monkeypatch.setenv(cache.DIR_VARIABLE, str(where))
    monkeypatch.delenv(cache.OFF_VARIABLE, raising=False)
    return where


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the networks derived while the test runs (the real derive still runs)."""
    seen: list[str] = []
    real = derive_module.derive

    def spy(network: Any, **kwargs: Any) -> Any:
        seen.append(network.name)
        return real(network, **kwargs)

    monkeypatch.setattr(derive_module, "derive", spy)
    return seen


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = cli.main(list(args))
    return status, capsys.readouterr().out


def entries(where: Path) -> list[Path]:
    return sorted(where.glob("*.json")) if where.is_dir() else []


@pytest.mark.parametrize("fmt", ["text", "latex", "markdown", "html"])
def test_a_repeated_derive_does_not_derive_and_prints_the_same(
    fmt: str,
    folder: Path,
    derivations: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = run(capsys, "derive", "seed_chain", "--format", fmt)
    assert derivations == ["seed_chain"] and len(entries(folder)) == 1
    second = run(capsys, "derive", "seed_chain", "--format", fmt)
    assert derivations == ["seed_chain"]  # not derived again
    uncached = run(capsys, "derive", "seed_chain", "--format", fmt, "--no-cache")
    assert derivations == ["seed_chain", "seed_chain"]
    assert first == second == uncached and first[0] == 0


def test_a_custom_spec_file_repeats_and_the_options_make_their_own_entries(
    tmp_path: Path, folder: Path, derivations: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "custom.toml"
    spec.write_text(CUSTOM, encoding="utf-8")
    out = tmp_path / "custom.tex"
    assert run(capsys, "derive", str(spec), "--views", "vector", "-o", str(out))[0] == 0
    written = out.read_bytes()
    out.unlink()
    assert run(capsys, "derive", str(spec), "--views", "vector", "-o", str(out))[0] == 0
    assert out.read_bytes() == written and len(derivations) == 1
    other = run(capsys, "derive", str(spec), "--views", "index", "--format", "latex")
    assert len(derivations) == 2 and len(entries(folder)) == 2
    assert other == run(capsys, "derive", str(spec), "--views", "index", "--format", "latex")
    assert len(derivations) == 2


@pytest.mark.parametrize(
    "args",
    [["derive", "xor", "--format", "markdown"], ["verify", "seed_chain", "E = (a^{(L)} - y)^2"]],
    ids=lambda args: args[0],
)
def test_a_repeat_imports_no_sympy(args: list[str], folder: Path) -> None:
    probe = (
        "import sys\n"
        "from symbackprop.cli import main\n"
        f"status = main({args!r})\n"
        "print('HEAVY', sorted(m for m in ('sympy', 'numpy', 'lark', 'jinja2') if m in "
        "sys.modules), status)\n"
    )
    env = {**os.environ, cache.DIR_VARIABLE: str(folder)}
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        *document, last = done.stdout.splitlines()
        outputs.append((document, last))
    assert "'sympy'" in outputs[0][1]  # the first run worked it out
    assert outputs[1][1] == "HEAVY [] 0"
    assert outputs[0][0] == outputs[1][0]


def test_two_files_of_one_network_share_the_module_and_check_and_train_reuse_it(
    tmp_path: Path, folder: Path, derivations: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(CUSTOM, encoding="utf-8")
    b.write_text("# the same network, laid out otherwise\n" + CUSTOM.replace(" = ", "="), "utf-8")
    assert run(capsys, "generate", str(a), "-o", str(tmp_path / "a.py"))[0] == 0
    assert run(capsys, "generate", str(b), "-o", str(tmp_path / "b.py"))[0] == 0
    assert derivations == ["custom"]
    assert (tmp_path / "a.py").read_bytes() == (tmp_path / "b.py").read_bytes()
    checked = run(capsys, "check", str(b), "--seed", "3")
    trained = run(capsys, "train", str(a), "--data", "xor", "--epochs", "7")
    assert derivations == ["custom"]
    assert checked == run(capsys, "check", str(b), "--seed", "3", "--no-cache")
    assert trained == run(capsys, "train", str(a), "--data", "xor", "--epochs", "7", "--no-cache")
    assert checked[0] == 0 and trained[0] == 0
    uncached = run(capsys, "generate", str(a), "-o", str(tmp_path / "c.py"), "--no-cache")
    assert uncached[0] == 0 and derivations == ["custom"] * 4
    assert (tmp_path / "c.py").read_bytes() == (tmp_path / "a.py").read_bytes()


def _rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    entry = json.loads(path.read_text(encoding="utf-8"))
    change(entry)
    path.write_text(json.dumps(entry), encoding="utf-8")


def _resigned(entry: dict[str, Any], text: str) -> None:
    """The entry's text replaced, its own digest made to match (the module's cannot)."""
    import hashlib

    entry["text"] = text
    entry["sha256"] = hashlib.sha256(text.encode("utf-8")).hexdigest()


BREAKAGES: dict[str, Callable[[Path], None]] = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "empty": lambda p: p.write_bytes(b""),
    "not json": lambda p: p.write_bytes(b"\x80\x81 not json"),
    "a list": lambda p: p.write_text("[1, 2]"),
    "text changed": lambda p: _rewrite(p, lambda e: e.update(text=e["text"] + "x")),
    "other schema": lambda p: _rewrite(p, lambda e: e.update(schema="symbackprop-cache/0")),
    "extra field": lambda p: _rewrite(p, lambda e: e.update(code="print(1)")),
    "other key": lambda p: _rewrite(p, lambda e: e.update(key="0" * 64)),
    "bad meta": lambda p: _rewrite(p, lambda e: e.update(meta={"kinked": [1.5]})),
    "module edited, digest redone": lambda p: _rewrite(
        p, lambda e: _resigned(e, e["text"].replace("def forward", "def forward_"))
    ),
    "a link": lambda p: (p.rename(p.with_suffix(".real")), p.symlink_to(p.with_suffix(".real"))),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_bad_entry_is_ignored_and_rebuilt(
    breakage: str,
    tmp_path: Path,
    folder: Path,
    derivations: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = str(tmp_path / "x.py")
    good = run(capsys, "generate", "xor", "-o", target, "--force")
    first = Path(target).read_bytes()
    (entry,) = entries(folder)
    BREAKAGES[breakage](entry)
    assert run(capsys, "generate", "xor", "-o", target, "--force") == good
    assert Path(target).read_bytes() == first
    assert derivations == ["xor", "xor"]  # derived again
    assert run(capsys, "generate", "xor", "-o", target, "--force") == good
    assert derivations == ["xor", "xor"]  # the rebuilt entry is used


def test_another_users_entry_or_folder_is_not_used(
    folder: Path,
    derivations: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = run(capsys, "derive", "seed_chain")
    assert (stat.S_IMODE(folder.stat().st_mode)) == 0o700
    me = os.geteuid()
    monkeypatch.setattr(os, "geteuid", lambda: me + 1)  # the entry and folder now are not ours
    assert run(capsys, "derive", "seed_chain") == first
    assert derivations == ["seed_chain", "seed_chain"]
    assert len(entries(folder)) == 1  # nothing written into a folder not ours


@pytest.mark.parametrize("how", ["--no-cache", "SYMBACKPROP_NO_CACHE=1"])
def test_turned_off_the_cache_is_neither_read_nor_written(
    how: str,
    folder: Path,
    derivations: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = [how] if how.startswith("--") else []
    if not extra:
        monkeypatch.setenv(cache.OFF_VARIABLE, "1")
    outputs = [run(capsys, "derive", "multi_node", *extra) for _ in range(2)]
    assert derivations == ["multi_node", "multi_node"] and not entries(folder)
    monkeypatch.delenv(cache.OFF_VARIABLE, raising=False)
    assert run(capsys, "derive", "multi_node") == outputs[0] == outputs[1]


def test_an_unusable_folder_only_turns_the_cache_off(
    tmp_path: Path,
    derivations: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cache.DIR_VARIABLE, str(blocker / "cache"))
    assert run(capsys, "derive", "seed_chain")[0] == 0
    assert run(capsys, "derive", "seed_chain")[0] == 0
    assert derivations == ["seed_chain", "seed_chain"]
    assert capsys.readouterr().err == ""


def test_a_hit_still_refuses_to_overwrite_its_input(
    tmp_path: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "net.toml"
    spec.write_text(CUSTOM, encoding="utf-8")
    assert run(capsys, "derive", str(spec), "--format", "latex")[0] == 0
    assert cli.main(["derive", str(spec), "--format", "latex", "-o", str(spec)]) == 2
    assert spec.read_text(encoding="utf-8") == CUSTOM


def test_the_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.DIR_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/xdg")
    assert cache.directory() == Path("/somewhere/xdg/symbackprop")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.directory() == Path.home() / ".cache" / "symbackprop"
    monkeypatch.setenv(cache.DIR_VARIABLE, "/elsewhere")
    assert cache.directory() == Path("/elsewhere")


def test_the_cache_repeats_the_spec_readers_limit() -> None:
    from symbackprop.spec import MAX_SPEC_BYTES

    assert cache.MAX_SPEC_BYTES == MAX_SPEC_BYTES


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The specs `symbackprop.verify.run` judged equations on while the test runs."""
    package = importlib.import_module("symbackprop.verify")
    seen: list[str] = []
    real = package.run

    def spy(args: Any) -> int:
        seen.append(args.spec)
        return int(real(args))

    monkeypatch.setattr(package, "run", spy)
    return seen


@pytest.mark.parametrize(
    ("equation", "status"), [("E = (a^{(L)} - y)^2", 0), ("E = (a^{(L)} - y)^3", 1)]
)
def test_a_repeated_verify_prints_the_stored_verdict(
    equation: str,
    status: int,
    folder: Path,
    verifications: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = run(capsys, "verify", "seed_chain", equation)
    assert run(capsys, "verify", "seed_chain", equation) == first
    assert verifications == ["seed_chain"] and first[0] == status
    assert run(capsys, "verify", "seed_chain", equation, "--no-cache") == first
    assert run(capsys, "verify", "seed_chain", equation, "--seed", "1")[0] == status
    assert len(verifications) == 3  # --no-cache, and another seed is another entry


def test_a_verify_file_is_keyed_by_its_bytes_and_stdin_is_not_cached(
    tmp_path: Path,
    folder: Path,
    verifications: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io

    tex = tmp_path / "mine.tex"
    tex.write_text("E = (a^{(L)} - y)^2\n", encoding="utf-8")
    first = run(capsys, "verify", "seed_chain", "--file", str(tex), "--json")
    assert run(capsys, "verify", "seed_chain", "--file", str(tex), "--json") == first
    assert len(verifications) == 1 and json.loads(first[1])["exit"] == 0
    tex.write_text("E = (a^{(L)} - y)^3\n", encoding="utf-8")
    changed = run(capsys, "verify", "seed_chain", "--file", str(tex), "--json")
    assert len(verifications) == 2 and changed[0] == 1
    for _ in range(2):
        monkeypatch.setattr(sys, "stdin", io.StringIO("E = (a^{(L)} - y)^2\n"))
        assert run(capsys, "verify", "seed_chain", "-")[0] == 0
    assert len(verifications) == 4


def test_an_edited_module_or_template_is_another_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkout edited under the same version number does not reuse old answers."""
    package, templates = tmp_path / "symbackprop", tmp_path / "templates"
    package.mkdir()
    templates.mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (package / "cache.py").write_text("# a stand-in\n")
    (templates / "page.jinja").write_text("{{ x }}\n")
    monkeypatch.setattr(cache, "__file__", str(package / "cache.py"))
    keys = [cache.key("derive", "seed_chain", {}, shown=True)]
    (templates / "page.jinja").write_text("{{ y }}!\n")
    keys.append(cache.key("derive", "seed_chain", {}, shown=True))
    (package / "derive.py").write_text("")
    keys.append(cache.key("derive", "seed_chain", {}, shown=True))
    keys.append(cache.key("derive", "seed_chain", {}, shown=True))
    assert None not in keys and len(set(keys)) == 3 and keys[2] == keys[3]
