"""The repeat cache: a command's answer for a spec, kept as JSON so a second run needs no
derivation (and a repeated `derive`, no SymPy).

An entry is data: one JSON object of strings and integers, read with a strict schema check and
its text's SHA-256; nothing in it runs when it is read. A corrupt, truncated, foreign (another
user's), oversized or other-version entry is ignored and rebuilt. The key is the spec as TOML
parses it (so two files holding one network share an entry), the name it is shown under where
the output quotes it, the package's and SymPy's versions (the latter read from the installed
metadata, not by importing SymPy) and the command's options. The folder is
`$SYMBACKPROP_CACHE_DIR`, else `$XDG_CACHE_HOME/symbackprop`, else `~/.cache/symbackprop`,
made 0700; `SYMBACKPROP_NO_CACHE=1` (or a command's `--no-cache`) turns the cache off, and a
folder that cannot be made or written, or is not the user's own, turns it off silently.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

from ._version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see cli/__init__)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from .codegen import Backend, GeneratedModule
    from .progress import Report
    from .spec import Network

    Meta = dict[str, str | int | list[int]]

#: The entry format; an entry with any other is rebuilt.
SCHEMA = "symbackprop-cache/1"
#: Entries larger than this are neither written nor read (the cache stays small).
MAX_ENTRY_BYTES = 8 * 1024 * 1024
#: `spec.MAX_SPEC_BYTES`, named here so that the cache needs no SymPy (a test checks they agree).
MAX_SPEC_BYTES = 1_000_000
#: The environment variables that place and disable the cache.
DIR_VARIABLE, OFF_VARIABLE = "SYMBACKPROP_CACHE_DIR", "SYMBACKPROP_NO_CACHE"


def directory() -> Path:
    """Where entries live (not necessarily existing)."""
    chosen = os.environ.get(DIR_VARIABLE)
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "symbackprop"


def enabled(no_cache: bool = False) -> bool:
    """Whether to use the cache: not with --no-cache or SYMBACKPROP_NO_CACHE set (not 0)."""
    return not no_cache and os.environ.get(OFF_VARIABLE, "") in ("", "0")


def spec_text(spec: str) -> tuple[str, str] | None:
    """The TOML text of a spec argument and the name load_spec shows it under, found as
    load_spec finds it (a file here, else a bundled example); None if it cannot be read (the
    command's own load_spec then reports why)."""
    from importlib import resources

    from .errors import SymbackpropError
    from .files import display_path, read_bounded

    try:
        exists = Path(spec).exists()
    except (OSError, ValueError):
        exists = False
    if not exists:
        bundled = resources.files("symbackprop") / "examples" / f"{spec}.toml"
        if os.sep in spec or "/" in spec or not bundled.is_file():
            return None
        return bundled.read_text("utf-8"), f"{spec} (bundled example)"
    try:
        raw = read_bounded(spec, MAX_SPEC_BYTES, expected="a TOML spec")
        return raw.decode("utf-8-sig"), display_path(spec)
    except (SymbackpropError, UnicodeDecodeError):
        return None


def key(command: str, spec: str, options: Mapping[str, object], *, shown: bool) -> str | None:
    """The entry name for `command` run on the spec argument `spec` with `options` (JSON
    values); `shown` when the output quotes the spec's name (derive's documents do). None when
    the spec cannot be read or parsed: then nothing is cached."""
    import tomllib

    found = spec_text(spec)
    if found is None:
        return None
    text, source = found
    try:
        data = tomllib.loads(text)
        what = {
            "schema": SCHEMA,
            "command": command,
            "spec": data,
            "source": source if shown else None,
            "symbackprop": __version__,
            "code": _code_fingerprint(),
            "sympy": _sympy_version(),
            "options": dict(options),
        }
        blob = json.dumps(what, sort_keys=True, ensure_ascii=True, default=str)
    except (ValueError, TypeError, RecursionError):  # bad TOML: load_spec says where
        return None
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _code_fingerprint() -> str:
    """The package's and its templates' files by name, size and modification time, so an edited
    checkout (same version number) does not reuse answers of the code before the edit."""
    here = Path(__file__).resolve().parent
    tops = [here]  # an installed package has its templates inside; a checkout, beside it
    if (here.parent / "pyproject.toml").is_file():
        tops.append(here.parent / "templates")
    parts: list[str] = []
    for top in tops:
        for folder, subfolders, files in os.walk(top):
            subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
            for file in sorted(files):
                try:
                    info = os.stat(os.path.join(folder, file))
                except OSError:
                    continue
                parts.append(f"{folder}/{file}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _sympy_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("sympy")
    except metadata.PackageNotFoundError:
        return "none"


def get(name: str | None) -> tuple[str, Meta] | None:
    """The text and metadata stored under `name`, or None: no entry, or one that is not the
    current user's own regular file, is too large, or fails the schema or its checksum."""
    if name is None:
        return None
    path = directory() / f"{name}.json"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return None
        if info.st_size > MAX_ENTRY_BYTES:
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        entry = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return _checked(entry, name)


def _checked(entry: object, name: str) -> tuple[str, Meta] | None:
    """The entry's text and metadata if it has exactly the schema's shape and its digest."""
    if not isinstance(entry, dict) or set(entry) != {"schema", "key", "text", "sha256", "meta"}:
        return None
    text, meta = entry["text"], entry["meta"]
    if entry["schema"] != SCHEMA or entry["key"] != name or not isinstance(text, str):
        return None
    if not isinstance(meta, dict) or not all(_meta_value(v) for v in meta.values()):
        return None
    if entry["sha256"] != hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest():
        return None
    return text, meta


def _meta_value(value: object) -> bool:
    if isinstance(value, list):
        return all(type(item) is int for item in value)
    return isinstance(value, str) or type(value) is int


def put(name: str | None, text: str, meta: Meta | None = None) -> None:
    """Store `text` (and `meta`) under `name`, atomically; silently nothing when the folder
    cannot be made or written, is not the user's own, or the entry would be too large."""
    if name is None:
        return
    entry = {
        "schema": SCHEMA,
        "key": name,
        "text": text,
        "sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        "meta": meta or {},
    }
    try:
        data = json.dumps(entry, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (ValueError, TypeError):
        return
    if len(data) > MAX_ENTRY_BYTES:
        return
    folder = directory()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.stat(folder, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            return
        fd, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=folder)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, folder / f"{name}.json")
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def module(
    spec: str,
    network: Network,
    backend: Backend = "numpy",
    *,
    use: bool = True,
    progress: Report | None = None,
) -> tuple[GeneratedModule, list[int]]:
    """`codegen.generate(network, backend)` and the layers whose σ' has a kink (gradcheck's
    `kinked_layers`), for the spec argument `spec` that `network` was loaded from: from the
    cache when `use` and an entry is there whose module passes its own checksum line, else
    derived, generated and stored."""
    from .codegen import GeneratedModule, checksum_ok

    name = key("module", spec, {"backend": backend}, shown=False) if use else None
    hit = get(name)
    if hit is not None:
        source, meta = hit
        kinked, ours = meta.get("kinked"), f"# Generated by symbackprop {__version__} "
        fits = meta.get("name") == network.name and isinstance(kinked, list)
        if fits and isinstance(kinked, list) and source.startswith(ours) and checksum_ok(source):
            return GeneratedModule(network.name, source), kinked
    from .codegen import generate
    from .derive import derive
    from .gradcheck import kinked_layers

    derivation = derive(network, progress=progress)
    generated = generate(derivation, backend=backend)
    kinked = kinked_layers(derivation)
    put(name, generated.source, {"name": network.name, "kinked": kinked})
    return generated, kinked
