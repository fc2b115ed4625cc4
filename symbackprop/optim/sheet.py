"""The update rules as a sheet (`symbackprop optimizers`): LaTeX, Markdown or text, every
formula printed from the rules' SymPy expressions by the project's printers, laid out by
templates/optim/."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import sympy
from sympy import Expr

from ..printing.latex import LectureLatexPrinter
from ..printing.text import LectureTextPrinter
from ..render import environment
from .rules import DISPLAY, OPTIMIZERS, Optimizer, optimizer

SheetFormat = Literal["latex", "markdown", "text"]
TEMPLATES: dict[SheetFormat, str] = {
    "latex": "optim/sheet.tex.jinja",
    "markdown": "optim/sheet.md.jinja",
    "text": "optim/sheet.txt.jinja",
}

#: Sums and products printed in the order the rules write them (the rules are unevaluated).
_LATEX = LectureLatexPrinter(
    {"symbol_names": {s: tex for s, (tex, _) in DISPLAY.items()}, "order": "none"}
)
_TEXT = LectureTextPrinter({"order": "none"})
_TEXT_SYMBOLS = {s: sympy.Symbol(shown, **s.assumptions0) for s, (_, shown) in DISPLAY.items()}


def latex_of(expr: Expr) -> str:
    """An expression of the rules in LaTeX: w, g, \\eta, \\beta_1, \\hat{m}."""
    return str(_LATEX.doprint(expr))


def text_of(expr: Expr) -> str:
    """An expression of the rules as Unicode text: w, g, η, β₁, m̂."""
    shown = expr.xreplace(_TEXT_SYMBOLS)
    if isinstance(shown, sympy.Piecewise):
        return _TEXT.piecewise_body(shown)
    return str(_TEXT.doprint(shown))


def default_text(value: float) -> str:
    """A default as PyTorch's signature writes it: 0.001, 1e-08, 0.9."""
    return f"{value:g}"


def default_latex(value: float) -> str:
    """A default in LaTeX: 0.001, 10^{-8}, 0.9."""
    mantissa, _, exponent = f"{value:g}".partition("e")
    if not exponent:
        return mantissa
    power = f"10^{{{int(exponent)}}}"
    return power if mantissa == "1" else rf"{mantissa} \cdot {power}"


def optimizer_context(opt: Optimizer) -> dict[str, Any]:
    """One optimiser's strings: hyper-parameters, state and the tagged updates."""
    return {
        "name": opt.name,
        "title": opt.title,
        "torch": opt.torch,
        "note": opt.note,
        "hypers": [
            {
                "name": h.name,
                "tex": latex_of(h.symbol),
                "text": text_of(h.symbol),
                "default": default_text(h.default),
                "default_tex": default_latex(h.default),
                "meaning": h.meaning,
            }
            for h in opt.hypers
        ],
        "state": [
            {
                "name": s.name,
                "tex": latex_of(s.symbol),
                "text": text_of(s.symbol),
                "initial_tex": latex_of(s.initial),
                "initial_text": text_of(s.initial),
                "meaning": s.meaning,
            }
            for s in opt.state
        ],
        "updates": [
            {
                "tag": u.tag,
                "lhs_tex": latex_of(u.target),
                "rhs_tex": latex_of(u.expr),
                "lhs_text": text_of(u.target),
                "rhs_text": text_of(u.expr),
            }
            for u in opt.updates
        ],
    }


def sheet(fmt: SheetFormat = "latex", names: Sequence[str] = ()) -> str:
    """The sheet of the optimisers `names` (all when empty), in `fmt`."""
    chosen = [optimizer(name) for name in dict.fromkeys(names)] or list(OPTIMIZERS.values())
    context = {"optimizers": [optimizer_context(opt) for opt in chosen]}
    return environment("document").get_template(TEMPLATES[fmt]).render(**context)
