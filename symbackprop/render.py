"""Derivation -> documents: precomputed strings laid out by Jinja templates.

The printers turn every expression into LaTeX or text here; the templates only arrange them.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import SymbackpropError
from .files import display_path
from .naming import tag
from .printing.latex import latex, tex_escape
from .shapes import describe

if TYPE_CHECKING:  # not at run time: ir imports this module (lazily) to display a Derivation
    from collections.abc import Collection, Sequence

    import jinja2

    from .ir import ActivationRule, Derivation, Equation, View
    from .progress import Report

Format = Literal["latex", "beamer", "markdown", "text", "html", "revealjs"]
FORMATS: dict[Format, str] = {
    "latex": "derivation/article.tex.jinja",
    "beamer": "derivation/beamer.tex.jinja",
    "markdown": "derivation/markdown.md.jinja",
    "text": "derivation/text.txt.jinja",
    "html": "derivation/page.html.jinja",
    "revealjs": "derivation/slides.html.jinja",
}
#: Not a --format: the HTML a Derivation shows in notebooks (`Derivation._repr_html_`), which is
#: also the body of the html format's page.
HTML_FRAGMENT = "derivation/fragment.html.jinja"
#: Not a --format: the LaTeX a Derivation shows in notebooks (`Derivation._repr_latex_`).
NOTEBOOK_LATEX = "derivation/notebook.tex.jinja"
#: File name suffixes of each format under generated/.
SUFFIXES: dict[Format, str] = {
    "latex": ".tex",
    "beamer": ".slides.tex",
    "markdown": ".md",
    "text": ".txt",
    "html": ".html",
    "revealjs": ".slides.html",
}


def template_dir() -> Path:
    """The templates: inside the installed package, or the checkout's top-level templates/."""
    packaged = resources.files("symbackprop") / "templates"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "templates"


_DOCUMENT_DELIMITERS: dict[str, Any] = {
    "block_start_string": "<%",
    "block_end_string": "%>",
    "variable_start_string": "<<",
    "variable_end_string": ">>",
    "comment_start_string": "<#",
    "comment_end_string": "#>",
}


@lru_cache(maxsize=2)
def environment(style: Literal["document", "python"] = "document") -> jinja2.Environment:
    """One cached Jinja environment per style: documents use <% %> and << >> delimiters, since
    LaTeX is full of braces; Python templates keep Jinja's usual ones."""
    import jinja2  # here, not at import: Jinja costs ~18 ms a start-up that renders nothing

    delimiters = _DOCUMENT_DELIMITERS if style == "document" else {}
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        **delimiters,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["tex"] = tex_escape
    env.filters["plain"] = plain_text
    env.filters["slides"] = slides
    env.filters["num"] = number
    env.globals["equation_scale"] = EQUATION_SCALE
    env.filters["slides_with_diagram"] = slides_with_diagram
    env.globals["diagram_height"] = DIAGRAM_HEIGHT_PT
    return env


#: The height (pt) a beamer frame gives its equations below the title: of its 269pt
#: \textheight, what is left after the title and the skips, with room for estimates short.
SLIDE_HEIGHT_PT = 215.0
#: The height (pt) of the network diagram atop a layer's first frame, with its skip.
DIAGRAM_HEIGHT_PT = 56.0
#: How much smaller than the frame's font beamer sets each equation (its adjustbox `scale`).
EQUATION_SCALE = 0.85


def slides(
    equations: list[dict[str, Any]], room: float = SLIDE_HEIGHT_PT, first: float | None = None
) -> list[list[Any]]:
    """Printed equations in runs that each fit one beamer frame, in order: as many as fit by
    an upper estimate of their heights (`equation_height`); one taller than `room` alone.
    `first`, if given, is the room of the first frame."""
    out: list[list[Any]] = []
    used = room
    for eq in equations:
        height = equation_height(eq) * EQUATION_SCALE
        space = first if first is not None and len(out) == 1 else room
        if not out or used + height > space:
            out.append([])
            used = 0.0
        out[-1].append(eq)
        used += height
    return out


def slides_with_diagram(
    equations: list[dict[str, Any]], diagram: float = DIAGRAM_HEIGHT_PT
) -> list[dict[str, Any]]:
    """A layer's frames: `slides`, each as {"equations": [...], "diagram": bool}, the network
    diagram (`diagram` pt tall) on the frame with the most room to spare if it fits there,
    else on the first frame, which then holds fewer equations."""
    chunks = slides(equations)
    spare = [
        SLIDE_HEIGHT_PT - sum(equation_height(eq) * EQUATION_SCALE for eq in chunk)
        for chunk in chunks
    ]
    best = max(range(len(chunks)), key=lambda number: (spare[number], -number), default=0)
    if not chunks or spare[best] < diagram:
        chunks = slides(equations, first=SLIDE_HEIGHT_PT - diagram)
        best = 0
    return [{"equations": chunk, "diagram": number == best} for number, chunk in enumerate(chunks)]


