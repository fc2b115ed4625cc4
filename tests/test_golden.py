"""generated/ holds what the tool emits today for the bundled examples, byte for byte:
the derivation in every format, the NumPy module and the array-API module."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from symbackprop import derive, load_spec
from symbackprop.codegen import generate
from symbackprop.errors import SymbackpropError
from symbackprop.render import FORMATS, SUFFIXES, render
from symbackprop.spec import examples

GENERATED = Path(__file__).resolve().parent.parent / "generated"


def _produce(name: str, fmt: str) -> tuple[str, Path]:
    if fmt == "module":
        return generate(load_spec(name)).source, GENERATED / f"{name}.py"
    if fmt == "array-api module":
        module = generate(load_spec(name), backend="array-api")
        return module.source, GENERATED / f"{name}_array_api.py"
    document = render(derive(load_spec(name)), fmt)  # type: ignore[arg-type]
    return document, GENERATED / f"{name}{SUFFIXES[fmt]}"  # type: ignore[index]


@pytest.mark.parametrize("name", examples())
@pytest.mark.parametrize("fmt", [*FORMATS, "module", "array-api module"])
def test_generated_files_are_current(name: str, fmt: str, update_golden: bool) -> None:
    if fmt == "array-api module" and not load_spec(name).dense_only:
        with pytest.raises(SymbackpropError, match=r"does not support .* layers yet"):
            generate(load_spec(name), backend="array-api")
        assert not (GENERATED / f"{name}_array_api.py").exists()
        return
    produced, path = _produce(name, fmt)
    if update_golden:
        path.write_text(produced, encoding="utf-8", newline="\n")
    assert path.exists(), f"{path} missing: run pytest tests/test_golden.py --update-golden"
    committed = path.read_text(encoding="utf-8")
    if committed != produced:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                produced.splitlines(keepends=True),
                fromfile=f"committed {path.name}",
                tofile="produced now",
            )
        )
        pytest.fail(f"{path.name} is out of date (pytest --update-golden to accept):\n{diff}")
