"""A Derivation shows itself: maths in Jupyter (Markdown and LaTeX), text in a terminal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from symbackprop import cli, derive, load_spec, render
from symbackprop.ir import Derivation
from symbackprop.printing.latex import latex
from symbackprop.spec import examples, load_spec_text
from tests.test_latex import compile_tex, needs_pdflatex

#: A custom activation and loss, so that SymPy prints functions the examples do not use.
CUSTOM = """\
name = "odd_names"
inputs = 2
loss = { expr = "(a - y)**2 / 2 + abs(a - y)", name = "half_sq_abs" }

[[layers]]
units = 3
activation = { name = "leaky_relu", slope = 0.1 }

[[layers]]
units = 2
activation = { expr = "sqrt(1 + z**2) - 1 + erf(z) + max(z, 0)", name = "soft_thing" }
"""

#: LaTeX commands MathJax knows without extensions beyond its defaults (ams is loaded by
#: Jupyter): everything the printers may emit for the allowed functions.
MATHJAX_KNOWN = {
    "begin", "end", "tag", "frac", "partial", "left", "right", "cdot", "sigma", "delta",
    "odot", "sum", "log", "tanh", "sinh", "cosh", "sin", "cos", "exp", "sqrt", "circ", "to",
    "mathtt", "operatorname", "max", "min", "theta", "infty", "pi", "leq", "geq", "lt", "gt",
    "text", "quad", "_", "ne", "neq", "mathrm", "star", "times", "mathbin", "beta", "gamma",
    "mu", "epsilon", "hat", "dots",
}  # fmt: skip
FORBIDDEN = ("\\documentclass", "\\usepackage", "\\begin{document}", "\\newcommand", "\\def")


def derivations() -> list[Derivation]:
    return [derive(load_spec(name)) for name in examples()] + [
        derive(load_spec_text(CUSTOM, "odd.toml"))
    ]


@pytest.fixture(scope="module")
def all_derivations() -> list[Derivation]:
    return derivations()


def test_repr_is_one_line_naming_the_network(all_derivations: list[Derivation]) -> None:
    by_name = {d.network.name: d for d in all_derivations}
    assert repr(by_name["classifier"]) == (
        "<Derivation of 'classifier': 2 layers, 2-8-2, tanh/softmax, cross_entropy,"
        f" {len(by_name['classifier'].all_equations())} equations>"
    )
    for d in all_derivations:
        shown = repr(d)
        assert "\n" not in shown and len(shown) < 200
        assert shown.startswith(f"<Derivation of {d.network.name!r}: ") and shown.endswith(">")
        assert "Equation(" not in shown and "Network(" not in shown


def test_repr_of_a_deep_network_stays_short() -> None:
    spec = 'name = "deep"\ninputs = 4\nloss = "squared_error"\n'
    spec += '[[layers]]\nunits = 3\nactivation = "tanh"\n' * 40
    shown = repr(derive(load_spec_text(spec)))
    assert "40 layers" in shown and "4-3-3-...-3-3-3" in shown and "tanh/.../tanh" in shown
    assert len(shown) < 120


@pytest.mark.parametrize("name", ["seed_chain", "classifier"])
def test_str_is_what_derive_prints(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["derive", name, "--format", "text"]) == 0
    assert str(derive(load_spec(name))) == capsys.readouterr().out


def test_markdown_repr_is_the_markdown_document(all_derivations: list[Derivation]) -> None:
    for d in all_derivations:
        shown = d._repr_markdown_()
        assert shown == render(d, "markdown")
        for eq in d.all_equations():  # every equation's LaTeX, in a $$ block
            assert latex(eq.lhs) in shown
            for step in eq.rhs:
                assert latex(step) in shown
        assert shown.count("$$") % 2 == 0


def _check_balanced(tex: str) -> None:
    depth = 0
    for match in re.finditer(r"\\[{}]|[{}]", tex):
        if match.group() == "{":
            depth += 1
        elif match.group() == "}":
            depth -= 1
            assert depth >= 0, f"unbalanced '}}' at {match.start()}"
    assert depth == 0, "unclosed '{'"
    stack: list[str] = []
    for kind, env in re.findall(r"\\(begin|end)\{([^}]*)\}", tex):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"\\end{{{env}}} without its \\begin"
    assert not stack, f"\\begin{{{stack[-1]}}} never ended"


def test_latex_repr_is_mathjax_ready(all_derivations: list[Derivation]) -> None:
    for d in all_derivations:
        tex = d._repr_latex_()
        for word in FORBIDDEN:
            assert word not in tex
        _check_balanced(tex)
        assert tex.count("$") % 2 == 0 and "$$" not in tex
        unknown = set(re.findall(r"\\([A-Za-z]+|_)", tex)) - MATHJAX_KNOWN
        assert not unknown, f"{d.network.name}: MathJax may not know {sorted(unknown)}"
        for eq in d.all_equations():
            assert latex(eq.lhs) in tex and latex(eq.final) in tex
        # LaTeX commands outside math would show as they are in MathJax: none in the prose.
        prose = re.sub(r"\\begin\{align\*\}.*?\\end\{align\*\}|\$[^$]*\$", "", tex, flags=re.S)
        assert "\\" not in prose and "_" not in prose, prose
        assert d.network.name.replace("_", "\\_") in tex


def test_latex_repr_has_one_block_per_equation(all_derivations: list[Derivation]) -> None:
    for d in all_derivations:
        tex = d._repr_latex_()
        assert tex.count("\\begin{align*}") == len(d.all_equations())
        assert tex.count("\\tag{") == len(d.all_equations())


@needs_pdflatex
@pytest.mark.parametrize("which", ["classifier", "custom"])
def test_latex_repr_compiles_as_a_notebook_export(which: str, tmp_path: Path) -> None:
    # nbconvert's LaTeX export pastes text/latex output into an article that loads amsmath.
    spec = load_spec(which) if which != "custom" else load_spec_text(CUSTOM, "odd.toml")
    body = derive(spec)._repr_latex_()
    document = (
        "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
        f"{body}\n\\end{{document}}\n"
    )
    compile_tex(document, tmp_path)


def test_dataclass_stays_frozen(all_derivations: list[Derivation]) -> None:
    d = all_derivations[0]
    with pytest.raises(AttributeError):
        d.has_chain_view = False  # type: ignore[misc]


@pytest.mark.parametrize(
    ("argv", "first_line"),
    [
        (["-o", "x.tex"], "% Generated by symbackprop"),
        (["-o", "x.md"], "<!-- Generated by symbackprop"),
        (["-o", "x.txt"], "Back-propagation for seed_chain"),
        (["-o", "x.tex", "--format", "beamer"], "% Generated by symbackprop"),
        (["-o", "x.out", "--format", "md"], "<!-- Generated by symbackprop"),
    ],
)
def test_output_extension_gives_the_format(
    argv: list[str], first_line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["derive", "seed_chain", *argv]) == 0
    assert (tmp_path / argv[1]).read_text(encoding="utf-8").startswith(first_line)


@pytest.mark.parametrize(
    "argv",
    [
        ["-o", "x.tex", "--format", "text"],
        ["-o", "x.md", "--format", "latex"],
        ["--views", "chain,sideways"],
        ["--layers", "L,7"],
        ["--layers", "L-x"],
    ],
)
def test_bad_output_or_selection_is_one_line_exit_2(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["derive", "seed_chain", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symbackprop: error: ")
    assert not list(tmp_path.iterdir())


def test_brief_deck_keeps_the_general_rules_and_the_first_and_last_layer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["derive", "seed_chain", "--format", "beamer", "--brief"]) == 0
    deck = capsys.readouterr().out
    assert "general rules" in deck and "layer 3 = $L$" in deck and "layer 1 (" in deck
    assert "layer 2 (" not in deck


def test_html_repr_is_the_pages_fragment(all_derivations: list[Derivation]) -> None:
    for d in all_derivations:
        shown = d._repr_html_()
        assert shown.startswith('<div class="symbackprop">') and "<math" in shown
        assert shown in render(d, "html")


#: Custom activations SymPy keeps as Abs, Max, Min and Piecewise (leaky_relu, hard-tanh).
KINKED = """\
name = "kinked"
inputs = 2
loss = { expr = "abs(a - y)", name = "l1" }

