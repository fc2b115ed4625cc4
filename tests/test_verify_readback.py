"""Read-back (issue 15): every document `derive` writes (article, beamer, Markdown, text, and
the HTML page and slides, whose MathML carries each equation's LaTeX as its annotation) for a
network of every built-in activation, and of custom ones with abs, max and min, is read by
`verify --file` as it is, and every equation in it holds (exit 0).

The networks have two hidden layers of the activation, so every general rule of the documents
has a layer l to hold at (none is "does not apply"); what makes the equations true is the
derivation's maths, which tests/test_equations_oracle.py checks against JAX, so a failure here
is the reader's or the judge's.  leaky_relu's σ' is printed as a cases environment (in the text
format: `1 if z > 0 else 0.01`), which is read as such."""

from __future__ import annotations

from pathlib import Path

import pytest

from symbackprop.cli import main
from symbackprop.library import ACTIVATIONS
from symbackprop.spec import load_spec_text

#: Custom activations with |z|, max and min (written as a spec would).
CUSTOM = {
    "softsign": "z / (1 + abs(z))",
    "clip": "max(min(z, 1), -1) + 0.1*z",
}
FORMATS = ("latex", "beamer", "markdown", "html", "revealjs", "text")
SUFFIX = {
    "text": ".txt",
    "latex": ".tex",
    "beamer": ".tex",
    "markdown": ".md",
    "html": ".html",
    "revealjs": ".slides.html",
}


def spec_text(name: str) -> str:
    """A 2-3-2-output network whose hidden layers have the activation `name`."""
    act = f'{{ name = "{name}", expr = "{CUSTOM[name]}" }}' if name in CUSTOM else f'"{name}"'
    if name == "softmax":  # the output: tanh layers behind it, cross-entropy
        hidden, output, loss = '"tanh"', act, "cross_entropy"
    else:
        hidden, output, loss = act, act, "squared_error"
    return (
        f'name = "readback_{name}"\ninputs = 2\n'
        f"[[layers]]\nunits = 3\nactivation = {hidden}\n"
        f"[[layers]]\nunits = 2\nactivation = {hidden}\n"
        f"[[layers]]\nunits = 2\nactivation = {output}\n"
        f'[loss]\nname = "{loss}"\n'
    )


NAMES = [*sorted(ACTIVATIONS), *sorted(CUSTOM)]


def test_every_built_in_activation_is_covered() -> None:
    assert set(ACTIVATIONS) <= set(NAMES)
    for name in NAMES:
        load_spec_text(spec_text(name))  # each spec is a valid network


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_a_derived_document_reads_back_and_holds(
    name: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "net.toml"
    spec.write_text(spec_text(name))
    document = tmp_path / f"derivation{SUFFIX[fmt]}"
    assert main(["derive", str(spec), "--format", fmt, "-o", str(document)]) == 0
    capsys.readouterr()
    status = main(["verify", str(spec), "--file", str(document)])
    out, err = capsys.readouterr()
    verdicts = [line for line in out.splitlines() if ": " in line and not line.startswith(" ")]
    assert status == 0, "\n".join(line for line in out.splitlines() if "holds" not in line) + err
    assert err == ""
    assert len(verdicts) >= 20 and all(": holds: checked" in v for v in verdicts), verdicts[:3]


#: leaky_relu's σ' written by hand: 1 for z > 0, 0.01 otherwise (the library's default slope).
LEAKY = '[[layers]]\nunits = 2\nactivation = "leaky_relu"\n[loss]\nname = "squared_error"\n'


@pytest.mark.parametrize(
    ("equation", "holds"),
    [
        (
            r"\begin{cases} 1 & \text{for}\: z_j^{(1)} > 0 \\ 0.01 & \text{otherwise} \end{cases}",
            True,
        ),
        (
            r"\begin{cases} 0.01 & \text{if } z_j^{(1)} \leq 0 \\ 1 & \text{otherwise} \end{cases}",
            True,
        ),
        (
            r"\begin{cases} 1 & \text{for}\: z_j^{(1)} < 0 \\ 0.01 & \text{otherwise} \end{cases}",
            False,
        ),
        (
            r"\begin{cases} 1 & \text{for}\: z_j^{(1)} > 0 \\ 0.1 & \text{otherwise} \end{cases}",
            False,
        ),
    ],
)
def test_a_cases_environment_is_read_as_written(equation: str, holds: bool) -> None:
    from symbackprop.verify import verify

    net = load_spec_text('name = "leaky"\ninputs = 2\n' + LEAKY)
    verdict = verify(net, rf"\sigma'(z_j^{{(1)}}) = {equation}")
    assert verdict.holds is holds, verdict.reason
    assert verdict.checked > 0


def test_a_cases_row_break_is_not_an_equation_break() -> None:
    from symbackprop.verify import split_equations

    text = (
        r"\sigma'(z) &= \begin{cases} 1 & \text{for}\: z > 0 \\0.01 & \text{otherwise} "
        r"\end{cases} \\" + "\n" + r"a &= b"
    )
    assert [text[a:b].split("&=")[0].strip() for a, b in split_equations(text)] == [
        r"\sigma'(z)",
        "a",
    ]


def test_an_html_page_is_read_through_its_annotations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The LaTeX in the page's annotations is what is judged: a wrong sign written into one of
    them is found, at the page's own line, and nothing else of the page is read as maths."""
    page = tmp_path / "xor.html"
    assert main(["derive", "xor", "--format", "html", "-o", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.count('<annotation encoding="application/x-tex"><![CDATA[') >= 20
    right = "\\left(1 - a^{(2)}\\right) = a^{(2)} - y]]>"  # the end of δ^(2)'s chain
    assert right in text
    broken = text.replace(right, "\\left(1 - a^{(2)}\\right) = a^{(2)} + y]]>", 1)
    page.write_text(broken, encoding="utf-8")
    capsys.readouterr()
    assert main(["verify", "xor", "--file", str(page), "--no-cache"]) == 1
    out = capsys.readouterr().out
    line = 1 + broken[: broken.index("a^{(2)} + y")].count("\n")
    broken_lines = [text for text in out.splitlines() if "does not hold" in text]
    assert broken_lines and broken_lines[0].startswith(f"{page}:{line}: "), out
    assert "mistake: the sign of y is flipped" in out


def test_a_text_derivation_is_read_line_for_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`derive --format text` is read as written: its prose is skipped, a wrong step is found at
    the file's own line, and the mistake is named."""
    out_file = tmp_path / "xor.txt"
    assert main(["derive", "xor", "--format", "text", "-o", str(out_file)]) == 0
    text = out_file.read_text(encoding="utf-8")
    right = "      = a^(2) - y\n(V2.w)"
    assert right in text
    broken = text.replace(right, "      = a^(2) + y\n(V2.w)", 1)
    out_file.write_text(broken, encoding="utf-8")
    capsys.readouterr()
    assert main(["verify", "xor", "--file", str(out_file), "--no-cache"]) == 1
    out = capsys.readouterr().out
    line = 1 + broken[: broken.index("(V2.d)")].count("\n")  # the chain's line, as in a .tex
    broken_lines = [row for row in out.splitlines() if "does not hold" in row]
    assert broken_lines and broken_lines[0].startswith(f"{out_file}:{line}: the fourth"), out
    assert "mistake: the sign of y is flipped" in out


def test_an_html_page_without_annotations_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "other.html"
    page.write_text("<!DOCTYPE html>\n<html><body><p>E = 1</p></body></html>\n", encoding="utf-8")
    assert main(["verify", "xor", "--file", str(page), "--no-cache"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert "without LaTeX annotations" in err and str(page) in err
