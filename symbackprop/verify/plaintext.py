"""Reading back what `derive --format text` prints: its equations written again in the LaTeX
that verify reads, line for line, so that a mistake is reported at the text file's own line.

Only the notation the text printer writes is translated (∂E/∂a^(l), w_jk^(l), Σ_{j=1..n^(l)},
σ', δ, ᵀ, ⊙, ·, ^∘2, `x if c else y`, the function names); prose, headings and the activation
summaries become blank lines, so only the tagged equations and their continuation lines are
judged.
"""

from __future__ import annotations

import re

#: The first line of a text derivation, and a tagged equation line: "(V2.d) δ^(2) = ...".
_HEADER = re.compile(r"\ABack-propagation for .*\n")
_TAGGED = re.compile(r"^\((?:[CIV])(?:[0-9]+|[lL])\.[a-zA-Z]+\) ")
_CONTINUED = re.compile(r"^\s+= ")

#: A quantity of the notation: a letter (or δ, σ), an index subscript, a layer superscript.
_QUANTITY = r"[A-Za-zδσ](?:_[a-z]+)?(?:\^\([^()]*\))?"
_PARTIAL = re.compile(rf"∂({_QUANTITY})/∂({_QUANTITY})")
_SUM = re.compile(r"Σ_\{([a-z])=1\.\.(n\^\([^()]*\))\}")
_LAYER = re.compile(r"\^\(([^()]*)\)")
_INDICES = re.compile(r"_([a-z]{2,})")
_FUNCTIONS = {
    "log": r"\log",
    "exp": r"\exp",
    "tanh": r"\tanh",
    "sinh": r"\sinh",
    "cosh": r"\cosh",
    "sin": r"\sin",
    "cos": r"\cos",
    "max": r"\max",
    "min": r"\min",
    "erf": r"\operatorname{erf}",
    "erfc": r"\operatorname{erfc}",
    "sign": r"\operatorname{sign}",
}
_FUNCTION = re.compile(r"(?<![A-Za-z\\])(" + "|".join(sorted(_FUNCTIONS, key=len)[::-1]) + r")\(")
_SYMBOLS = {"⊙": r" \odot ", "·": r" \cdot ", "ᵀ": r"^\top ", "σ": r"\sigma ", "δ": r"\delta "}


def is_text_derivation(text: str) -> bool:
    """Whether `text` is what `derive --format text` writes."""
    return bool(_HEADER.match(text)) and any(_TAGGED.match(line) for line in text.splitlines())


def as_latex(text: str) -> str:
    """The text derivation with every tagged equation (and its continuation lines) in LaTeX and
    every other line blank: the same number of lines, so line numbers still name the file's."""
    out = []
    inside = False
    for line in text.split("\n"):
        if _TAGGED.match(line):
            inside = True
            out.append(latex_of(_TAGGED.sub("", line)))
        elif inside and _CONTINUED.match(line):
            out.append("= " + latex_of(line.strip()[2:]))
        else:
            inside = False
            out.append("")
    return "\n".join(out)


def latex_of(expression: str) -> str:
    """One line of the text notation in LaTeX."""
    tex = _PARTIAL.sub(lambda m: rf"\frac{{∂{m[1]}}}{{∂{m[2]}}}", expression)
    tex = tex.replace("∂", r"\partial ")
    tex = _SUM.sub(lambda m: rf"\sum_{{{m[1]}=1}}^{{{m[2]}}}", tex)
    tex = _selections(tex)
    tex = tex.replace("^∘2", r"^{\circ 2}")
    tex = _LAYER.sub(lambda m: f"^{{({m[1]})}}", tex)
    tex = _INDICES.sub(lambda m: f"_{{{m[1]}}}", tex)
    tex = _FUNCTION.sub(lambda m: _FUNCTIONS[m[1]] + "(", tex)
    for symbol, command in _SYMBOLS.items():
        tex = tex.replace(symbol, command)
    return re.sub(r"\s+", " ", tex).strip()


def _selections(text: str) -> str:
    """Every `x if c else y` (the text printer's piecewise form) as a cases environment: the
    innermost bracket around it, or its whole side of an '=' when none is."""
    while (at := text.find(" if ")) >= 0:
        depth, start = 0, 0
        for n in range(at - 1, -1, -1):  # the unmatched '(' before it, or the side's start
            if text[n] == ")":
                depth += 1
            elif text[n] == "(":
                if depth == 0:
                    start = n + 1
                    break
                depth -= 1
            elif depth == 0 and text.startswith(" = ", n):
                start = n + 3
                break
        depth, end = 0, len(text)
        for n in range(at, len(text)):  # the matching ')' after it, or the side's end
            if text[n] == "(":
                depth += 1
            elif text[n] == ")":
                if depth == 0:
                    end = n
                    break
                depth -= 1
            elif depth == 0 and text.startswith(" = ", n):
                end = n
                break
        body = text[start:end]
        value, _, rest = body.partition(" if ")
        condition, _, other = rest.partition(" else ")
        cases = (
            rf"\begin{{cases}} {value.strip()} & \text{{for}}\: {condition.strip()} \\ "
            rf"{other.strip()} & \text{{otherwise}} \end{{cases}}"
        )
        text = text[:start] + cases + text[end:]
    return text