[[layers]]
units = 2
activation = { expr = "abs(z)", name = "absact" }

[[layers]]
units = 2
activation = { name = "leaky_relu", slope = 0.2 }

[[layers]]
units = 2
activation = { expr = "max(-1, min(1, z))", name = "hard_tanh" }

[[layers]]
units = 1
activation = { expr = "max(0, z) + min(0, z)/2", name = "mm" }
"""

SYMPY_NAMES = ("Max(", "Min(", "Abs(", "Piecewise(", "Eq(", "Ne(")


def test_text_shows_no_sympy_names() -> None:
    """max, min, |z| and cases in the lecture's words; no `· 1 ·` factors, no `1/5 z`."""
    page = render(derive(load_spec_text(KINKED)), "text")
    for name in SYMPY_NAMES:
        assert name not in page, name
    assert "· 1 ·" not in page and "1/5 z" not in page
    assert "σ(z) = |z|" in page
    assert "σ(z) = z if z > 0 else z/5" in page
    assert "σ(z) = (2 max(0, z) + min(0, z))/2" in page
    assert "max(-1, min(1, z))" in page
    assert " if " in page and " else " in page


def test_latex_prints_kinks_as_maths() -> None:
    r"""\max, \min, \left|...\right| and cases in LaTeX (and in MathML), no `\cdot 1 \cdot`."""
    derivation = derive(load_spec_text(KINKED))
    tex = render(derivation, "latex")
    for name in (*SYMPY_NAMES, "Max", "Abs", "Piecewise", r"\cdot 1 \cdot"):
        assert name not in tex, name
    assert r"\max\left(0, z\right)" in tex and r"\min\left(" in tex
    assert r"\left|{z}\right|" in tex and r"\begin{cases}" in tex
    page = render(derivation, "html")
    assert "Max" not in page and "Piecewise" not in page and "Abs" not in page
