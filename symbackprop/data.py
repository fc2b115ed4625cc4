"""Training data for `symbackprop train`: CSV or NPZ files, or a bundled data set by name.

CSV: one sample per row, the input columns then the target columns, comma-separated; the first
row is a header when none of its cells is a number.  For a classifier (softmax output) the
targets may instead be one column of integer class labels 0..K-1, which are one-hot encoded.
NPZ: arrays ``X`` (rows, inputs) and ``Y`` (rows, outputs); for a classifier ``Y`` may be a
vector of integer labels, and for one output a vector of targets.  Every problem is reported
as one line naming the file, and the row and column where there is one (counted from 1, as a
spreadsheet does).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import IO, Any

import numpy as np

from .errors import SymbackpropError
from .files import display_path, read_bounded
from .spec import Network

#: CSV files larger than this are refused before they are parsed.
MAX_DATA_BYTES = 512 * 1024 * 1024
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_ZIP_MAGIC = b"PK\x03\x04"
_SHOWN_CELL = 30

Dataset = tuple[np.ndarray, np.ndarray]
#: Locates entry (i, j) of the targets (0-based) for a message: 'row 5, column 3'.
_Where = Callable[[int, int], str]


# ---------------------------------------------------------------- bundled data sets


def _xor() -> tuple[list[str], list[list[str]]]:
    """The four corners of the unit square; the target is 1 where exactly one input is 1."""
    rows = [[str(a), str(b), str(a ^ b)] for a in (0, 1) for b in (0, 1)]
    return ["x1", "x2", "y"], rows


def _two_class() -> tuple[list[str], list[list[str]]]:
    """Two interleaved half-moons, 100 points each with N(0, 0.1^2) noise; labels one-hot."""
    rng = np.random.default_rng(20180915)
    per_class = 100
    t = np.linspace(0.0, math.pi, per_class)
    upper = np.column_stack([np.cos(t), np.sin(t)])
    lower = np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)])
    points = np.vstack([upper, lower]) + rng.normal(0.0, 0.1, size=(2 * per_class, 2))
    labels = np.repeat([0, 1], per_class)
    order = rng.permutation(2 * per_class)
    rows = [
        [
            f"{points[i, 0]:.4f}",
            f"{points[i, 1]:.4f}",
            *("1" if labels[i] == k else "0" for k in (0, 1)),
        ]
        for i in order
    ]
    return ["x1", "x2", "y1", "y2"], rows


def _separable() -> tuple[list[str], list[list[str]]]:
    """100 points in 3-D labelled 1 on one side of a fixed plane: a single neuron can learn it."""
    rng = np.random.default_rng(2018)
    points = rng.uniform(-1.0, 1.0, size=(100, 3)).round(4)
    side = points @ np.array([1.5, -2.0, 1.0]) + 0.25 > 0
    rows = [
        [*(f"{v:.4f}" for v in p), "1" if s else "0"] for p, s in zip(points, side, strict=True)
    ]
    return ["x1", "x2", "x3", "y"], rows


#: name -> (what it is, its generator); the CSV files in symbackprop/datasets/ are their output.
BUNDLED: dict[str, tuple[str, Callable[[], tuple[list[str], list[list[str]]]]]] = {
    "xor": ("4 rows, 2 inputs, 1 target: exclusive or", _xor),
    "two_class": ("200 rows, 2 inputs, 2 one-hot targets: two moons", _two_class),
    "separable": ("100 rows, 3 inputs, 1 target: linearly separable", _separable),
}

#: name -> (what it is, its committed file in symbackprop/datasets/, (inputs, outputs)): data
#: from elsewhere, read as committed, never generated (DIGITS.md says where digits comes from).
EXTERNAL: dict[str, tuple[str, str, tuple[int, int]]] = {
    "digits": (
        "1797 rows, 64 inputs (8x8 pixels, 0..16 scaled to 0..1), 10 one-hot targets:"
        " handwritten digits",
        "digits.csv.gz",
        (64, 10),
    ),
}


def bundled() -> list[str]:
    """Names of the bundled data sets, usable wherever a data file goes."""
    return sorted([*BUNDLED, *EXTERNAL])


def generated() -> list[str]:
    """Names of the bundled data sets made from fixed seeds, which
    `python -m symbackprop.datasets.make` rewrites."""
    return sorted(BUNDLED)


def describe(name: str) -> str:
    """What a bundled data set is, in a line: rows, inputs, targets."""
    return BUNDLED[name][0] if name in BUNDLED else EXTERNAL[name][0]


def dataset_csv(name: str) -> str:
    """The CSV text of a generated bundled data set, regenerated from its fixed seed."""
    header, rows = BUNDLED[name][1]()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _bundled_text(name: str) -> str:
    """The committed CSV text of a bundled set (an external one's file may be gzipped)."""
    folder = resources.files("symbackprop") / "datasets"
    if name not in EXTERNAL:
        return (folder / f"{name}.csv").read_text("utf-8")
    file = EXTERNAL[name][1]
    raw = (folder / file).read_bytes()
    return (gzip.decompress(raw) if file.endswith(".gz") else raw).decode("utf-8")


def _check_bundled_shape(name: str, network: Network, source: str) -> None:
    """An external set's inputs and targets must be the network's: one line if they are not."""
    if name not in EXTERNAL:
        return  # a generated set's columns are checked as any CSV's are
    inputs, outputs = EXTERNAL[name][2]
    if (network.inputs, network.sizes[-1]) != (inputs, outputs):
        raise SymbackpropError(
            f"{source}: {inputs} inputs + {outputs} targets, but the spec {network.name!r}"
            f" needs {_targets_wanted(network)}"
        )


# ---------------------------------------------------------------- loading


def load_data(
    path_or_name: str | Path, network: Network, *, targets_optional: bool = False
) -> Dataset:
    """X (rows, inputs) and Y (rows, outputs), float64, from a CSV or NPZ file or a bundled set.

    A file of a bundled set's name, where there is one, is read instead of the set (the
    command line says so on stderr). `targets_optional` (predict): data of the inputs alone
    (CSV columns, or an NPZ without Y) is accepted too, with Y of shape (rows, 0)."""
    shown = display_path(path_or_name)
    file = Path(path_or_name)
    try:
        exists = file.exists()
    except (OSError, ValueError):
        exists = False
    if not exists and str(path_or_name) in bundled():
        name, source = str(path_or_name), f"{path_or_name} (bundled data set)"
        _check_bundled_shape(name, network, source)
        return parse_csv(_bundled_text(name), network, source, targets_optional)
    raw = read_bounded(
        file,
        MAX_DATA_BYTES,
        expected="a CSV or NPZ file",
        known=f"bundled data sets, usable by name: {', '.join(bundled())}",
    )
    if raw.startswith(_ZIP_MAGIC):
        return parse_npz(raw, network, shown, targets_optional)
    if not raw.strip():
        raise SymbackpropError(f"{shown}: empty file, expected CSV rows or an NPZ archive")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        row = raw.count(b"\n", 0, err.start) + 1
        raise SymbackpropError(
            f"{shown}: row {row}: not UTF-8 text (bad byte at offset {err.start})"
        ) from None
    return parse_csv(text, network, shown, targets_optional)


def _targets_wanted(network: Network) -> str:
    """What the target columns must be, for messages."""
    outputs = network.sizes[-1]
    needs = (
        f"{network.inputs} input{'s' * (network.inputs != 1)} + {outputs} "
        f"target{'s' * (outputs != 1)} = {network.inputs + outputs}"
    )
    if _labels_allowed(network):
        needs += f" (or {network.inputs} inputs + 1 class label = {network.inputs + 1})"
    return needs


def _labels_allowed(network: Network) -> bool:
    """A softmax classifier accepts one column of integer labels in place of one-hot targets."""
    return network.layers[-1].activation.is_softmax


def _cell(text: str) -> str:
    """A cell's text for a one-line message: quoted, unprintable characters escaped, cut."""
    shown = repr(text)
    return shown if len(shown) <= _SHOWN_CELL else shown[: _SHOWN_CELL - 4] + "...'"


def _number(text: str, where: str) -> float:
    """One cell as a finite float; `where` is 'FILE: row R, column C' for the message."""
    cell = text.strip()
    if not cell:
        raise SymbackpropError(f"{where}: empty cell, expected a number")
    if _NOT_FINITE.fullmatch(cell):
        raise SymbackpropError(f"{where}: {_cell(cell)} is not a finite number")
    if not _NUMBER.fullmatch(cell):
        raise SymbackpropError(f"{where}: {_cell(cell)} is not a number")
    value = float(cell)
    if not math.isfinite(value):
        raise SymbackpropError(f"{where}: {_cell(cell)} is too large for a float")
    return value


def _is_number(text: str) -> bool:
    cell = text.strip()
    return bool(_NUMBER.fullmatch(cell) or _NOT_FINITE.fullmatch(cell))


def _lines(text: str) -> Iterator[str]:
    """The lines of `text` one at a time, with their endings (\\n, \\r\\n or \\r, as
    io.StringIO(newline="") splits them) for csv.reader, without copying the whole text
    (io.StringIO holds four bytes a character)."""
    for match in _LINE.finditer(text):
        yield match.group()


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def parse_csv(text: str, network: Network, source: str, targets_optional: bool = False) -> Dataset:
    """Parse CSV text for `network`; `source` names it in error messages.

    Rows are parsed as they are read into blocks of float64 (a record's cells are never all
    kept as strings), so the memory needed is about the text's size plus the numbers'."""
    reader = csv.reader(_lines(text), strict=True)
    inputs, outputs = network.inputs, network.sizes[-1]
    blocks: list[np.ndarray] = []
    row_numbers: list[np.ndarray] = []
    block = np.empty((0, 0))
    numbers = np.empty(0, dtype=np.int64)
    filled = 0
    first_row, width, header, labels = 0, 0, False, False
    row = 0
    try:
        for row, record in enumerate(reader, start=1):
            if not any(cell.strip() for cell in record):
                continue
            if not width:
                first_row, width = row, len(record)
                header = not any(_is_number(cell) for cell in record)
                labels = _labels_allowed(network) and width == inputs + 1
                alone = targets_optional and width == inputs  # the inputs alone
                _check_width(width, record, first_row, network, source, labels or alone)
                if header:
                    continue
            if filled == len(block):
                if filled:
                    blocks.append(block)
                    row_numbers.append(numbers)
                block = np.empty((_BLOCK_ROWS, width), dtype=np.float64)
                numbers = np.empty(_BLOCK_ROWS, dtype=np.int64)
                filled = 0
            _parse_row(record, row, width, first_row, source, block[filled])
            numbers[filled] = row
            filled += 1
    except csv.Error as err:
        raise SymbackpropError(f"{source}: row {row + 1}: not valid CSV ({err})") from None
    if not width:
        raise SymbackpropError(f"{source}: empty file, expected CSV rows")
    if not blocks and not filled:
        raise SymbackpropError(f"{source}: only a header row (row {first_row}), no data rows")
    blocks.append(block[:filled])
    row_numbers.append(numbers[:filled])
    values = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    del blocks
    rows = np.concatenate(row_numbers)
    X = values[:, :inputs]
    if labels:
        return X, _one_hot(
            values[:, inputs], outputs, source, lambda i, j: f"row {rows[i]}, column {width}"
        )
    Y = values[:, inputs:]
    if Y.shape[1]:
        _check_targets(Y, network, source, lambda i, j: f"row {rows[i]}, column {inputs + j + 1}")
    return X, Y


#: Rows per block of parsed CSV numbers.
_BLOCK_ROWS = 65_536


def _check_width(
    width: int, first: list[str], first_row: int, network: Network, source: str, labels: bool
) -> None:
    """The first row's columns must be the network's inputs and targets (or class labels)."""
    if width == network.inputs + network.sizes[-1] or labels:
        return
    hint = ""
    if width == 1 and any(sep in first[0] for sep in ";\t"):
        hint = "; separate the columns with commas"
    raise SymbackpropError(
        f"{source}: {width} column{'s' * (width != 1)} (row {first_row}), but the spec "
        f"{network.name!r} needs {_targets_wanted(network)}{hint}"
    )


def _parse_row(
    record: list[str], row: int, width: int, first_row: int, source: str, out: np.ndarray
) -> None:
    """One record's cells into `out`, or a one-line error naming the row and column."""
    if len(record) != width:
        column = min(len(record), width) + 1
        what = "missing cell" if len(record) < width else "extra cell"
        raise SymbackpropError(
            f"{source}: row {row}, column {column}: {what}; row {row} has {len(record)}"
            f" column{'s' * (len(record) != 1)}, row {first_row} has {width}"
        )
    try:  # the usual case at once: plain finite numbers (float() alone would take 1_0 and nan)
        if not any("_" in cell for cell in record):
            out[:] = [float(cell) for cell in record]
            if np.all(np.isfinite(out)):
                return
    except ValueError:
        pass
    for column, cell in enumerate(record, start=1):
        out[column - 1] = _number(cell, f"{source}: row {row}, column {column}")


def _check_targets(Y: np.ndarray, network: Network, source: str, where: _Where) -> None:
    """Targets the loss can score: 0..1 for the cross-entropies, rows summing to 1 for softmax."""
    name = network.loss.name if network.loss.builtin else ""
    if name not in ("cross_entropy", "binary_cross_entropy"):
        return
    outside = np.argwhere((Y < 0) | (Y > 1))
    if len(outside):
        i, j = (int(k) for k in outside[0])
        raise SymbackpropError(
            f"{source}: {where(i, j)}: target {Y[i, j]:g} is outside 0..1, which {name} needs"
        )
    if name == "cross_entropy":
        sums = Y.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > 1e-6)
        if len(bad):
            i = int(bad[0])
            raise SymbackpropError(
                f"{source}: {where(i, Y.shape[1] - 1)}: the targets of the row sum to"
                f" {sums[i]:g}, but cross_entropy needs one-hot targets (or probabilities"
                " summing to 1)"
            )


