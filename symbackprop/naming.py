"""Every name the outputs use for an equation, in one place.

It reads an `ir.Equation` but does not import ir (only for type hints), so that ir, whose
`Derivation` displays itself through render.py, which tags through this module, is in no import
circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .printing.common import layer_text

if TYPE_CHECKING:
    from .ir import Equation

VIEW_LETTERS = {"chain": "C", "index": "I", "vector": "V"}
#: One letter per `ir.Kind` (a test checks that every kind has one).
KIND_CODES = {
    "loss": "E",
    "dE_da_out": "a",
    "sigma_prime": "s",
    "jacobian": "J",
    "delta": "d",
    "dE_dw": "w",
    "dE_db": "b",
    "dE_da_prev": "p",
    "pre": "z",
    "act": "f",
    "mean": "m",
    "var": "v",
    "xhat": "h",
    "dE_dgamma": "g",
    "dE_dbeta": "t",
    "dE_dxhat": "H",
    "dE_dvar": "V",
    "dE_dmean": "M",
}


def tag(eq: Equation) -> str:
    """A short citation tag: view letter, layer, kind; I2.w is the index form's dE/dw of layer 2."""
    return f"{VIEW_LETTERS[eq.view]}{layer_text(eq.layer)}.{KIND_CODES[eq.kind]}"
