"""--format html: MathML from our printer, SVG diagrams, anchors, escaping, and a real browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from xml.dom.minidom import parseString

import pytest
from sympy import Function, Symbol

from symbackprop import cli, derive, load_spec
from symbackprop.notation import (
    Act,
    Delta,
    E,
    Hadamard,
    LayerQuantity,
    MatProd,
    Partial,
    SigmaPrime,
    Transposed,
    Weight,
    WeightMatrix,
    j,
    k,
    l_sym,
)
from symbackprop.printing.mathml import MathMLError, mathml
from symbackprop.render import html_fragment, render
from symbackprop.spec import examples, load_spec_text

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (CI installs Debian's and runs these)"
)

MATHML = "http://www.w3.org/1998/Math/MathML"


def _maths(page: str) -> list[str]:
    return re.findall(r"<math[ >].*?</math>", page, flags=re.S)


@pytest.mark.parametrize("name", examples())
def test_page_is_self_contained_with_an_anchor_per_equation(name: str) -> None:
    derivation = derive(load_spec(name))
    page = render(derivation, "html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # nothing fetched: no scripts, stylesheets, images or fonts from elsewhere
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"(src|href)=\"(?!#)", page)
    assert not re.search(r"https?://(?!www\.w3\.org/(1998/Math/MathML|2000/svg|1999/xhtml))", page)
    tags = re.findall(r'<div class="equation" id="([^"]+)">', page)
    assert len(tags) == len(set(tags)) == len(derivation.all_equations())
    assert all(f'href="#{t}"' in page for t in tags)
    for math in _maths(page):  # every formula is well-formed XML
        parseString(math.replace("<math", f'<math xmlns="{MATHML}"', 1))
    # one diagram for the network, one per layer and view
    assert page.count('<svg class="network"') == 1 + len(derivation.views) * len(derivation.layers)


def test_tags_are_anchors() -> None:
    page = render(derive(load_spec("classifier")), "html")
    assert 'id="V2.d"' in page and 'href="#V2.d">(V2.d)</a>' in page


def test_jupyter_html_is_the_page_fragment() -> None:
    derivation = derive(load_spec("seed_chain"))
    fragment = derivation._repr_html_()
    assert fragment == html_fragment(derivation)
    assert fragment.strip() in render(derivation, "html")
    assert "<html" not in fragment and "<style>" in fragment


def test_user_names_are_escaped() -> None:
    spec = 'name = "odd"\ninputs = 1\nloss = "squared_error"\n[[layers]]\nunits = 1\n'
    spec += 'activation = "sigmoid"\n'
    source = 'dir/<script>alert("x")</script>--><b>&amp;.toml'
    page = render(derive(load_spec_text(spec, source)), "html")
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;" in page
    comment = page.split("-->", 1)[0]
    assert "--" not in comment.removeprefix("<!DOCTYPE html>\n<!--")


@pytest.mark.parametrize(
    ("expr", "parts"),
    [
        (Act(l_sym - 1, k), ["<mi>a</mi>", "<mi>k</mi>", "<mi>l</mi>", "<mo>&#8722;</mo>"]),
        (Weight(l_sym, j, k), ["<msubsup><mi>w</mi><mrow><mi>j</mi><mi>k</mi></mrow>"]),
        (Partial(E, Weight(2, j, k)), ["<mfrac>", "&#8706;", "<mn>2</mn>"]),
        (SigmaPrime(Act(1, j)), ["&#963;", "&#8242;"]),
        (Delta(l_sym), ["&#948;"]),
        (
            Hadamard(MatProd(Transposed(WeightMatrix(l_sym + 1)), Delta(l_sym + 1)), Act(l_sym)),
            ["<mi>W</mi>", "<mi>T</mi>", "&#8857;"],
        ),
    ],
)
def test_mathml_writes_the_lecture_notation(expr: object, parts: list[str]) -> None:
    shown = mathml(expr)  # type: ignore[arg-type]
    for part in parts:
        assert part in shown
    parseString(f'<math xmlns="{MATHML}">{shown}</math>')


def test_mathml_is_strict() -> None:
    class Novel(LayerQuantity):
        """A notation class nobody taught the MathML printer."""

    with pytest.raises(MathMLError, match="Novel"):
        mathml(Novel(1, j) + 1)
    with pytest.raises(MathMLError, match="f"):
        mathml(Function("f")(Symbol("x")))


def test_output_extension_html_picks_the_format(tmp_path: Path) -> None:
    out = tmp_path / "x.html"
    assert cli.main(["derive", "single_neuron", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    wrong = ["derive", "single_neuron", "-o", str(tmp_path / "y.html"), "--format", "latex"]
    assert cli.main(wrong) == 2
    assert not (tmp_path / "y.html").exists()


def chromium(page: Path, *args: str) -> str:
    """Run headless Chromium on a local page; its stdout."""
    assert CHROMIUM is not None
    run = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={page.parent / 'profile'}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOME": str(page.parent)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def _shown(dom: str) -> str:
    """The DOM without MathML annotations, which a browser does not render (MathML Core shows
    only the first child of <semantics>): each equation's LaTeX, kept for copying and for
    verify --file."""
    return re.sub(r"<annotation\b[^>]*>.*?</annotation>", "", dom, flags=re.S)


@needs_chromium
@pytest.mark.parametrize("name", examples())
def test_pages_render_in_chromium(name: str, tmp_path: Path) -> None:
    page = tmp_path / f"{name}.html"
    source = render(derive(load_spec(name)), "html")
    page.write_text(source, encoding="utf-8")
    dom = chromium(page, "--dump-dom")
    assert "<merror" not in dom
    # every <math> parsed as MathML (not shown as text), every diagram as SVG
    assert dom.count("<math") == source.count("<math") > 0
    assert dom.count("<svg") == source.count("<svg")
    text = re.sub(r"<[^>]+>", "", _shown(dom))
    for unrendered in ("&lt;m", "&lt;svg", "\\frac", "$$", "<<", "<%"):
        assert unrendered not in text
    shot = tmp_path / "shot.png"
    chromium(page, f"--screenshot={shot}", "--window-size=1000,1400", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


@pytest.mark.parametrize("name", examples())
def test_revealjs_deck_has_the_beamer_decks_frames_and_fetches_nothing(name: str) -> None:
    derivation = derive(load_spec(name))
    deck = render(derivation, "revealjs")
    beamer = render(derivation, "beamer")
    assert deck.count('<section class="slide') == beamer.count(r"\begin{frame}")
    assert not re.search(r"<(link|img|iframe)\b|<script [^>]*src", deck)
    assert not re.search(r"(src|href)=\"(?!#)", deck)
    assert not re.search(r"https?://(?!www\.w3\.org/(1998/Math/MathML|2000/svg|1999/xhtml))", deck)
    tags = re.findall(r'<div class="equation" id="([^"]+)">', deck)
    assert len(tags) == len(set(tags)) == len(derivation.all_equations())
    for math in _maths(deck):
        parseString(math.replace("<math", f'<math xmlns="{MATHML}"', 1))


def test_revealjs_escapes_user_names(tmp_path: Path) -> None:
    spec = 'name = "odd"\ninputs = 1\nloss = "squared_error"\n[[layers]]\nunits = 1\n'
    spec += 'activation = "sigmoid"\n'
    source = 'dir/<script>alert("x")</script>--><b>&amp;.toml'
    deck = render(derive(load_spec_text(spec, source)), "revealjs")
    assert "<script>alert" not in deck and "<b>" not in deck and "&lt;script&gt;" in deck
    comment = deck.split("-->", 1)[0]
    assert "--" not in comment.removeprefix("<!DOCTYPE html>\n<!--")
    out = tmp_path / "deck.html"
    assert cli.main(["derive", "seed_chain", "--format", "revealjs", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@needs_chromium
@pytest.mark.parametrize("name", ["multi_node", "classifier"])
def test_revealjs_slides_render_in_chromium(name: str, tmp_path: Path) -> None:
    """Every slide's MathML parses, no slide needs shrinking below 60% to fit (its content
    measured by the page's own script), and exactly one slide shows."""
    page = tmp_path / f"{name}.slides.html"
    source = render(derive(load_spec(name)), "revealjs")
    page.write_text(source, encoding="utf-8")
    dom = chromium(page, "--dump-dom", "--window-size=1280,720")
    assert "<merror" not in dom
    assert dom.count("<math") == source.count("<math") > 0
    scales = [float(s) for s in re.findall(r'data-scale="([0-9.]+)"', dom)]
    assert len(scales) == source.count('<section class="slide') and min(scales) >= 0.6
    assert dom.count('class="slide current"') + dom.count('class="slide title current"') == 1
    text = re.sub(r"<[^>]+>", "", _shown(dom))
    for unrendered in ("&lt;m", "&lt;svg", "\\frac", "<<", "<%"):
        assert unrendered not in text
    shot = tmp_path / "shot.png"
    chromium(page, f"--screenshot={shot}", "--window-size=1280,720", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