def equation_height(eq: dict[str, Any]) -> float:
    """An estimate of a printed equation's height (pt) as a beamer frame sets it at full size in
    display style (LaTeX, or MathML for the HTML slides, which are cut alike), from the heights
    of rows measured in the bundled examples' decks: a row with a sum or cases is taller than
    one with a fraction, which is taller than a plain one; the frames scale wide equations
    down, so those are shorter still."""
    rows = [f"{eq['lhs']} = {eq['rhs'][0]}", *eq["rhs"][1:]]
    total = 8.0  # the skip between equations
    for row in rows:
        height = 21.0
        if r"\frac" in row or "<mfrac" in row:  # LaTeX, or MathML for the HTML slides
            height = 30.0
        if r"\begin{cases}" in row:
            body = row.split(r"\begin{cases}", 1)[1].split(r"\end{cases}", 1)[0]
            height = max(height, 17.0 * (body.count(r"\\") + 1))
        if "<mtable" in row:  # MathML's cases
            height = max(height, 17.0 * row.count("<mtr"))
        if r"\sum" in row or "<munderover" in row:
            height = 40.0
        total += height + 3.0  # \jot between rows
    return total


def number(value: float) -> str:
    """A coordinate for TikZ or SVG: at most two decimals, no trailing zeros, no -0."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "-", "") else text


def plain_text(text: str) -> str:
    """A name from outside (a spec path) for text and Markdown: control characters escaped, and
    no `--`, so it cannot end the HTML comment it sits in or send terminal escape codes."""
    safe = display_path(text).replace("--", "-\N{ZERO WIDTH SPACE}-")
    return safe.replace("--", "-\N{ZERO WIDTH SPACE}-")  # again: one pass left "--->" "-->"


class SelectionError(SymbackpropError):
    """A --views or --layers value that names no view or layer of the network."""


def select_views(derivation: Derivation, names: Sequence[str]) -> tuple[View, ...]:
    """The views named (chain, index, vector), in document order; an unknown name, or the chain
    view of a network that has none (a softmax output), is a SelectionError."""
    available = derivation.views
    known = ("chain", "index", "vector")
    chosen: set[str] = set()
    for name in (word.strip() for word in names):
        if name not in known:
            raise SelectionError(f"--views: {name!r} is not a view (chain, index, vector)")
        if name not in available:
            raise SelectionError(
                f"--views: {derivation.network.name} has no {name} view (its output is softmax)"
            )
        chosen.add(name)
    if not chosen:
        raise SelectionError("--views: name at least one view (chain, index, vector)")
    return tuple(view for view in available if view in chosen)


def select_layers(depth: int, names: Sequence[str]) -> tuple[int, ...]:
    """Layer numbers from words such as 1, 3, L, L-1 (L the output layer), output first as the
    documents show them; a word that names no layer of a `depth`-layer network is an error."""
    chosen: set[int] = set()
    for word in (w.strip().replace(" ", "") for w in names):
        number: int | None = None
        if word.isdigit():
            number = int(word)
        elif word == "L":
            number = depth
        elif word.startswith("L-") and word[2:].isdigit():
            number = depth - int(word[2:])
        if number is None:
            raise SelectionError(f"--layers: {word!r} is not a layer (write 1, 2, ..., L, L-1)")
        if not 1 <= number <= depth:
            raise SelectionError(f"--layers: {word} is not a layer of this network (1 to {depth})")
        chosen.add(number)
    if not chosen:
        raise SelectionError("--layers: name at least one layer (1, 2, ..., L, L-1)")
    return tuple(sorted(chosen, reverse=True))


def render(
    derivation: Derivation,
    fmt: Format,
    *,
    progress: Report | None = None,
    views: Collection[View] | None = None,
    layers: Collection[int] | None = None,
) -> str:
    """The derivation as a document of the given format; `progress`, if given, is called as
    progress("printing equation", done, total).  `views` and `layers` (numbers, 1 the first)
    keep only those views and those layers' equations (the general rules stay); None: all.
    An unknown `fmt` is a SymbackpropError naming the formats."""
    if fmt not in FORMATS:
        expected = ", ".join(FORMATS)
        raise SymbackpropError(f"unknown format {fmt!r}; expected one of {expected}")
    # Only the printer the format asks for is imported (start-up time).
    if fmt == "text":
        from .printing.text import text as show
    elif fmt in ("html", "revealjs"):
        from .printing.mathml import mathml as show
    else:
        show = latex
    values = context(derivation, show, progress, views=views, layers=layers)
    return environment().get_template(FORMATS[fmt]).render(**values)


def notebook_latex(derivation: Derivation) -> str:
    """The derivation as LaTeX that both MathJax (Jupyter) and a LaTeX document body accept:
    prose, inline $...$ and align* blocks; no preamble, no macros of its own."""
    return _render(derivation, NOTEBOOK_LATEX, latex, None)


def html_fragment(derivation: Derivation) -> str:
    """The derivation as an HTML fragment (MathML, inline SVG, its own style): the body of
    `--format html`'s page, and what Jupyter shows."""
    from .printing.mathml import mathml

    return _render(derivation, HTML_FRAGMENT, mathml, None)


