"""What the `gd` command prints without --latex: the iteration table and the line saying where
and why the descent stopped."""

from __future__ import annotations

from ..printing.text import text
from .engine import DIGITS, GDResult, format_number


def table(result: GDResult, every: int = 1, *, rule: str | None = None, head: bool = True) -> str:
    """The iteration table: iteration 0 (the start), every `every`-th and the last row; `rule`
    replaces the gradient-descent line, and `head` False leaves out f and its derivatives."""
    names = result.variables
    point = ", ".join(names)
    headers = ["iteration", *names, f"f({point})", *(f"df/d{name}" for name in names)]
    widths = [max(len(h), 9 if i == 0 else DIGITS + 8) for i, h in enumerate(headers)]
    last = result.last.iteration
    lines = [f"f({point}) = {text(result.expression)}"] if head else []
    if head:
        lines += [f"df/d{n} = {text(g)}" for n, g in zip(names, result.gradient, strict=True)]
    start = ", ".join(
        f"{n} = {format_number(v)}" for n, v in zip(names, result.rows[0].values, strict=True)
    )
    if rule is not None:
        lines += [f"{rule}; start {start}", ""]
    else:
        lines += [f"gradient descent: {rule_of(result)}; start {start}", ""]
    lines.append("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    for row in result.rows:
        if row.iteration % every == 0 or row.iteration == last:
            cells = [str(row.iteration), *map(format_number, (*row.values, row.f, *row.gradient))]
            lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines) + "\n"


def rule_of(result: GDResult) -> str:
    """Plain gradient descent's update, with the learning rate: w <- w - 0.02 * df/dw."""
    names = result.variables
    if len(names) == 1:
        return f"{names[0]} <- {names[0]} - {result.lr:g} * df/d{names[0]}"
    return f"w <- w - {result.lr:g} * grad f, for w = ({', '.join(names)})"


def comparison(results: list[GDResult]) -> str:
    """One row per optimiser: the iterations to |grad| < tol (or not within the steps), f and
    |grad| at the end, and why it stopped."""
    headers = ["method", "iterations", "f at the end", "|grad| at the end", "stopped"]
    rows = []
    for result in results:
        last = result.last
        reached = result.stop == "tolerance reached"
        iterations = str(last.iteration) if reached else f"not in {last.iteration}"
        stop = result.stop if result.stop != "tolerance reached" else "|grad| < tol"
        cells = [result.method, iterations, format_number(last.f)]
        rows.append([*cells, format_number(last.gradient_norm), stop])
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    tol = results[0].tol
    lines = [f"iterations to reach |grad| < {tol:g}:", ""]
    for row in [headers, *rows]:
        middle = zip(row[1:-1], widths[1:-1], strict=True)
        cells = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in middle)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def summary(result: GDResult) -> str:
    """The closing line, 'stopped at iteration 175: steps exhausted' (no newline)."""
    return f"stopped at iteration {result.last.iteration}: {result.detail}"
