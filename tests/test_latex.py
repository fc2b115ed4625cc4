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


#: How far (pt) a box may stick out before a compile test fails: TeX's own \hfuzz/\vfuzz.
OVERFULL_TOLERANCE_PT = 1.0


def overfull_boxes(log: str, tolerance: float = OVERFULL_TOLERANCE_PT) -> list[str]:
    """The log's 'Overfull \\hbox (12.3pt too wide)' warnings above `tolerance`."""
    found = re.finditer(
        r"^Overfull \\[hv]box \((\d+(?:\.\d+)?)pt too (?:wide|high)\).*$", log, re.M
    )
    return [m.group(0) for m in found if float(m.group(1)) > tolerance]


def pages(folder: Path) -> int:
    """The number of pages (frames, for beamer) of the last compile in `folder`."""
    log = (folder / "doc.log").read_text(encoding="utf-8", errors="replace")
    match = re.search(r"Output written on doc\.pdf \((\d+) pages?", log)
    assert match, log[-2000:]
    return int(match.group(1))


def compile_tex(source: str, folder: Path, *, boxes: bool = False) -> None:
    """Run pdflatex in batch mode; fail with the log's error lines on any error, and, with
    `boxes`, on overfull-box warnings above OVERFULL_TOLERANCE_PT."""
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
    if boxes:
        log = (folder / "doc.log").read_text(encoding="utf-8", errors="replace")
        assert not overfull_boxes(log), "\n".join(overfull_boxes(log))


@needs_pdflatex
@pytest.mark.parametrize("name", examples())
@pytest.mark.parametrize("fmt", ["latex", "beamer"])
def test_documents_compile(name: str, fmt: str, tmp_path: Path) -> None:
    compile_tex(render(derive(load_spec(name)), fmt), tmp_path, boxes=True)  # type: ignore[arg-type]


def deep_spec(depth: int, units: int = 3, hidden: str = "tanh", output: str = "sigmoid") -> str:
    """A spec of `depth` layers: `depth - 1` hidden layers of `units` units, one output unit."""
    spec = f'name = "deep_{depth}x{units}"\ninputs = 2\nloss = "squared_error"\n'
    spec += f'[[layers]]\nunits = {units}\nactivation = "{hidden}"\n' * (depth - 1)
    return spec + f'[[layers]]\nunits = 1\nactivation = "{output}"\n'


#: Networks at the issue's limits (20 layers, 1,000 units); layers alternate where `hidden` is
#: a pair, so no two neighbours merge in the list of layers.
BIG = {
    "deep": deep_spec(20),
    "wide": deep_spec(3, units=1000, hidden="relu"),
    "alternating": deep_spec(12).replace('"tanh"', '"relu"', 6),
}


@needs_pdflatex
@pytest.mark.parametrize("which", sorted(BIG))
@pytest.mark.parametrize("fmt", ["latex", "beamer"])
def test_big_networks_compile_without_overfull_boxes(which: str, fmt: str, tmp_path: Path) -> None:
    derivation = derive(load_spec_text(BIG[which], f"{which}.toml"))
    compile_tex(render(derivation, fmt), tmp_path, boxes=True)  # type: ignore[arg-type]


@needs_pdflatex
def test_a_deck_has_a_frame_per_layer_and_view_not_per_equation(tmp_path: Path) -> None:
    derivation = derive(load_spec_text(deep_spec(10)))
    equations = len(derivation.all_equations())
    compile_tex(render(derivation, "beamer"), tmp_path, boxes=True)
    frames = pages(tmp_path)
    # title, network, each view's general rules and its 10 layers, and some continued; the
    # network diagram on one frame of each layer costs a frame where none has room to spare
    assert 2 + 3 * 11 <= frames < 0.62 * equations  # 126 frames, one per equation, before
    brief = render(derivation, "beamer", layers=(10, 1))
    compile_tex(brief, tmp_path, boxes=True)
    assert pages(tmp_path) <= 2 + 3 * 3 * 2


def _frame_titles(deck: str) -> list[str]:
    return re.findall(r"^\\begin\{frame\}(?:\[[^\]]*\])?(\{.*)$", deck, re.M)


@pytest.mark.parametrize("name", examples())
def test_frame_titles_are_unique_and_name_view_and_layer(name: str) -> None:
    deck = render(derive(load_spec(name)), "beamer")
    titles = _frame_titles(deck)
    assert len(titles) == len(set(titles)), titles
    for title in titles:
        assert title.count(":") <= 1, title
    layer_titles = [t for t in titles if "layer " in t and "general" not in t]
    assert layer_titles and all(
        t.startswith(("{One neuron per layer, ", "{Index form, ", "{Vectorised form, "))
        for t in layer_titles
    )


def test_selected_views_and_layers() -> None:
    derivation = derive(load_spec("seed_chain"))
    deck = render(derivation, "beamer", views=("index",), layers=(3,))
    titles = [re.sub(r" \(\d/\d\)", "", title) for title in _frame_titles(deck)]
    assert list(dict.fromkeys(titles)) == [
        "{The network}",
        "{Index form: general rules}",
        "{Index form, layer 3 = $L$ (1 unit, \\texttt{sigmoid})}",
    ]
    text = render(derivation, "text", views=("vector", "chain"), layers=(1,))
    assert "(C1.w)" in text and "(V1.d)" in text and "(I1.w)" not in text and "(C3.w)" not in text


def test_a_cases_brace_is_followed_by_a_multiplication_sign() -> None:
    from sympy import Piecewise

    z = Pre(1, j)
    expr = Piecewise((1, z > 0), (0.1, True)) * Partial(E, Act(1, j))
    assert r"\end{cases} \cdot \frac{\partial E}" in latex(expr)
    assert r"\cdot" not in latex(Hadamard(Act(1), Act(2)))


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
