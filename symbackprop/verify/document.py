"""Finding the equations of a .tex snippet or document: one per line or align row, rows that
continue the one above joined to it, and in a whole document only its display maths; in an
HTML page (`derive --format html` or `revealjs`), the LaTeX annotation of each MathML equation."""

from __future__ import annotations

import re

_DISPLAY = re.compile(
    r"\\begin\{(aligned|align|equation|gather|multline|eqnarray)(\*?)\}(?P<a>.*?)"
    r"\\end\{\1\2\}|\\\[(?P<b>.*?)\\\]|\$\$(?P<c>.*?)\$\$",
    re.S,
)


#: The LaTeX that an HTML page's MathML carries: <annotation encoding="application/x-tex">
#: with its text in a CDATA section (raw, so a span of it is the LaTeX as written).
_ANNOTATION = re.compile(
    r'<annotation encoding="application/x-tex"><!\[CDATA\[(?P<tex>.*?)\]\]></annotation>', re.S
)

#: The start of an HTML page.
_HTML = re.compile(r"\A\s*(<!DOCTYPE html|<html)", re.I)


def html_without_annotations(text: str) -> bool:
    """An HTML page that carries no LaTeX annotation to read (not one `derive` wrote)."""
    return bool(_HTML.match(text)) and not _ANNOTATION.search(text)


#: A Markdown document's display maths: `$$` alone on a line.
_MARKDOWN_DISPLAY = re.compile(r"^\$\$\s*$", re.M)


def split_equations(text: str) -> list[tuple[int, int]]:
    """(start, end) of each equation in a .tex snippet: one per line or align row, where rows
    that start with '=' (after '&') or hold no '=' continue the equation above them.  In a whole
    document (\\begin{document}, or Markdown with `$$` lines), only display math (align,
    aligned, equation, \\[ \\], $$) is read; in an HTML page, only the MathML's LaTeX
    annotations."""
    regions = [match.span("tex") for match in _ANNOTATION.finditer(text)]
    if regions:
        return [span for first, last in regions for span in _rows(text[first:last], first)]
    if "\\begin{document}" in text or _MARKDOWN_DISPLAY.search(text):
        for match in _DISPLAY.finditer(text):
            group = next(g for g in ("a", "b", "c") if match.group(g) is not None)
            regions.append(match.span(group))
    spans: list[tuple[int, int]] = []
    for first, last in regions or [(0, len(text))]:
        spans.extend(_rows(text[first:last], first))
    return spans


def _rows(text: str, base: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    offset = base
    for line in text.splitlines(keepends=True):
        start = offset
        for piece in _row_pieces(line):
            body = _meaningful(piece)
            if body:
                end = start + len(piece.rstrip())
                if spans and (body.startswith("=") or "=" not in body):
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans.append((start + len(piece) - len(piece.lstrip()), end))
            start += len(piece) + 2
        offset += len(line)
    return spans


_CASES = re.compile(r"\\begin\s*\{cases\}.*?\\end\s*\{cases\}")


def _row_pieces(line: str) -> list[str]:
    """A line split at its row breaks \\\\, except those inside a cases environment (which
    separate the environment's own rows)."""
    cuts, start = [], 0
    inside = [m.span() for m in _CASES.finditer(line)]
    n = line.find("\\\\")
    while n >= 0:
        if not any(a <= n < b for a, b in inside):
            cuts.append(line[start:n])
            start = n + 2
        n = line.find("\\\\", n + 2)
    return [*cuts, line[start:]]


def _meaningful(piece: str) -> str:
    """A row without layout (alignment, tags, environments, comments, spacing)."""
    text = piece.split("%", 1)[0] if "\\%" not in piece else piece
    for word in ("\\notag", "\\nonumber", "&", "$", "\\[", "\\]"):
        text = text.replace(word, " ")
    out: list[str] = []
    i = 0
    while i < len(text):
        for command in ("\\tag*", "\\tag", "\\label", "\\begin", "\\end"):
            if text.startswith(command, i):
                close = text.find("}", i)
                i = len(text) if close < 0 else close + 1
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out).strip()
