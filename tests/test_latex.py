"""Every LaTeX output compiles with a real pdflatex; printers use the lecture's notation."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sympy import Sum

from symbackprop import derive, load_spec
from symbackprop.notation import (
    Act,
    Bias,
    Delta,
    E,
    Hadamard,
    MatProd,
    Partial,
    Pre,
    SigmaPrime,
    Target,
    Transposed,
    Weight,
    WeightMatrix,
    Width,
    j,
    k,
    l_sym,
)
from symbackprop.printing.latex import latex, tex_escape
from symbackprop.printing.text import text
from symbackprop.render import render
from symbackprop.spec import examples, load_spec_text

PDFLATEX = shutil.which("pdflatex")
needs_pdflatex = pytest.mark.skipif(
    PDFLATEX is None and not os.environ.get("CI"),
    reason="pdflatex not installed (CI installs texlive and runs these)",
)


def compile_tex(source: str, folder: Path) -> None:
    """Run pdflatex twice-safe in batch mode; fail with the log's error lines on any error."""
    assert PDFLATEX is not None, "pdflatex is required in CI"
    tex = folder / "doc.tex"
    tex.write_text(source, encoding="utf-8")
    run = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
        cwd=folder,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
        check=False,
    )
    errors = [line for line in run.stdout.splitlines() if line.startswith("!")]
    assert run.returncode == 0 and not errors, "\n".join(errors) or run.stdout[-2000:]
    assert (folder / "doc.pdf").stat().st_size > 1000


@needs_pdflatex
@pytest.mark.parametrize("name", examples())
@pytest.mark.parametrize("fmt", ["latex", "beamer"])
def test_documents_compile(name: str, fmt: str, tmp_path: Path) -> None:
    compile_tex(render(derive(load_spec(name)), fmt), tmp_path)  # type: ignore[arg-type]


@needs_pdflatex
@pytest.mark.parametrize("name", examples())
def test_markdown_math_compiles(name: str, tmp_path: Path) -> None:
    md = render(derive(load_spec(name)), "markdown")
    blocks = re.findall(r"\$\$\n(.*?)\n\$\$", md, flags=re.S)
    inline = re.findall(r"(?<!\$)\$([^$\n]+)\$(?!\$)", md)
    assert blocks and inline
    body = "\n".join(f"\\[\n{b}\n\\]" for b in blocks) + "\n".join(f"${m}$\n\n" for m in inline)
    doc = "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
    compile_tex(f"{doc}{body}\n\\end{{document}}\n", tmp_path)


@needs_pdflatex
def test_hostile_source_path_is_escaped(tmp_path: Path) -> None:
    spec = 'name = "odd"\ninputs = 1\nloss = "squared_error"\n[[layers]]\nunits = 1\n'
    spec += 'activation = { expr = "z/(1 + abs(z))", name = "softsign" }\n'
    source = r"dir\input{/etc/passwd}%$&#_^~{}.toml"
    net = load_spec_text(spec, source)
    document = render(derive(net), "latex")
    assert r"\input{/etc/passwd}" not in document
    compile_tex(document, tmp_path)


def test_tex_escape_neutralises_commands() -> None:
    assert tex_escape(r"\write18{rm}") == r"\textbackslash{}write18\{rm\}"
    assert tex_escape("a_b%c") == r"a\_b\%c"
    assert tex_escape("bell\x07") == "bell"


@pytest.mark.parametrize(
    ("expr", "tex", "plain"),
    [
        (
            Partial(E, Weight(l_sym, j, k)),
            r"\frac{\partial E}{\partial w_{jk}^{(l)}}",
            "∂E/∂w_jk^(l)",
        ),
        (Act(l_sym - 1, k), "a_{k}^{(l-1)}", "a_k^(l-1)"),
        (SigmaPrime(Pre(l_sym, j)), r"\sigma'\left(z_{j}^{(l)}\right)", "σ'(z_j^(l))"),
        (Delta(l_sym), r"\delta^{(l)}", "δ^(l)"),
        (Bias(3, j), "b_{j}^{(3)}", "b_j^(3)"),
        (2 * (Act(2, j) - Target(j)), r"2 \left(a_{j}^{(2)} - y_{j}\right)", "2(a_j^(2) - y_j)"),
        (
            Sum(Weight(l_sym, j, k), (j, 1, Width(l_sym))),
            r"\sum_{j=1}^{n^{(l)}} w_{jk}^{(l)}",
            "Σ_{j=1..n^(l)} w_jk^(l)",
        ),
        (
            Hadamard(MatProd(Transposed(WeightMatrix(l_sym + 1)), Delta(l_sym + 1)), Act(l_sym)),
            r"\left(\left(W^{(l+1)}\right)^{T} \delta^{(l+1)}\right) \odot a^{(l)}",
            "((W^(l+1))ᵀ δ^(l+1)) ⊙ a^(l)",
        ),
    ],
)
def test_printers_write_the_lecture_notation(expr: object, tex: str, plain: str) -> None:
    assert latex(expr) == tex  # type: ignore[arg-type]
    assert text(expr) == plain  # type: ignore[arg-type]


def test_outputs_are_deterministic_across_processes() -> None:
    script = (
        "from symbackprop import derive, load_spec; from symbackprop.render import render;"
        "import sys; sys.stdout.write(render(derive(load_spec('classifier')), 'latex'))"
    )
    outputs = set()
    for seed in ("0", "123"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
        )
        outputs.add(run.stdout)
    assert len(outputs) == 1
