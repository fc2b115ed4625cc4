"""What the `gd` command prints without --latex: the iteration table and the line saying where
and why the descent stopped."""

from __future__ import annotations

from ..printing.text import text
from .engine import DIGITS, GDResult, format_number


def table(result: GDResult, every: int = 1) -> str:
    """The iteration table: iteration 0 (the start), every `every`-th and the last row."""
    names = result.variables
    single = len(names) == 1
    point = ", ".join(names)
    headers = ["iteration", *names, f"f({point})", *(f"df/d{name}" for name in names)]
    widths = [max(len(h), 9 if i == 0 else DIGITS + 8) for i, h in enumerate(headers)]
    last = result.last.iteration
    lines = [f"f({point}) = {text(result.expression)}"]
    lines += [f"df/d{n} = {text(g)}" for n, g in zip(names, result.gradient, strict=True)]
    start = ", ".join(
        f"{n} = {format_number(v)}" for n, v in zip(names, result.rows[0].values, strict=True)
    )
    rule = f"{names[0]} <- {names[0]} - {result.lr:g} * df/d{names[0]}"
    if not single:
        rule = f"w <- w - {result.lr:g} * grad f, for w = ({point})"
    lines += [f"gradient descent: {rule}; start {start}", ""]
    lines.append("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    for row in result.rows:
        if row.iteration % every == 0 or row.iteration == last:
            cells = [str(row.iteration), *map(format_number, (*row.values, row.f, *row.gradient))]
            lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines) + "\n"


def summary(result: GDResult) -> str:
    """The closing line, 'stopped at iteration 175: steps exhausted' (no newline)."""
    return f"stopped at iteration {result.last.iteration}: {result.detail}"
