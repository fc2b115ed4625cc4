"""Every command's --help shows examples, and every example runs as printed (exit status 0)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop import __version__, cli

COMMANDS = list(cli.COMMANDS)  # every command's --help, examples run as printed
#: Python words a person reading help should never meet.
JARGON = re.compile(r"\b(NoneType|dict|str|int|float|bool|tuple|Traceback|[A-Z]\w*Error)\b")


@pytest.fixture(autouse=True)
def _terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal's width


def help_text(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as done:
        cli.main([*args, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


def examples_in(text: str) -> list[str]:
    """The commands after 'Example:' or under 'Examples:', with their continuation lines."""
    commands: list[str] = []
    lines = text.splitlines()
    for number, line in enumerate(lines):
        if line.startswith("Example: "):
            commands.append(line.removeprefix("Example: "))
        elif line == "Examples:":
            block = []
            for following in lines[number + 1 :]:
                if not following.startswith("  "):
                    break
                block.append(following.strip())
            joined: list[str] = []
            for part in block:
                if joined and joined[-1].endswith("\\"):
                    joined[-1] += "\n    " + part  # as pasted: backslash, newline, indent
                else:
                    joined.append(part)
            commands += joined
    return commands


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_has_examples_of_the_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, *([command] if command else []))
    found = examples_in(text)
    assert found, f"no 'Example:' or 'Examples:' in {command or 'symbackprop'} --help"
    own = f"symbackprop {command}".strip()
    assert any(own in example for example in found), found
    assert not JARGON.search(text), JARGON.search(text)
    assert "%(" not in text and max(len(line) for line in text.splitlines()) <= 100


@pytest.mark.skipif(shutil.which("bash") is None, reason="the examples are shell commands")
@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_example_runs(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = examples_in(help_text(capsys, *([command] if command else [])))
    if any("--plot" in example for example in found):
        pytest.importorskip("matplotlib")
    env = {**os.environ, "SYMBACKPROP_PYTHON": sys.executable, "PYTHONIOENCODING": "utf-8"}
    shim = 'symbackprop() { "$SYMBACKPROP_PYTHON" -m symbackprop "$@"; }\n'
    for example in found:  # in order, in one folder: a later one may read an earlier one's file
        done = subprocess.run(
            ["bash", "-c", f"set -o pipefail\n{shim}{example}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert done.returncode == 0, f"{example}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        assert done.stdout or list(tmp_path.iterdir()), f"{example} did nothing visible"


def test_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"symbackprop {__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", __version__)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "xor", "--data", "xor", "--lr", "fast"], "--lr: expected a number, got 'fast'"),
        (["train", "xor", "--data", "xor", "--epochs", "1.5"], "expected a whole number"),
        (["check", "xor", "--seed", "one"], "--seed: expected a whole number, got 'one'"),
        (["gd", "w**2", "--start", "1", "--lr", "0.1", "--steps", "x"], "expected a whole number"),
    ],
)
def test_bad_numbers_are_named_in_words(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(args)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and "invalid" not in err and "float" not in err and "int " not in err
