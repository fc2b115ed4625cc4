"""Reading inputs and writing outputs safely.

Reads are bounded (`read_bounded`: a size limit, and a named pipe with no writer, or one that
stays silent, is refused instead of waited on forever). Writes go to a temporary file in the
target folder, then an atomic rename (`write_atomic`); `check_output` refuses at once, before
any work, an output path that cannot be written. A SIGTERM or SIGHUP during a write removes
the temporary file before the process ends; while `protect_inputs()` is active (the command
line), a file read as input is never replaced by an output.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from .errors import SymbackpropError

_SHOWN_PATH = 200
#: A named pipe given as input may stay silent this long (seconds) before the read is refused.
PIPE_SILENCE = 30.0
#: The longest file name (bytes) of the target used in the temporary file's name, so that
#: `.NAME.XXXXXXXX.tmp` stays within the usual 255-byte limit on a name.
_TMP_NAME_BYTES = 200
#: (device, inode) of every file read as input while `protect_inputs()` is active.
_inputs: set[tuple[int, int]] | None = None
#: Temporary files being written, removed on SIGTERM/SIGHUP.
_pending: set[str] = set()
_CLEANUP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def display_path(path: str | os.PathLike[str]) -> str:
    """A path for a one-line message: unprintable characters escaped, very long ones cut."""
    text = os.fspath(path)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > _SHOWN_PATH:
        half = _SHOWN_PATH // 2
        text = f"{text[: half - 3]}...{text[-half:]}"
    return text


@contextlib.contextmanager
def protect_inputs() -> Iterator[None]:
    """While active, `write_atomic` refuses to replace a file that `read_bounded` read (the
    command line's `derive x.toml -o x.toml`)."""
    global _inputs
    previous, _inputs = _inputs, set()
    try:
        yield
    finally:
        _inputs = previous


def read_bounded(
    path: str | Path,
    limit: int,
    *,
    expected: str,
    known: str | None = None,
    error: type[SymbackpropError] = SymbackpropError,
    protect: bool = True,
) -> bytes:
    """A file's bytes, refusing more than `limit` of them (so /dev/zero cannot hang a run), with
    one-line errors; `expected` names the kind of file, `known` the bundled names to offer.
    `protect=False` lets an output replace this file (train --init p.npz --save p.npz)."""
    shown = display_path(path)
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        hint = f" ({known})" if known else ""
        raise error(f"{shown}: no such file{hint}") from None
    except IsADirectoryError:
        raise error(f"{shown}: is a directory, expected {expected}") from None
    except OSError as err:
        raise error(f"{shown}: cannot read ({_reason(err)})") from None
    except ValueError:
        raise error(f"{shown}: not a usable file name") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{shown}: is a directory, expected {expected}")
        if stat.S_ISFIFO(info.st_mode):
            raw = _read_pipe(fd, limit, shown, expected, error)
        else:
            os.set_blocking(fd, True)
            raw = _read_upto(fd, limit + 1)
    except OSError as err:
        raise error(f"{shown}: cannot read ({_reason(err)})") from None
    finally:
        os.close(fd)
    if len(raw) > limit:
        raise error(f"{shown}: too large for {expected} (limit {limit} bytes)")
    if protect and _inputs is not None and stat.S_ISREG(info.st_mode):
        _inputs.add((info.st_dev, info.st_ino))
    return raw


def _read_upto(fd: int, size: int) -> bytes:
    """Up to `size` bytes of a blocking file descriptor (less only at its end)."""
    chunks: list[bytes] = []
    while size > 0:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_pipe(
    fd: int, limit: int, shown: str, expected: str, error: type[SymbackpropError]
) -> bytes:
    """A named pipe's bytes, opened without waiting: none and no writer is an error, and so is
    a writer silent for PIPE_SILENCE seconds."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        try:
            chunk = os.read(fd, min(limit + 1 - size, 1 << 16))
        except BlockingIOError:  # a writer is there, nothing written yet
            ready, _, _ = select.select([fd], [], [], PIPE_SILENCE)
            if not ready:
                raise error(
                    f"{shown}: a pipe where nothing arrived for {PIPE_SILENCE:g} s, "
                    f"expected {expected}"
                ) from None
            continue
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if not chunks:
        raise error(f"{shown}: a pipe with nothing written to it, expected {expected}")
    return b"".join(chunks)


def check_output(path: str | os.PathLike[str]) -> os.stat_result | None:
    """Refuse, before any work, an output path that cannot become a new or replaced file:
    one line naming it and why. Returns the existing file's status (None for a new file)."""
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
        return info  # a device or pipe, written into
    if info is not None and _inputs is not None and (info.st_dev, info.st_ino) in _inputs:
        raise SymbackpropError(f"{shown}: is an input of this run; write the output elsewhere")
    if info is not None and (stat.S_IMODE(info.st_mode) & 0o222 == 0 or not _writable(name)):
        mode = f"{stat.S_IMODE(info.st_mode):04o}"
        raise SymbackpropError(
            f"{shown}: is read-only (mode {mode}); make it writable (chmod u+w) or remove it"
        )
    folder = os.path.dirname(os.path.realpath(name)) if info is not None else _folder(name)
    try:
        folder_info = os.stat(folder)
    except FileNotFoundError:
        raise SymbackpropError(
            f"{shown}: cannot write: the folder {display_path(folder)} does not exist"
        ) from None
    except (OSError, ValueError) as err:
        raise SymbackpropError(f"{shown}: cannot write ({_reason(err)})") from None
    if not stat.S_ISDIR(folder_info.st_mode):
        raise SymbackpropError(f"{shown}: cannot write ({os.strerror(errno.ENOTDIR)})")
    if not _writable(folder, os.W_OK | os.X_OK):
        raise SymbackpropError(f"{shown}: cannot write ({os.strerror(errno.EACCES)})")
    return info


def _folder(name: str) -> str:
    """The folder a new file `name` goes into (symbolic links in it resolved)."""
    return os.path.realpath(os.path.dirname(name) or ".")


def _writable(name: str, mode: int = os.W_OK) -> bool:
    try:
        return os.access(name, mode)
    except (OSError, ValueError):
        return False


def write_atomic(path: str | Path, content: str | bytes) -> None:
    """Write `content` (text as UTF-8, or bytes) to `path` so that a failure leaves any existing
    file untouched.

    An existing file keeps its permissions; a read-only one is refused; a symbolic link is
    written through (the file it points to is replaced, not the link); a device or pipe such as
    /dev/stdout is written into (a named pipe no one reads is refused, not waited on).
    """
    shown = display_path(path)
    name = os.fspath(path)
    info = check_output(name)
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_into(name, shown, content)
        return
    mode = stat.S_IMODE(info.st_mode) if info is not None else _default_mode()
    tmp_name = None
    with _cleanup_on_signal():
        try:
            target = Path(os.path.realpath(name))
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{_short(target.name)}.", suffix=".tmp", dir=target.parent
            )
            _pending.add(tmp_name)
            with os.fdopen(fd, "wb") as handle:
                handle.write(_encoded(content))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, mode)
            os.replace(tmp_name, target)
            _pending.discard(tmp_name)
            tmp_name = None
        except (OSError, ValueError) as err:
            raise SymbackpropError(f"{shown}: cannot write ({_reason(err)})") from None
        finally:
            if tmp_name is not None:
                _pending.discard(tmp_name)
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)


