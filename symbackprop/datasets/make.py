"""Regenerate the bundled CSV data sets from their fixed seeds: python -m symbackprop.datasets.make

The committed files must equal this output; tests/test_train.py checks that they do.
"""

from __future__ import annotations

import sys
from pathlib import Path

from symbackprop.data import bundled, dataset_csv
from symbackprop.files import write_atomic

FOLDER = Path(__file__).resolve().parent


def main() -> int:
    """Write every bundled data set next to this script; print the files written."""
    for name in bundled():
        target = FOLDER / f"{name}.csv"
        write_atomic(target, dataset_csv(name))
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
