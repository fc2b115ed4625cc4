"""Derivation -> documents: precomputed strings laid out by Jinja templates.

The printers turn every expression into LaTeX or text here; the templates only arrange them.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import jinja2

from .files import display_path
from .naming import tag
from .printing.latex import latex, tex_escape
from .printing.text import text

if TYPE_CHECKING:  # not at run time: ir imports this module (lazily) to display a Derivation
    from .ir import ActivationRule, Derivation, Equation
    from .progress import Report

Format = Literal["latex", "beamer", "markdown", "text"]
FORMATS: dict[Format, str] = {
    "latex": "derivation/article.tex.jinja",
    "beamer": "derivation/beamer.tex.jinja",
    "markdown": "derivation/markdown.md.jinja",
    "text": "derivation/text.txt.jinja",
}
#: Not a --format: the LaTeX a Derivation shows in notebooks (`Derivation._repr_latex_`).
NOTEBOOK_LATEX = "derivation/notebook.tex.jinja"
#: File name suffixes of each format under generated/.
SUFFIXES: dict[Format, str] = {
    "latex": ".tex",
    "beamer": ".slides.tex",
    "markdown": ".md",
    "text": ".txt",
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
    return env


def plain_text(text: str) -> str:
    """A name from outside (a spec path) for text and Markdown: control characters escaped, and
    no `--`, so it cannot end the HTML comment it sits in or send terminal escape codes."""
    return display_path(text).replace("--", "-\N{ZERO WIDTH SPACE}-")


def render(derivation: Derivation, fmt: Format, *, progress: Report | None = None) -> str:
    """The derivation as a document of the given format; `progress`, if given, is called as
    progress("printing equation", done, total)."""
    show = text if fmt == "text" else latex
    return _render(derivation, FORMATS[fmt], show, progress)


def notebook_latex(derivation: Derivation) -> str:
    """The derivation as LaTeX that both MathJax (Jupyter) and a LaTeX document body accept:
    prose, inline $...$ and align* blocks; no preamble, no macros of its own."""
    return _render(derivation, NOTEBOOK_LATEX, latex, None)


def _render(derivation: Derivation, template: str, show: Any, progress: Report | None) -> str:
    values = context(derivation, show, progress)
    return environment().get_template(template).render(**values)


def context(derivation: Derivation, show: Any, progress: Report | None = None) -> dict[str, Any]:
    """The template context: strings only, printed by `show` (LaTeX or text)."""
    net = derivation.network
    total = len(derivation.all_equations())
    printed = 0

    def eq(e: Equation) -> dict[str, Any]:
        nonlocal printed
        shown = {"tag": tag(e), "kind": e.kind, "lhs": show(e.lhs), "rhs": [show(r) for r in e.rhs]}
        printed += 1
        if progress is not None:
            progress("printing equation", printed, total)
        return shown

    layers = []
    for ld in derivation.layers:
        layers.append(
            {
                "number": ld.number,
                "units": ld.units,
                "fan_in": ld.fan_in,
                "is_output": ld.number == net.depth,
                **_activation(ld.rule, show),
            }
        )
    views = []
    for view in derivation.views:
        views.append(
            {
                "key": view,
                "general": [eq(e) for e in derivation.general[view]],
                "layers": [
                    {**layers[ld.number - 1], "equations": [eq(e) for e in ld.view(view)]}
                    for ld in reversed(derivation.layers)
                ],
            }
        )
    return {
        "name": net.name,
        "source": net.source,
        "sizes": list(net.sizes),
        "depth": net.depth,
        "loss_name": net.loss.name,
        "targets_sum_to_one": derivation.loss.targets_sum_to_one,
        "softmax_output": not derivation.has_chain_view,
        "layers": layers,
        "views": views,
    }


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
