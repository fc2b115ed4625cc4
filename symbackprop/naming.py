"""Every name the outputs use for an equation, in one place."""

from __future__ import annotations

from .ir import Equation
from .printing.common import layer_text

VIEW_LETTERS = {"chain": "C", "index": "I", "vector": "V"}
KIND_CODES = {
    "loss": "E",
    "dE_da_out": "a",
    "sigma_prime": "s",
    "jacobian": "J",
    "delta": "d",
    "dE_dw": "w",
    "dE_db": "b",
    "dE_da_prev": "p",
}


def tag(eq: Equation) -> str:
    """A short citation tag: view letter, layer, kind; I2.w is the index form's dE/dw of layer 2."""
    return f"{VIEW_LETTERS[eq.view]}{layer_text(eq.layer)}.{KIND_CODES[eq.kind]}"