def _one_hot(labels: np.ndarray, classes: int, source: str, where: _Where) -> np.ndarray:
    """Integer class labels 0..classes-1 as one-hot rows; `where(i, 0)` locates label i."""
    for i, label in enumerate(labels):
        if label != int(label) or not 0 <= label < classes:
            raise SymbackpropError(
                f"{source}: {where(i, 0)}: class label {label:g} is not one of 0..{classes - 1}"
            )
    return np.eye(classes)[labels.astype(np.int64)]


def parse_npz(raw: bytes, network: Network, source: str, targets_optional: bool = False) -> Dataset:
    """Arrays X and Y from the bytes of an .npz archive, checked against `network`."""
    arrays = read_npz(raw, source)
    if targets_optional and "X" in arrays and "Y" not in arrays:
        X = arrays["X"]
        arrays["Y"] = np.empty((X.shape[0] if X.ndim else 0, 0))
    for key in ("X", "Y"):
        if key not in arrays:
            found = ", ".join(sorted(arrays)) or "none"
            raise SymbackpropError(f"{source}: no array {key!r} (arrays found: {found})")
    extra = sorted(set(arrays) - {"X", "Y"})
    if extra:
        raise SymbackpropError(f"{source}: unexpected array {extra[0]!r}; expected only X and Y")
    inputs, outputs = network.inputs, network.sizes[-1]
    X, Y = arrays["X"], arrays["Y"]
    if X.ndim != 2 or X.shape[1] != inputs or X.shape[0] == 0:
        raise SymbackpropError(
            f"{source}: X has shape {X.shape}, but the spec {network.name!r} needs"
            f" (rows, {inputs}) with at least one row"
        )
    if Y.shape == (X.shape[0], 0):  # no targets (targets_optional)
        return _finite(X, "X", source), Y
    labels = Y.ndim == 1 and _labels_allowed(network)
    if Y.ndim == 1 and outputs == 1:
        Y = Y.reshape(-1, 1)
    if not labels and Y.shape != (X.shape[0], outputs):
        also = f" or ({X.shape[0]},) of class labels" if _labels_allowed(network) else ""
        raise SymbackpropError(
            f"{source}: Y has shape {Y.shape}, but X has {X.shape[0]} rows and the spec"
            f" {network.name!r} needs ({X.shape[0]}, {outputs}){also}"
        )
    if labels and Y.shape[0] != X.shape[0]:
        raise SymbackpropError(f"{source}: Y has {Y.shape[0]} labels, but X has {X.shape[0]} rows")
    X = _finite(X, "X", source)
    Y = _finite(Y, "Y", source)
    if labels:
        return X, _one_hot(Y, outputs, source, lambda i, j: f"Y row {i + 1}")
    _check_targets(Y, network, source, lambda i, j: f"Y row {i + 1}, column {j + 1}")
    return X, Y


