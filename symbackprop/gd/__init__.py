"""The `gd` command: gradient descent on a typed expression, as in the lecture's worked example.

engine.py runs the descent (parse, differentiate once, iterate, stop); report.py prints the table;
plot.py draws it (matplotlib, optional); command.py runs the command (its arguments are in
symbackprop/cli/gd.py). The worked LaTeX (--latex) is a printer, in symbackprop/printing/worked.py.
"""

from __future__ import annotations

from .command import EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_OK, run
from .engine import (
    DIGITS,
    DIVERGENCE_LIMIT,
    MAX_STEPS,
    WORKED_FIRST,
    GDResult,
    GDRow,
    StopReason,
    find_variables,
    gradient_descent,
    parse_start,
)
from .plot import PLOT_ALL_STEPS, PLOT_DPI, PLOT_HINT, PLOT_INCHES, plot
from .report import summary, table

__all__ = [
    "DIGITS",
    "DIVERGENCE_LIMIT",
    "EXIT_BAD_INPUT",
    "EXIT_DIVERGED",
    "EXIT_OK",
    "MAX_STEPS",
    "PLOT_ALL_STEPS",
    "PLOT_DPI",
    "PLOT_HINT",
    "PLOT_INCHES",
    "WORKED_FIRST",
    "GDResult",
    "GDRow",
    "StopReason",
    "find_variables",
    "gradient_descent",
    "parse_start",
    "plot",
    "run",
    "summary",
    "table",
]
