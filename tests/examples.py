"""The bundled examples that the tests of dense-only features walk over."""

from __future__ import annotations

from functools import cache

from symbackprop.spec import examples, load_spec


@cache
def dense_examples() -> list[str]:
    """The bundled examples whose layers are all dense: the array-API backend and `verify`
    read these; convolution and pooling layers are not theirs yet (they refuse, in one line)."""
    return [name for name in examples() if load_spec(name).dense_only]
