"""Writing outputs safely: a temporary file in the target folder, then an atomic rename."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from .errors import SymbackpropError

_SHOWN_PATH = 200


def display_path(path: str | os.PathLike[str]) -> str:
    """A path for a one-line message: unprintable characters escaped, very long ones cut."""
    text = os.fspath(path)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > _SHOWN_PATH:
        half = _SHOWN_PATH // 2
        text = f"{text[: half - 3]}...{text[-half:]}"
    return text


def read_bounded(
    path: str | Path,
    limit: int,
    *,
    expected: str,
    known: str | None = None,
    error: type[SymbackpropError] = SymbackpropError,
) -> bytes:
    """A file's bytes, refusing more than `limit` of them (so /dev/zero cannot hang a run), with
    one-line errors; `expected` names the kind of file, `known` the bundled names to offer."""
    shown = display_path(path)
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(limit + 1)
    except FileNotFoundError:
        hint = f" ({known})" if known else ""
        raise error(f"{shown}: no such file{hint}") from None
    except IsADirectoryError:
        raise error(f"{shown}: is a directory, expected {expected}") from None
    except OSError as err:
        raise error(f"{shown}: cannot read ({err.strerror or 'error'})") from None
    except ValueError:
        raise error(f"{shown}: not a usable file name") from None
    if len(raw) > limit:
        raise error(f"{shown}: too large for {expected} (limit {limit} bytes)")
    return raw


def write_atomic(path: str | Path, content: str | bytes) -> None:
    """Write `content` (text as UTF-8, or bytes) to `path` so that a failure leaves any existing
    file untouched.

    An existing file keeps its permissions; a symbolic link is written through (the file it
    points to is replaced, not the link); a device or pipe such as /dev/stdout is written into.
    """
    shown = display_path(path)
    name = os.fspath(path)
    if not name:
        raise SymbackpropError("the output file name is empty")
    if name.endswith(("/", os.sep)):
        raise SymbackpropError(f"{shown}: names a directory, expected a file name")
    try:
        info: os.stat_result | None = os.stat(name)
    except FileNotFoundError:
        info = None
    except (OSError, ValueError) as err:
        raise SymbackpropError(f"{shown}: cannot write ({_reason(err)})") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise SymbackpropError(f"{shown}: is a directory, expected a file name")
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_into(name, shown, content)
        return
    mode = stat.S_IMODE(info.st_mode) if info is not None else _default_mode()
    tmp_name = None
    try:
        target = Path(os.path.realpath(name))
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_encoded(content))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
        tmp_name = None
    except (OSError, ValueError) as err:
        raise SymbackpropError(f"{shown}: cannot write ({_reason(err)})") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def _encoded(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _write_into(name: str, shown: str, content: str | bytes) -> None:
    """Write to a device or pipe (not a regular file), where a rename makes no sense."""
    try:
        with open(name, "wb") as handle:
            handle.write(_encoded(content))
    except (OSError, ValueError) as err:
        raise SymbackpropError(f"{shown}: cannot write ({_reason(err)})") from None


def _default_mode() -> int:
    """The permissions a new file gets from open(): 0o666 less the process umask."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _reason(err: Exception) -> str:
    """The operating system's reason, without the file name it may repeat."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return "not a usable file name" if isinstance(err, ValueError) else "error"
