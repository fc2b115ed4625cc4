"""Bundled functions for `gd`: a name that may stand for EXPR (the optimisers' test problems)."""

from __future__ import annotations

#: name -> expression, parsed like any EXPR. Rosenbrock's valley (minimum 0 at x = y = 1),
#: whose curved floor is the classic test of momentum and adaptive steps.
FUNCTIONS = {"rosenbrock": "(1 - x)**2 + 100*(y - x**2)**2"}


def expression(text: str) -> str:
    """EXPR itself, or the bundled function it names."""
    return FUNCTIONS.get(text.strip(), text)