def _short(name: str) -> str:
    """`name` cut to _TMP_NAME_BYTES bytes of UTF-8 (whole characters), for the prefix."""
    encoded = os.fsencode(name)
    if len(encoded) <= _TMP_NAME_BYTES:
        return name
    return os.fsdecode(encoded[:_TMP_NAME_BYTES].decode("utf-8", "ignore").encode("utf-8"))


@contextlib.contextmanager
def _cleanup_on_signal() -> Iterator[None]:
    """While writing: a SIGTERM or SIGHUP (with no handler of the program's own) removes the
    temporary files, then ends the process by that signal as it would have ended anyway."""
    installed = []
    for number in _CLEANUP_SIGNALS:
        try:
            if signal.getsignal(number) is signal.SIG_DFL:
                signal.signal(number, _remove_pending_and_die)
                installed.append(number)
        except ValueError:  # not the main thread: signals stay as they are
            break
    try:
        yield
    finally:
        for number in installed:
            signal.signal(number, signal.SIG_DFL)


def _remove_pending_and_die(number: int, frame: FrameType | None) -> None:
    for name in list(_pending):
        with contextlib.suppress(OSError):
            os.unlink(name)
    signal.signal(number, signal.SIG_DFL)
    os.kill(os.getpid(), number)


def _encoded(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _write_into(name: str, shown: str, content: str | bytes) -> None:
    """Write to a device or pipe (not a regular file), where a rename makes no sense; a named
    pipe must have a reader already (opening it does not wait for one)."""
    try:
        fd = os.open(name, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        if err.errno == errno.ENXIO:
            raise SymbackpropError(f"{shown}: a named pipe that no one reads") from None
        raise SymbackpropError(f"{shown}: cannot write ({_reason(err)})") from None
    except ValueError as err:
        raise SymbackpropError(f"{shown}: cannot write ({_reason(err)})") from None
    try:
        os.set_blocking(fd, True)
        write_all(fd, _encoded(content))
    except OSError as err:
        raise SymbackpropError(f"{shown}: cannot write ({_reason(err)})") from None
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a file descriptor: a short write is continued, never dropped (a
    full disk then raises ENOSPC, a closed pipe EPIPE)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        view = view[written:]


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
