"""`gd --plot`: the loss landscape and the descent's path as a PNG (1-D curve or 2-D contours).

matplotlib is the optional `plot` extra: it is imported only when a plot is asked for, and its
absence is a one-line hint, not a traceback.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import SymbackpropError
from ..files import check_output, display_path, write_atomic
from ..printing.text import text
from .engine import GDResult, GDRow, numeric

PLOT_INCHES = (8.0, 6.0)
PLOT_DPI = 100
#: Up to this many steps a plot gets every iterate; beyond, the rows --every keeps.
PLOT_ALL_STEPS = 100_000
PLOT_HINT = "--plot needs matplotlib, which is not installed: pip install 'symbackprop[plot]'"


def matplotlib() -> tuple[Any, Any]:
    """matplotlib's Figure and Agg canvas, imported only when a plot is asked for."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SymbackpropError(PLOT_HINT) from None
    return Figure, FigureCanvasAgg


def check_plot(path: str, variables: int) -> None:
    """Refuse a plot that cannot be drawn or written, before any work is done."""
    shown = display_path(path)
    if variables > 2:
        raise SymbackpropError(
            f"--plot draws one or two variables; EXPR has {variables} (leave out --plot)"
        )
    if not path.lower().endswith(".png"):
        raise SymbackpropError(f"--plot {shown}: the file name must end in .png")
    try:  # an unreadable or read-only folder, a read-only file: one line, before any work
        check_output(path)
    except SymbackpropError as err:
        raise SymbackpropError(f"--plot {err}") from None
    folder = Path(os.path.realpath(path)).parent
    if not folder.is_dir():
        raise SymbackpropError(f"--plot {shown}: the folder {display_path(folder)} does not exist")
    if Path(path).is_dir():
        raise SymbackpropError(f"--plot {shown}: is a directory, expected a file name")


def plot(result: GDResult, path: str) -> None:
    """Draw the landscape and the path (1-D curve or 2-D contours) to a PNG, written atomically."""
    import numpy as np

    check_plot(path, len(result.variables))
    figure_class, canvas_class = matplotlib()
    figure = figure_class(figsize=PLOT_INCHES, dpi=PLOT_DPI)
    canvas_class(figure)
    axes = figure.subplots()
    f = numeric([result.expression], result.symbols)

    def f_at(*point: float) -> float:
        return f(point)[0][0]

    surface = np.vectorize(f_at, otypes=[float])
    path_rows = [row for row in result.rows if all(math.isfinite(v) for v in row.values)]
    xs = [row.values[0] for row in path_rows]
    names = result.variables
    marker = 3 if len(path_rows) <= 300 else 1
    if len(names) == 1:
        grid = np.linspace(*_span(xs), 400)
        axes.plot(grid, np.ma.masked_invalid(surface(grid)), color="tab:blue", label="f")
        axes.plot(
            xs,
            [row.f for row in path_rows],
            "o",
            color="tab:orange",
            ms=marker,
            alpha=0.7,
            label="iterates",
        )
        axes.set_xlabel(names[0])
        axes.set_ylabel(f"f({names[0]})")
    else:
        ys = [row.values[1] for row in path_rows]
        grid_x, grid_y = np.meshgrid(np.linspace(*_span(xs), 160), np.linspace(*_span(ys), 160))
        heights = np.ma.masked_invalid(surface(grid_x, grid_y))
        contours = axes.contour(grid_x, grid_y, heights, levels=20, cmap="viridis")
        figure.colorbar(contours, ax=axes, label=f"f({names[0]}, {names[1]})")
        axes.plot(xs, ys, "o-", color="tab:orange", ms=marker, lw=0.8, label="path")
        axes.set_xlabel(names[0])
        axes.set_ylabel(names[1])
    first, final = path_rows[0], path_rows[-1]
    axes.plot(*_marker(first, len(names)), "s", color="tab:green", label="start")
    axes.plot(*_marker(final, len(names)), "*", color="tab:red", ms=12, label="last")
    axes.legend()
    formula = text(result.expression)
    if len(formula) > 70:
        formula = formula[:67] + "..."
    axes.set_title(
        f"gradient descent on f = {formula}\n"
        f"learning rate η = {result.lr:g}, {final.iteration} iterations, {result.stop}"
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PLOT_DPI)
    write_atomic(path, buffer.getvalue())


