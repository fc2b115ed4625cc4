"""The command line on bad input: exit status 2, one line on stderr, no traceback, and the
output file (`-o`) left exactly as it was.

A few cases run `python -m symbackprop` in a subprocess (the real thing: imports, exit
status, stderr); the rest call `symbackprop.cli.main` in-process, which returns the status.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symbackprop import cli
from symbackprop.spec import examples

ERROR_PREFIX = "symbackprop: error: "
#: What the output file holds before each run: odd bytes, so any rewrite would show.
BEFORE = b"previous output\r\n\x00\xff keep me\n"

VALID = """\
name = "net"
inputs = 2
loss = "squared_error"

[[layers]]
units = 3
activation = "tanh"

[[layers]]
units = 1
activation = "sigmoid"
"""


def variant(old: str, new: str) -> str:
    """VALID with one piece of text replaced (which must be there)."""
    assert old in VALID
    return VALID.replace(old, new, 1)


def custom_act(expr: str, name: str = "c") -> str:
    return variant(
        'activation = "tanh"', f"activation = {{ expr = {toml(expr)}, name = {toml(name)} }}"
    )


def toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_one_error_line(stderr: str, *needles: str) -> str:
    """stderr is exactly one non-empty line, `symbackprop: error: ...`, with each needle."""
    assert stderr.endswith("\n"), repr(stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line, got {stderr!r}"
    line = lines[0]
    assert line.startswith(ERROR_PREFIX) and len(line) > len(ERROR_PREFIX), line
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    return line


def run_cli(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    return done, time.perf_counter() - start


# ---------------------------------------------------------------- subprocess: the real command

MARKER = "PWNED_MARKER"
SHELL = f"__import__('os').system('touch {MARKER}')"

SUBPROCESS_CASES: list[tuple[str, str | bytes, list[str]]] = [
    # (id, spec file content, needles for the error line besides the file name)
    ("toml-syntax", variant("inputs = 2", "inputs = = 2"), [":2:10:", "invalid TOML"]),
    ("missing-field", variant('loss = "squared_error"\n', ""), ["loss", "missing"]),
    ("units-zero", variant("units = 3", "units = 0"), ["layers[0]", "units"]),
    ("units-bool", variant("units = 3", "units = true"), ["layers[0]", "units", "boolean"]),
    ("units-float", variant("units = 3", "units = 2.5"), ["layers[0]", "units", "2.5"]),
    ("unknown-activation", variant('"sigmoid"', '"sigmiod"'), ["layers[1]", "'sigmoid'"]),
    ("unknown-field", variant("units = 3", "unit = 3"), ["layers[0]", "'unit'", "'units'"]),
    ("softmax-hidden", variant('"tanh"', '"softmax"'), ["layers[0]", "softmax"]),
    ("cross-entropy", variant('"squared_error"', '"cross_entropy"'), ["loss", "softmax"]),
    ("unknown-symbol", custom_act("z + w"), ["layers[0]", "activation.expr", "'w'"]),
    ("power-tower", custom_act("z**(10**10**10)"), ["layers[0]", "activation.expr", "too large"]),
    ("too-deep", custom_act("(" * 200 + "z" + ")" * 200), ["activation.expr", "nested"]),
    ("not-differentiable", custom_act("0**z"), ["layers[0]", "differentiate"]),
    ("name-not-identifier", variant('name = "net"', 'name = "my-net"'), ["name", "identifier"]),
    ("empty", b"", ["empty"]),
    ("not-utf8", VALID.replace('"net"', '"n\xe9t"').encode("latin-1"), ["UTF-8"]),
    ("inject-expr", custom_act(SHELL), ["activation.expr"]),
    ("inject-name", variant('name = "net"', f"name = {toml(SHELL)}"), ["name"]),
    ("inject-activation", variant('"sigmoid"', toml(SHELL)), ["layers[1]", "activation"]),
    ("inject-loss", variant('"squared_error"', f"{{ expr = {toml(SHELL)} }}"), ["loss.expr"]),
]


@pytest.mark.parametrize(
    ("content", "needles"),
    [case[1:] for case in SUBPROCESS_CASES],
    ids=[case[0] for case in SUBPROCESS_CASES],
)
def test_bad_spec_in_subprocess(tmp_path: Path, content: str | bytes, needles: list[str]) -> None:
    spec = tmp_path / "bad.toml"
    if isinstance(content, bytes):
        spec.write_bytes(content)
    else:
        spec.write_text(content, encoding="utf-8")
    out = tmp_path / "out.tex"
    out.write_bytes(BEFORE)
    before = sorted(p.name for p in tmp_path.iterdir())

    done, elapsed = run_cli("derive", str(spec), "-o", str(out), cwd=tmp_path)

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    check_one_error_line(done.stderr, f"{ERROR_PREFIX}{spec}:", *needles)
    assert out.read_bytes() == BEFORE
    assert not (tmp_path / MARKER).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no temporary files left
    assert elapsed < 30  # refused at once, nothing huge computed


def test_valid_run_writes_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.txt"
    out.write_bytes(BEFORE)
    done, _ = run_cli("derive", "seed_chain", "--format", "text", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    assert cli.main(["derive", "seed_chain", "--format", "text"]) == 0
    printed = capsys.readouterr().out
    assert "seed_chain" in printed
    assert out.read_text(encoding="utf-8") == printed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_output_in_missing_directory(tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "dir" / "out.txt"
    done, _ = run_cli("derive", "seed_chain", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    check_one_error_line(done.stderr, str(out), "cannot write")
    assert list(tmp_path.iterdir()) == []


def test_output_is_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "inside.txt").write_bytes(BEFORE)
    done, _ = run_cli("derive", "seed_chain", "-o", str(folder), cwd=tmp_path)
    assert done.returncode == 2
    check_one_error_line(done.stderr, str(folder), "directory")
    assert [p.name for p in folder.iterdir()] == ["inside.txt"]
    assert (folder / "inside.txt").read_bytes() == BEFORE


# ---------------------------------------------------------------- in-process: many more cases


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


IN_PROCESS_CASES: list[tuple[str, str, list[str]]] = [
    ("missing-inputs", variant("inputs = 2\n", ""), ["inputs", "missing"]),
    ("inputs-negative", variant("inputs = 2", "inputs = -2"), ["inputs", "-2"]),
    ("inputs-string", variant("inputs = 2", 'inputs = "2"'), ["inputs", "string"]),
    ("units-huge", variant("units = 3", "units = 9223372036854775807"), ["layers[0]", "units"]),
    ("units-table", variant("units = 3", "units = { n = 3 }"), ["layers[0]", "units", "table"]),
    ("layers-not-array", VALID.split("[[layers]]")[0] + "layers = 1\n", ["layers", "[[layers]]"]),
    ("no-layers", VALID.split("[[layers]]")[0], ["layers", "missing"]),
    ("top-level-typo", variant("inputs", "input"), ["'input'", "did you mean 'inputs'"]),
    ("loss-typo", variant('"squared_error"', '"squared_errors"'), ["loss", "'squared_error'"]),
    ("slope-on-sigmoid", variant('"sigmoid"', '{ name = "sigmoid", slope = 0.1 }'), ["slope"]),
    ("slope-bool", variant('"tanh"', '{ name = "leaky_relu", slope = false }'), ["slope"]),
    ("softmax-one-unit", variant('"sigmoid"', '"softmax"'), ["layers[1]", "softmax", "2"]),
    (
        "bce-identity",
        variant('"sigmoid"', '"identity"').replace('"squared_error"', '"binary_cross_entropy"'),
        ["loss", "identity"],
    ),
    (
        "two-unnamed-custom",
        variant('"tanh"', '{ expr = "z**3" }').replace('"sigmoid"', '{ expr = "z**5" }'),
        ["layers[1]", "name"],
    ),
    ("custom-builtin-name", custom_act("z**3", "relu"), ["activation.name", "built-in"]),
    ("unknown-function", custom_act("sigmoid(z)"), ["activation.expr", "'sigmoid'"]),
    ("attribute", custom_act("z.real"), ["activation.expr", "attribute"]),
    ("lambda", custom_act("(lambda q: q)(z)"), ["activation.expr"]),
    ("dunder-name", custom_act("z", "__class__"), ["activation.name", "'__'"]),
    ("too-long", custom_act("+".join(["z"] * 800)), ["activation.expr", "too long"]),
    ("huge-number", custom_act("1e999 * z"), ["activation.expr", "too large"]),
    ("huge-power", custom_act("z**99999"), ["activation.expr", "too large"]),
    ("numeric-tower", custom_act("z * 9**9**9**9"), ["activation.expr", "too large"]),
    ("complex-valued", custom_act("(-1)**z"), ["layers[0].activation", "complex"]),
    (
        "loss-no-a",
        variant('"squared_error"', '{ expr = "y" }'),
        ["loss.expr", "does not depend on a"],
    ),
    ("toml-unterminated", VALID + 'extra = "oops', ["invalid TOML", ":14:"]),
    (
        "toml-duplicate",
        variant("inputs = 2\n", "inputs = 2\ninputs = 3\n"),
        ["invalid TOML", ":3:"],
    ),
    ("toml-control-char", VALID.replace('"net"', '"n\x01t"'), ["invalid TOML", ":1:"]),
]


@pytest.mark.parametrize(
    ("content", "needles"),
    [case[1:] for case in IN_PROCESS_CASES],
    ids=[case[0] for case in IN_PROCESS_CASES],
)
def test_bad_spec_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, needles: list[str]
) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(content, encoding="utf-8")
    out = tmp_path / "out.md"
    out.write_bytes(BEFORE)
    status, printed, err = run_main(capsys, "derive", str(spec), "-o", str(out))
    assert status == 2
    assert printed == ""
    check_one_error_line(err, f"{ERROR_PREFIX}{spec}:", *needles)
    assert out.read_bytes() == BEFORE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml", "out.md"]


def test_missing_spec_lists_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("nothing_here", "nothing_here.toml"):
        status, printed, err = run_main(capsys, "derive", str(tmp_path / name))
        assert status == 2 and printed == ""
        check_one_error_line(err, name, "no such file", *examples())


def test_spec_is_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_main(capsys, "derive", str(tmp_path))
    assert status == 2
    check_one_error_line(err, str(tmp_path), "directory")


def test_spec_name_too_long(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_main(capsys, "derive", str(tmp_path / ("x" * 4000)))
    assert status == 2
    assert len(check_one_error_line(err)) < 400


@pytest.mark.parametrize("name", ["seed_chain", "classifier"])
def test_bundled_example_by_name(capsys: pytest.CaptureFixture[str], name: str) -> None:
    status, printed, err = run_main(capsys, "derive", name)
    assert status == 0, err
    assert err == ""
    assert name in printed


def test_examples_command(capsys: pytest.CaptureFixture[str]) -> None:
    status, printed, _ = run_main(capsys, "examples")
    assert status == 0
    assert printed.split() == examples()


def test_injection_runs_nothing_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    payloads = [
        SHELL,
        f"open('{MARKER}', 'w')",
        f"exec(\"open('{MARKER}', 'w')\")",
        f"(lambda: open('{MARKER}', 'w'))()",
        "z.__class__.__mro__[-1].__subclasses__()",
        "__builtins__",
    ]
    specs = []
    for payload in payloads:
        specs += [
            custom_act(payload),
            custom_act("z", payload),
            variant('name = "net"', f"name = {toml(payload)}"),
            variant('"tanh"', toml(payload)),
            variant('"squared_error"', f"{{ expr = {toml(payload)} }}"),
            variant('"squared_error"', toml(payload)),
        ]
    out = tmp_path / "out.txt"
    out.write_bytes(BEFORE)
    for number, content in enumerate(specs):
        spec = tmp_path / f"inject{number}.toml"
        spec.write_text(content, encoding="utf-8")
        status, _, err = run_main(capsys, "derive", str(spec), "-o", str(out))
        assert status == 2, content
        check_one_error_line(err, str(spec))
    assert not (tmp_path / MARKER).exists()
    assert out.read_bytes() == BEFORE


# ---------------------------------------------------------------- writing the output


def test_output_with_trailing_separator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = str(tmp_path / "newdir") + os.sep
    status, _, err = run_main(capsys, "derive", "seed_chain", "-o", target)
    assert status == 2
    check_one_error_line(err, "directory")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_old_file_and_leaves_no_temporary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.txt"
    out.write_bytes(BEFORE)

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    status, _, err = run_main(capsys, "derive", "seed_chain", "-o", str(out))
    assert status == 2
    check_one_error_line(err, str(out), "No space left on device")
    assert out.read_bytes() == BEFORE
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_overwrite_keeps_permissions(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.txt"
    out.write_bytes(BEFORE)
    out.chmod(0o640)
    assert run_main(capsys, "derive", "seed_chain", "-o", str(out))[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert out.read_bytes() != BEFORE


def test_new_file_gets_ordinary_permissions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    umask = os.umask(0o022)
    try:
        out = tmp_path / "out.txt"
        assert run_main(capsys, "derive", "seed_chain", "-o", str(out))[0] == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
    finally:
        os.umask(umask)


@pytest.mark.skipif(not hasattr(os, "symlink") or sys.platform == "win32", reason="symlinks")
def test_output_through_symlink(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = tmp_path / "real.txt"
    real.write_bytes(BEFORE)
    link = tmp_path / "link.txt"
    link.symlink_to(real.name)
    assert run_main(capsys, "derive", "seed_chain", "-o", str(link))[0] == 0
    assert link.is_symlink()
    assert "seed_chain" in real.read_text(encoding="utf-8")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_output_to_pipe_is_written_into(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A pipe stands in for /dev/null or /dev/stdout: it must be written into, not replaced
    # (a rename over /dev/null would break the machine when run as root).
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    try:
        status, _, err = run_main(capsys, "derive", "seed_chain", "-o", str(pipe))
        received = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert status == 0, err
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert b"seed_chain" in received


@pytest.mark.parametrize("command", ["derive", "generate"])
def test_empty_output_name(
    command: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    status, printed, err = run_main(capsys, command, "seed_chain", "-o", "")
    assert status == 2 and printed == ""
    check_one_error_line(err, "the output file name is empty")
    assert list(tmp_path.iterdir()) == []


def test_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    # `symbackprop examples | head -0`: the reader is gone before anything is written.
    reader, writer = os.pipe()
    os.close(reader)
    with os.fdopen(writer, "wb") as closed:
        done = subprocess.run(
            [sys.executable, "-m", "symbackprop", "examples"],
            cwd=tmp_path,
            stdout=closed,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == cli.EXIT_BROKEN_PIPE
    assert done.stderr == ""


# ---------------------------------------------------------------- issue 14's fault campaign


def run_shell(script: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """A shell line with `S` the command (for redirections Python cannot set up): status and
    stderr."""
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "S": f"{sys.executable} -m symbackprop", **(env or {})},
    )
    return done.returncode, done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_standard_output_on_a_full_device(tmp_path: Path) -> None:
    status, err = run_shell("$S derive seed_chain > /dev/full", tmp_path)
    assert status == 2
    check_one_error_line(err, "standard output", "No space left on device")


def test_standard_output_closed(tmp_path: Path) -> None:
    status, err = run_shell("$S derive seed_chain >&-", tmp_path)
    assert status == 2
    check_one_error_line(err, "standard output is closed", "-o FILE")


def test_unbuffered_short_write_is_not_dropped(tmp_path: Path) -> None:
    # ulimit -f: the write past 8 KiB is short, then EFBIG (Python ignores SIGXFSZ); with
    # PYTHONUNBUFFERED=1 the text layer used to drop the rest and exit 0.
    script = "ulimit -f 8; $S derive seed_chain --format latex > out.tex"
    status, err = run_shell(script, tmp_path, {"PYTHONUNBUFFERED": "1"})
    assert status == 2
    check_one_error_line(err, "standard output", "File too large")


def test_reader_leaving_early_is_exit_141(tmp_path: Path) -> None:
    # More than a pipe holds (64 KiB), so the write is still going when head leaves.
    spec = tmp_path / "deep.toml"
    deep = 'name = "deep"\ninputs = 1\nloss = "squared_error"\n' + (
        '[[layers]]\nunits = 3\nactivation = "tanh"\n' * 30
    )
    spec.write_text(deep, encoding="utf-8")
    status, err = run_shell(
        "$S derive deep.toml --format latex | head -c 10 > /dev/null; exit ${PIPESTATUS[0]}",
        tmp_path,
    )
    assert (status, err) == (cli.EXIT_BROKEN_PIPE, "")


def test_c_locale_writes_utf8(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop", "derive", "seed_chain"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        env={**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""},
    )
    assert done.returncode == 0, done.stderr
    assert "σ".encode() in done.stdout


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["check", "xor", "--seed", "-1"], ["--seed", "0 or more", "-1"]),
        (["verify", "seed_chain", "E = 1", "--seed", "-5"], ["--seed", "0 or more", "-5"]),
        (["verify", "seed_chain", "E = " + "9" * 4301], ["4300 digits"]),
    ],
    ids=["check-seed", "verify-seed", "verify-4301-digits"],
)
def test_bad_numbers_are_one_line(
    argv: list[str], needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, printed, err = run_main(capsys, *argv)
    assert status == 2 and printed == ""
    check_one_error_line(err, *needles)


WIDE = variant("units = 3", "units = 1000000").replace(
    "[[layers]]\nunits = 1\n",
    "[[layers]]\nunits = 1000000\nactivation = 'tanh'\n\n[[layers]]\nunits = 1\n",
)


@pytest.mark.parametrize("command", ["check", "train"])
def test_a_network_too_large_for_memory_is_refused(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "wide.toml"
    spec.write_text(WIDE, encoding="utf-8")
    extra = ["--data", "xor"] if command == "train" else []
    status, _, err = run_main(capsys, command, str(spec), *extra)
    assert status == 2
    check_one_error_line(err, "wide.toml", "1,000,005,000,001 weights and biases", "5,000,000")


def test_self_check_on_1024_layers_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "deep.toml"
    deep = 'name = "deep"\ninputs = 1\nloss = "squared_error"\n' + (
        '[[layers]]\nunits = 1\nactivation = "tanh"\n' * 1024
    )
    spec.write_text(deep, encoding="utf-8")
    status, printed, err = run_main(capsys, "derive", str(spec), "--self-check")
    assert status == 2 and printed == ""
    check_one_error_line(err, "--self-check", "at most")
