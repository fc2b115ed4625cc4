"""symbackprop: back-propagation derived symbolically, printed as LaTeX, generated as NumPy.

The public names load on first use (SymPy and NumPy take a second to import, and the command
line's --help needs neither): `symbackprop.derive` imports symbackprop/derive.py when it is
first read, and `from symbackprop import derive` works as usual.

A name of `__all__` that is also a module's name (`derive`, `gradcheck`, `render`) is the
function: `symbackprop.gradcheck(network)`; the module's other names are imported from it
(`from symbackprop.gradcheck import report`). Other submodules are attributes as usual
(`symbackprop.verify.verify(network, equation)` after `import symbackprop`).
"""

from __future__ import annotations

import importlib
import sys
import types

from ._version import __version__
from .errors import SpecError, SymbackpropError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from typing import Any

    from .codegen import generate
    from .derive import derive
    from .gradcheck import gradcheck
    from .render import render
    from .shapes import Grid
    from .spec import (
        Layer,
        Network,
        Regularization,
        activation,
        custom_activation,
        custom_loss,
        examples,
        load_spec,
        loss,
    )

__all__ = [
    "Grid",
    "Layer",
    "Network",
    "Regularization",
    "SpecError",
    "SymbackpropError",
    "__version__",
    "activation",
    "custom_activation",
    "custom_loss",
    "derive",
    "examples",
    "generate",
    "gradcheck",
    "load_spec",
    "loss",
    "render",
]

#: Each lazily loaded public name and the module that defines it.
_LAZY = {
    "Grid": "shapes",
    "Layer": "spec",
    "Network": "spec",
    "Regularization": "spec",
    "activation": "spec",
    "custom_activation": "spec",
    "custom_loss": "spec",
    "derive": "derive",
    "examples": "spec",
    "generate": "codegen",
    "gradcheck": "gradcheck",
    "load_spec": "spec",
    "loss": "spec",
    "render": "render",
}


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use; else a submodule by that name
    (as `import symbackprop; symbackprop.spec` worked when everything was imported at once)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # later reads find it without calling here
        return value
    if not name.startswith("_") and _submodule(name):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _submodule(name: str) -> bool:
    """Whether symbackprop has a submodule or subpackage of that name."""
    import importlib.util

    return importlib.util.find_spec(f".{name}", __name__) is not None


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """This package's module type: importing symbackprop.derive (or .render, .gradcheck) binds
    the submodule to the package's attribute of that name, which must keep meaning the function
    of `__all__`; so that binding is skipped (the submodule stays in sys.modules)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
