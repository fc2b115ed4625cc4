"""Render the README's pictures into docs/images/.

    python scripts/slide_png.py                     # both pictures
    python scripts/slide_png.py slide [--example classifier] [--tag V1.d]
    python scripts/slide_png.py gd

`slide` runs `symbackprop derive EXAMPLE --format beamer`, compiles it with pdflatex in a
temporary folder (no shell escape) and turns the frame holding the equation tagged TAG into a
PNG with pdftoppm (150 dpi). `gd` draws the lecture's worked example, gradient descent on
E(w) = (w+5)^2 from w = 3 with η = 0.02 for 175 steps, with `symbackprop gd --plot`.
Each picture is written atomically. symbackprop runs as `python -m symbackprop` with this
script's interpreter. Exit status: 0 done, 1 a command failed, 2 a tool is missing or an
argument is bad.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from symbackprop.errors import SymbackpropError
from symbackprop.files import write_atomic

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
DPI = 150
TIMEOUT_S = 300
#: The lecture's worked example (session 6): E(w) = (w+5)^2, w0 = 3, η = 0.02, 175 steps.
GD_ARGS = ("(w+5)**2", "--start", "3", "--lr", "0.02", "--steps", "175")

EXIT_OK, EXIT_FAILED, EXIT_BAD = 0, 1, 2


class ScriptError(Exception):
    """A one-line error for the user, with the exit status to end with."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.status = status


def _tool(name: str, hint: str) -> str:
    """The path of an external program, or a ScriptError (exit 2) saying how to get it."""
    path = shutil.which(name)
    if path is None:
        raise ScriptError(f"{name} not found on PATH ({hint})", EXIT_BAD)
    return path


def _run(command: Sequence[str], cwd: Path, what: str, *, symbackprop: bool = False) -> str:
    """Run `command` in `cwd` and return its stdout; a failure is a one-line ScriptError (exit
    2 when symbackprop refused its input with exit 2, else 1)."""
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise ScriptError(f"{what} took longer than {TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no output"
        status = EXIT_BAD if symbackprop and done.returncode == EXIT_BAD else EXIT_FAILED
        raise ScriptError(f"{what} failed (exit status {done.returncode}): {last}", status)
    return done.stdout


def _symbackprop(*args: str) -> list[str]:
    return [sys.executable, "-m", "symbackprop", *args]


def frame_of(source: str, tag: str) -> int:
    """The page (from 1) of the beamer frame holding the equation tagged `tag`, e.g. V1.d."""
    marker = f"(\\text{{{tag}}})"
    at = source.find(marker)
    if at < 0:
        raise ScriptError(f"no equation tagged {tag} in the derivation", EXIT_BAD)
    return source.count("\\begin{frame}", 0, at)


def _pdflatex_error(log: str) -> str:
    """The first TeX error line of a pdflatex log ('! ...'), or a pointer to the log."""
    for line in log.splitlines():
        if line.startswith("!"):
            return line
    return "see the pdflatex log"


def slide(example: str, tag: str, target: Path) -> Path:
    """Compile `example`'s beamer slides and write the frame tagged `tag` to `target` as PNG."""
    pdflatex = _tool("pdflatex", "on Debian: apt-get install texlive-latex-extra")
    pdftoppm = _tool("pdftoppm", "on Debian: apt-get install poppler-utils")
    with tempfile.TemporaryDirectory(prefix="slide_png.") as folder:
        work = Path(folder)
        # A spec file is named relative to here; the derivation runs in the temporary folder.
        spec = str(Path(example).resolve()) if Path(example).is_file() else example
        _run(
            _symbackprop("derive", spec, "--format", "beamer", "-o", "slides.tex"),
            work,
            f"symbackprop derive {example}",
            symbackprop=True,
        )
        source = (work / "slides.tex").read_text(encoding="utf-8")
        page = frame_of(source, tag)
        latex = [pdflatex, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error"]
        try:
            _run([*latex, "slides.tex"], work, "pdflatex")
        except ScriptError:
            log = work / "slides.log"
            if log.exists():
                detail = _pdflatex_error(log.read_text(encoding="utf-8", errors="replace"))
                raise ScriptError(f"pdflatex failed on the slides of {example}: {detail}") from None
            raise
        log_text = (work / "slides.log").read_text(encoding="utf-8", errors="replace")
        pages = re.search(r"Output written on slides\.pdf \((\d+) pages?", log_text)
        frames = source.count("\\begin{frame}")
        if pages is None or int(pages.group(1)) != frames:
            found = pages.group(1) if pages else "no"
            raise ScriptError(f"expected one page per frame ({frames}), the PDF has {found}")
        number = str(page)
        render = ["-png", "-r", str(DPI), "-f", number, "-l", number, "-singlefile"]
        _run([pdftoppm, *render, "slides.pdf", "frame"], work, "pdftoppm")
        _write(target, (work / "frame.png").read_bytes())
    return target


def gd_plot(target: Path) -> Path:
    """Draw the lecture's worked gradient-descent example to `target` (needs matplotlib)."""
    with tempfile.TemporaryDirectory(prefix="slide_png.") as folder:
        work = Path(folder)
        command = _symbackprop("gd", *GD_ARGS, "--plot", "gd.png")
        _run(command, work, "symbackprop gd --plot", symbackprop=True)
        _write(target, (work / "gd.png").read_bytes())
    return target


def _write(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(target, content)
    except SymbackpropError as err:
        raise ScriptError(str(err)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slide_png.py",
        description="Render the README's pictures (a compiled beamer frame, the gd plot).",
    )
    parser.add_argument(
        "--out-dir", type=Path, default=IMAGES, help=f"where to write (default {IMAGES})"
    )
    # --out-dir is also accepted after the command; there it overrides only when given.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out-dir", type=Path, default=argparse.SUPPRESS, help="as above")
    commands = parser.add_subparsers(dest="command")
    slide_cmd = commands.add_parser(
        "slide", parents=[common], help="one frame of `derive --format beamer`"
    )
    slide_cmd.add_argument("--example", default="classifier", help="a spec or bundled example")
    slide_cmd.add_argument("--tag", default="V1.d", help="the equation tag of the frame")
    slide_cmd.add_argument("--name", help="the file name (default EXAMPLE-TAG.png, no dots)")
    commands.add_parser("gd", parents=[common], help="the worked gradient-descent example's plot")
    commands.add_parser("all", parents=[common], help="both pictures (the default)")
    return parser


def _slide_name(example: str, tag: str) -> str:
    stem = Path(example).stem if example.endswith(".toml") else example
    return f"{stem}-{tag.replace('.', '')}.png"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "all"
    out: Path = args.out_dir
    try:
        written: list[Path] = []
        if command in ("slide", "all"):
            example = getattr(args, "example", "classifier")
            tag = getattr(args, "tag", "V1.d")
            name = getattr(args, "name", None) or _slide_name(example, tag)
            written.append(slide(example, tag, out / name))
        if command in ("gd", "all"):
            written.append(gd_plot(out / "gd-worked-example.png"))
    except ScriptError as err:
        print(f"slide_png: error: {err}", file=sys.stderr)
        return err.status
    for path in written:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
