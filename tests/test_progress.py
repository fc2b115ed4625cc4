"""Progress lines: drawn on a terminal's stderr, never in a pipe, never under CI."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from symbackprop import cli
from symbackprop.progress import Progress

pty = pytest.importorskip("pty", reason="pseudo-terminals are POSIX only")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _not_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)


def test_progress_draws_in_place_and_ends_its_line() -> None:
    terminal = _Terminal()
    with Progress(terminal) as progress:
        progress("epoch", 0, 4, "loss 1")
        progress("epoch", 1, 4, "loss 0.5")  # within 0.1 s of the last: skipped
        progress("epoch", 4, 4, "loss 0.25")  # the last is always drawn
    assert terminal.getvalue() == (
        "\repoch 0/4 [..............................] loss 1"
        "\repoch 4/4 [##############################] loss 0.25\n"
    )


def test_transient_progress_erases_itself() -> None:
    terminal = _Terminal()
    with Progress(terminal, keep=False) as progress:
        progress("deriving layer", 1, 3)
        progress("printing equation", 2, 40)  # a new stage is drawn at once
    shown = terminal.getvalue()
    assert "\rderiving layer 1/3 [##########....................]" in shown
    assert "\rprinting equation  2/40 [#...." in shown
    *_, last, blank, end = shown.split("\r")
    assert last.startswith("printing") and blank == " " * len(last) and end == ""


def test_quiet_in_a_pipe_and_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    with Progress(pipe) as progress:
        progress("epoch", 1, 1)
    assert pipe.getvalue() == ""
    monkeypatch.setenv("CI", "true")
    terminal = _Terminal()
    with Progress(terminal) as progress:
        progress("epoch", 1, 1)
    assert terminal.getvalue() == ""


def test_long_lines_are_cut_to_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    terminal = _Terminal()
    Progress(terminal)("a long description of the work", 1, 2, "and a long note too")
    assert terminal.getvalue() == "\r" + "a long description of the work 1/2 [###"[:39]


@pytest.mark.parametrize(
    ("args", "what"),
    [(["derive", "seed_chain"], "deriving layer"), (["check", "xor"], "checking entry")],
)
def test_commands_show_progress_only_on_a_terminal(
    args: list[str], what: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYMBACKPROP_NO_CACHE", "1")  # a repeat would be served, with no work
    assert cli.main(args) == 0
    piped = capsys.readouterr()
    assert piped.err == ""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(args) == 0
    assert capsys.readouterr().out == piped.out, "the results are the same"
    shown = terminal.getvalue()
    assert f"\r{what} " in shown and shown.endswith("\r")
    if args[0] == "derive":
        assert "\rprinting equation " in shown


def _run_on_a_terminal(args: list[str], cwd: Path, **env: str) -> tuple[str, str, int]:
    """Run the CLI with stderr on a pseudo-terminal and stdout on a pipe."""
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "CI"}
    environment["SYMBACKPROP_NO_CACHE"] = "1"  # progress is drawn for work, not for a repeat
    environment.update(PYTHONIOENCODING="utf-8", COLUMNS="100", **env)
    with subprocess.Popen(
        [sys.executable, "-m", "symbackprop", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=environment,
    ) as process:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # Linux: EIO once the child has closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert process.stdout is not None
        out = process.stdout.read()
        status = process.wait(timeout=120)
    os.close(controller)
    return shown.decode("utf-8"), out.decode("utf-8"), status


def test_derive_on_a_real_terminal(tmp_path: Path) -> None:
    shown, out, status = _run_on_a_terminal(["derive", "seed_chain"], tmp_path)
    assert status == 0
    assert "deriving layer 3/3 [" in shown and "printing equation 47/47 [" in shown
    assert "Traceback" not in shown
    piped = subprocess.run(
        [sys.executable, "-m", "symbackprop", "derive", "seed_chain"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "CI"},
        check=False,
    )
    assert piped.returncode == 0 and piped.stderr == "", "nothing extra in a pipe"
    assert out == piped.stdout


def test_ci_keeps_a_terminal_quiet(tmp_path: Path) -> None:
    shown, out, status = _run_on_a_terminal(["derive", "seed_chain"], tmp_path, CI="true")
    assert status == 0 and shown == "" and "Back-propagation for seed_chain" in out
