"""symbackprop: back-propagation derived symbolically, printed as LaTeX, generated as NumPy."""

from __future__ import annotations

from .derive import derive
from .errors import SpecError, SymbackpropError
from .spec import Layer, Network, activation, custom_activation, custom_loss, load_spec, loss

__version__ = "0.1.0"

__all__ = [
    "Layer",
    "Network",
    "SpecError",
    "SymbackpropError",
    "__version__",
    "activation",
    "custom_activation",
    "custom_loss",
    "derive",
    "load_spec",
    "loss",
]
