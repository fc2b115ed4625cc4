"""Regenerate the bundled CSV data sets from their fixed seeds: python -m symbackprop.datasets.make

The committed files must equal this output; tests/test_train.py checks that they do. The
external sets (digits) are not generated: `--digits SKLEARN_DIGITS_CSV_GZ` converts
scikit-learn's digits.csv.gz into symbackprop/datasets/digits.csv.gz (see DIGITS.md).
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
from pathlib import Path

from symbackprop.data import dataset_csv, generated
from symbackprop.files import write_atomic

FOLDER = Path(__file__).resolve().parent
#: The digits set's shape: 8x8 pixels of 0..16 and a class label 0..9.
DIGITS_PIXELS, DIGITS_LEVELS, DIGITS_CLASSES = 64, 16, 10


def convert_digits(raw: bytes) -> bytes:
    """scikit-learn's digits.csv.gz (rows of 64 pixels 0..16 then the label, no header) as our
    gzipped CSV: a header, the pixels divided by 16 (exact decimals), the label one-hot."""
    rows = list(csv.reader(io.StringIO(gzip.decompress(raw).decode("ascii"))))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [f"x{i}" for i in range(1, DIGITS_PIXELS + 1)] + [f"y{k}" for k in range(DIGITS_CLASSES)]
    )
    for number, row in enumerate(rows, start=1):
        values = [int(cell) for cell in row]
        *pixels, label = values
        if len(pixels) != DIGITS_PIXELS or not 0 <= label < DIGITS_CLASSES:
            raise ValueError(f"row {number}: expected {DIGITS_PIXELS} pixels and a label 0..9")
        if not all(0 <= p <= DIGITS_LEVELS for p in pixels):
            raise ValueError(f"row {number}: a pixel outside 0..{DIGITS_LEVELS}")
        writer.writerow(
            [f"{p / DIGITS_LEVELS:g}" for p in pixels]
            + ["1" if k == label else "0" for k in range(DIGITS_CLASSES)]
        )
    # mtime=0 and no file name in the header: the same input always gives the same bytes.
    return gzip.compress(out.getvalue().encode("ascii"), compresslevel=9, mtime=0)


def main(argv: list[str] | None = None) -> int:
    """Write every generated data set next to this script (or, with --digits SOURCE, convert
    scikit-learn's digits file); print the files written."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--digits"] and len(args) == 2:
        target = FOLDER / "digits.csv.gz"
        write_atomic(target, convert_digits(Path(args[1]).read_bytes()))
        print(f"wrote {target}")
        return 0
    if args:
        print("usage: python -m symbackprop.datasets.make [--digits DIGITS_CSV_GZ]")
        return 2
    for name in generated():
        target = FOLDER / f"{name}.csv"
        write_atomic(target, dataset_csv(name))
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