#: The colours of the paths of `gd --method`, one per method (matplotlib's tab10, less green
#: and red, which mark the start and the ends).
PATH_COLOURS = (
    "tab:orange",
    "tab:blue",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:gray",
    "tab:olive",
    "tab:cyan",
    "black",
)


def plot_paths(results: Sequence[GDResult], path: str, labels: Sequence[str]) -> None:
    """Every method's path on one picture of the same function (contours in 2-D, the curve in
    1-D), each labelled with its method and the iterations it ran, written atomically."""
    import numpy as np

    first = results[0]
    check_plot(path, len(first.variables))
    figure_class, canvas_class = matplotlib()
    figure = figure_class(figsize=PLOT_INCHES, dpi=PLOT_DPI)
    canvas_class(figure)
    axes = figure.subplots()
    f = numeric([first.expression], first.symbols)

    def f_at(*point: float) -> float:
        return f(point)[0][0]

    surface = np.vectorize(f_at, otypes=[float])
    paths = [
        [row for row in result.rows if all(math.isfinite(v) for v in row.values)]
        for result in results
    ]
    names = first.variables
    xs = [row.values[0] for rows in paths for row in rows]
    if len(names) == 1:
        grid = np.linspace(*_span(xs), 400)
        axes.plot(grid, np.ma.masked_invalid(surface(grid)), color="tab:green", lw=1, label="f")
        axes.set_xlabel(names[0])
        axes.set_ylabel(f"f({names[0]})")
    else:
        ys = [row.values[1] for rows in paths for row in rows]
        grid_x, grid_y = np.meshgrid(np.linspace(*_span(xs), 200), np.linspace(*_span(ys), 200))
        heights = np.ma.masked_invalid(surface(grid_x, grid_y))
        low = float(heights.min())
        levels = np.unique(low + (float(heights.max()) - low) * np.linspace(0, 1, 25) ** 2)
        contours = axes.contour(grid_x, grid_y, heights, levels=levels, cmap="viridis", alpha=0.6)
        figure.colorbar(contours, ax=axes, label=f"f({names[0]}, {names[1]})")
        axes.set_xlabel(names[0])
        axes.set_ylabel(names[1])
    for number, (rows, text_label) in enumerate(zip(paths, labels, strict=True)):
        colour = PATH_COLOURS[number % len(PATH_COLOURS)]
        marker = 3 if len(rows) <= 300 else 1
        across = [row.values[0] for row in rows]
        up = [row.f for row in rows] if len(names) == 1 else [row.values[1] for row in rows]
        shown = f"{text_label}: {rows[-1].iteration} iterations" if rows else text_label
        axes.plot(across, up, "o-", color=colour, ms=marker, lw=0.8, alpha=0.8, label=shown)
        if rows:
            axes.plot(*_marker(rows[-1], len(names)), "*", color=colour, ms=11)
    if paths[0]:
        axes.plot(*_marker(paths[0][0], len(names)), "s", color="tab:green", label="start")
    axes.legend(fontsize="small")
    formula = text(first.expression)
    if len(formula) > 70:
        formula = formula[:67] + "..."
    axes.set_title(
        f"{len(results)} optimisers on f = {formula}\nfrom the same start, |grad| < "
        f"{first.tol:g} or {max(r.last.iteration for r in results)} iterations"
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=PLOT_DPI)
    write_atomic(path, buffer.getvalue())


def _marker(row: GDRow, dimensions: int) -> tuple[list[float], list[float]]:
    """Where a row sits on the plot: (w, f) in 1-D, (w1, w2) in 2-D."""
    if dimensions == 1:
        return [row.values[0]], [row.f]
    return [row.values[0]], [row.values[1]]


def _span(values: Sequence[float]) -> tuple[float, float]:
    """An axis range around `values` with a margin, never empty."""
    low, high = min(values), max(values)
    margin = 0.15 * (high - low) if high > low else max(1.0, 0.5 * abs(low))
    return low - margin, high + margin