def _render(derivation: Derivation, template: str, show: Any, progress: Report | None) -> str:
    values = context(derivation, show, progress)
    return environment().get_template(template).render(**values)


def _loaded_mathml() -> object:
    """The MathML printer if its module is loaded, else None: `show` cannot be it otherwise,
    and importing it just to compare would cost start-up time."""
    module = sys.modules.get("symbackprop.printing.mathml")
    return getattr(module, "mathml", None)


def context(
    derivation: Derivation,
    show: Any,
    progress: Report | None = None,
    *,
    views: Collection[View] | None = None,
    layers: Collection[int] | None = None,
) -> dict[str, Any]:
    """The template context: strings only, printed by `show` (LaTeX or text); `views` and
    `layers` select as in `render`."""
    from .diagram import focus, overview  # here: ~4 ms of start-up a run that renders saves

    net = derivation.network
    shown_views = [v for v in derivation.views if views is None or v in views]
    shown_layers = [ld for ld in derivation.layers if layers is None or ld.number in layers]
    total = sum(
        len(derivation.general[v]) + sum(len(ld.shown(v)) for ld in shown_layers)
        for v in shown_views
    )
    printed = 0
    as_mathml = show is _loaded_mathml()

    def eq(e: Equation) -> dict[str, Any]:
        nonlocal printed
        shown = {"tag": tag(e), "kind": e.kind, "lhs": show(e.lhs), "rhs": [show(r) for r in e.rhs]}
        if as_mathml:  # the chain in LaTeX too: the page's annotation, read back by verify
            shown["tex"] = " = ".join(latex(side) for side in (e.lhs, *e.rhs))
        printed += 1
        if progress is not None:
            progress("printing equation", printed, total)
        return shown

    all_layers = []
    for ld, layer in zip(derivation.layers, net.layers, strict=True):
        facts = _activation(ld.rule, show)
        if not layer.has_parameters:  # pooling, flatten: no activation to state
            facts = {"softmax": False, "heaviside": False, "uses_output": False}
        facts["activation"] = describe(
            layer.kind, layer.grid, layer.shape_out, ld.rule.activation.name
        )
        all_layers.append(
            {
                "number": ld.number,
                "last": ld.number,
                "units": ld.units,
                "fan_in": ld.fan_in,
                "is_output": ld.number == net.depth,
                **facts,
            }
        )
    view_list = []
    for view in shown_views:
        view_list.append(
            {
                "key": view,
                "general": [eq(e) for e in derivation.general[view]],
                "layers": [
                    {
                        **all_layers[ld.number - 1],
                        "equations": [eq(e) for e in ld.shown(view)],
                        "diagram": focus(net, ld.number, view, show),
                    }
                    for ld in reversed(shown_layers)
                ],
            }
        )
    return {
        "name": net.name,
        "source": net.source,
        "sizes": list(net.sizes) if net.dense_only else net.layout,
        "depth": net.depth,
        "loss_name": net.loss.name,
        "targets_sum_to_one": derivation.loss.targets_sum_to_one,
        "softmax_output": not derivation.has_chain_view,
        "layers": all_layers,
        "layer_runs": layer_runs(all_layers),
        "diagram": overview(net, show),
        "views": view_list,
        "selected": len(shown_layers) < net.depth,
        "batch_coupled": any(layer.kind == "batchnorm" for layer in net.layers),
    }


def layer_runs(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive hidden layers alike (units, activation, printed rules) as one entry whose
    "number" and "last" span them: how a deep network's list of layers stays one slide."""
    own = ("number", "last", "fan_in")
    runs: list[dict[str, Any]] = []
    for layer in layers:
        alike = {key: value for key, value in layer.items() if key not in own}
        if runs and not layer["is_output"]:
            previous = {key: value for key, value in runs[-1].items() if key not in own}
            if previous == alike:
                runs[-1] = {**runs[-1], "last": layer["number"]}
                continue
        runs.append(dict(layer))
    return runs


def _activation(rule: ActivationRule, show: Any) -> dict[str, Any]:
    act = rule.activation
    info: dict[str, Any] = {
        "activation": act.name,
        "softmax": act.is_softmax,
        "heaviside": rule.heaviside_at_zero,
        "uses_output": rule.uses_output,
    }
    if act.expr is not None and rule.derivative is not None:
        info["sigma"] = show(act.expr)
        info["sigma_prime"] = show(rule.derivative)
        info["sigma_prime_z"] = show(rule.derivative_z)
    if rule.jacobian is not None:
        info["jacobian"] = show(rule.jacobian)
    return info