def read_npz(raw: bytes, source: str, limit: int = MAX_DATA_BYTES) -> dict[str, np.ndarray]:
    """Every array of an .npz archive, without unpickling anything, and without believing its
    headers: an array's size is checked against `limit` (bytes, all arrays together) before it
    is allocated, and a member is decompressed only as far as its header's size."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as err:
        raise SymbackpropError(_unreadable(source, err)) from None
    arrays: dict[str, np.ndarray] = {}
    total = 0
    with archive:
        for info in archive.infolist():
            name = info.filename
            key = name.removesuffix(".npy")
            if not name.endswith(".npy") or info.is_dir():
                raise SymbackpropError(
                    f"{source}: {key!r} is not a NumPy array (.npy) in the archive"
                )
            try:
                with archive.open(info) as member:
                    array, size = _read_member(member, key, source, limit - total)
            # zipfile: NotImplementedError (version, method), RuntimeError (encrypted), zlib.error,
            # ValueError (a negative seek from a damaged zip64 record)
            except (
                zipfile.BadZipFile,
                EOFError,
                OSError,
                ValueError,
                KeyError,
                NotImplementedError,
                RuntimeError,
                zlib.error,
            ) as err:
                raise SymbackpropError(_unreadable(source, err)) from None
            total += size
            arrays[key] = array
    return arrays


def _read_member(member: IO[bytes], key: str, source: str, room: int) -> tuple[np.ndarray, int]:
    """One .npy member: its header read and checked, then exactly the bytes it claims."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(member)
    except ValueError:
        raise SymbackpropError(
            f"{source}: {key!r} is not a NumPy array (.npy) in the archive"
        ) from None
    try:
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(member, max_header_size=_MAX_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(member, max_header_size=_MAX_HEADER)
        else:
            raise SymbackpropError(
                f"{source}: {key!r}: .npy format version {version[0]}.{version[1]}, which is"
                " not read; write it again with numpy.savez"
            )
    except ValueError as err:
        if "max_header_size" in str(err):
            raise SymbackpropError(
                f"{source}: {key!r}: its .npy header is longer than {_MAX_HEADER:,} bytes, so"
                " it is not read; write it again with numpy.savez"
            ) from None
        raise SymbackpropError(_unreadable(source, err)) from None
    if dtype.hasobject:
        raise SymbackpropError(
            f"{source}: {key!r} holds Python objects (pickles), which are not loaded; save"
            " numeric arrays"
        )
    if dtype.itemsize == 0:
        raise SymbackpropError(
            f"{source}: {key} holds {describe_dtype(dtype)} of no size, expected numbers"
        )
    if any(n < 0 for n in shape):
        raise SymbackpropError(_unreadable(source, ValueError("negative shape")))
    count = math.prod(shape)
    size = count * dtype.itemsize
    if size > room:
        raise SymbackpropError(
            f"{source}: {key!r} has shape {shape} ({size:,} bytes of {dtype}), more than a"
            f" data file may hold ({MAX_DATA_BYTES:,} bytes)"
        )
    data = member.read(size)
    if len(data) < size:
        raise SymbackpropError(
            f"{source}: {key!r} has shape {shape} but holds only {len(data):,} of its"
            f" {size:,} bytes; the archive is damaged or cut short"
        )
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran else "C"), size


