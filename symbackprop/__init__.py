"""symbackprop: back-propagation derived symbolically, printed as LaTeX, generated as NumPy."""

from __future__ import annotations

from ._version import __version__
from .codegen import generate
from .derive import derive
from .errors import SpecError, SymbackpropError
from .gradcheck import gradcheck
from .render import render
from .spec import Layer, Network, activation, custom_activation, custom_loss, load_spec, loss

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
    "generate",
    "gradcheck",
    "load_spec",
    "loss",
    "render",
]
