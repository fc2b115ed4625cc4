"""Writing outputs safely: a temporary file in the target folder, then an atomic rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import SymbackpropError


def write_atomic(path: str | Path, content: str) -> None:
    """Write `content` to `path` so that a failure leaves any existing file untouched."""
    target = Path(path)
    if target.is_dir():
        raise SymbackpropError(f"{target}: is a directory, expected a file name")
    folder = target.parent if str(target.parent) else Path(".")
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as err:
        raise SymbackpropError(f"{target}: cannot write ({err.strerror or err})") from None
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