#: The longest .npy header read (NumPy's own default limit).
_MAX_HEADER = 10_000


def _unreadable(source: str, err: Exception) -> str:
    """The message for an archive numpy cannot open, with the reason in plain words."""
    if isinstance(err, zipfile.BadZipFile) and "not a zip file" in str(err):
        reason = "it is not a zip archive"
    elif "encrypt" in str(err) or "password" in str(err):
        reason = "it is encrypted"
    elif isinstance(err, NotImplementedError):
        reason = "it uses a zip feature NumPy cannot read"
    else:
        reason = "it is damaged or cut short"
    return f"{source}: not a readable .npz archive ({reason}); write it again with numpy.savez"


def describe_dtype(dtype: np.dtype[Any]) -> str:
    """What an array holds, in words: 'text', 'complex numbers', or the NumPy type name."""
    kinds = {
        "U": "text",
        "S": "bytes",
        "c": "complex numbers",
        "M": "dates",
        "m": "time spans",
        "V": "records",
        "O": "Python objects",
    }
    return kinds.get(dtype.kind, f"{dtype} values")


def _finite(array: np.ndarray, key: str, source: str) -> np.ndarray:
    """`array` as float64 if it is real and finite; else an error naming the first bad entry."""
    if not (
        array.dtype == np.bool_
        or np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        kind = describe_dtype(array.dtype)
        raise SymbackpropError(f"{source}: {key} holds {kind}, expected numbers")
    values = array.astype(np.float64)
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        place = f"row {index[0] + 1}" + (f", column {index[1] + 1}" if len(index) > 1 else "")
        raise SymbackpropError(f"{source}: {key} {place}: {values[index]} is not a finite number")
    return values
