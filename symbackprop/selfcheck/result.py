"""What both self-checks report: one parameter's layered and direct derivative, and the
precision they are compared to."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

#: Digits used to evaluate both sides; agreement is required to about 20 of them.
DIGITS = 30
RELATIVE_TOLERANCE = sympy.Float("1e-20", DIGITS)


@dataclass(frozen=True)
class CheckResult:
    """One parameter: the layered and the direct derivative at one random point."""

    parameter: str
    layered: float
    direct: float
    ok: bool
