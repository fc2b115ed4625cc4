"""Predictions as files for `symbackprop predict`: CSV text (a header y1, y2, ...) or an NPZ
archive of the array Y, written atomically."""

from __future__ import annotations

import io

import numpy as np

from .files import write_atomic


def predictions_csv(output: np.ndarray) -> str:
    """One row per sample, the outputs a^(L) as repr-exact floats, under a header y1, y2, ..."""
    header = ",".join(f"y{unit}" for unit in range(1, output.shape[1] + 1))
    rows = (",".join(repr(float(v)) for v in row) for row in output)
    return "\n".join([header, *rows]) + "\n"


def predictions_npz(output: np.ndarray) -> bytes:
    """An .npz archive holding the outputs as array Y (rows, outputs), float64."""
    buffer = io.BytesIO()
    np.savez(buffer, Y=np.asarray(output, dtype=np.float64))
    return buffer.getvalue()


def write_predictions(path: str, content: bytes) -> None:
    """Write the predictions to `path` atomically (a temporary file, then a rename)."""
    write_atomic(path, content)
