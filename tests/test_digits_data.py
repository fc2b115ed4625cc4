"""The bundled `digits` set (scikit-learn's copy of the UCI optdigits test set): its shape,
pixels, one-hot targets and class counts, checked against facts of the original file, and the
one-line error for a network of the wrong size."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pytest

from symbackprop import cli
from symbackprop.data import bundled, describe, generated, load_data
from symbackprop.datasets import make
from symbackprop.errors import SymbackpropError
from symbackprop.spec import Network, load_spec_text, network_from_dict

DIGITS = Path(__file__).resolve().parent.parent / "symbackprop" / "datasets" / "digits.csv.gz"

#: Images per class 0..9, counted in scikit-learn 1.9.1's sklearn/datasets/data/digits.csv.gz
#: (its last column); the same as UCI's class distribution of optdigits.tes.
CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
#: The first row of that file: 64 pixels 0..16, then its label, 0.
FIRST_ORIGINAL = (
    "0,0,5,13,9,1,0,0,0,0,13,15,10,15,5,0,0,3,15,2,0,11,8,0,0,4,12,0,0,8,8,0,0,5,8,0,0,9,8,0,"
    "0,4,11,0,1,12,7,0,0,2,14,5,10,12,0,0,0,0,6,13,10,0,0,0,0"
)

SOFTMAX_SPEC = """\
name = "digits_softmax"
inputs = 64
loss = "cross_entropy"

[[layers]]
units = 10
activation = "softmax"
"""


@pytest.fixture(scope="module")
def softmax() -> Network:
    return load_spec_text(SOFTMAX_SPEC)


@pytest.fixture(scope="module")
def digits(softmax: Network) -> tuple[np.ndarray, np.ndarray]:
    return load_data("digits", softmax)


def committed_rows() -> list[list[str]]:
    """The committed file read with gzip and csv alone, independent of symbackprop.data."""
    with gzip.open(DIGITS, "rt", encoding="ascii", newline="") as file:
        return list(csv.reader(file))


def test_digits_is_bundled_but_not_generated() -> None:
    assert "digits" in bundled()
    assert "digits" not in generated()
    assert describe("digits") == (
        "1797 rows, 64 inputs (8x8 pixels, 0..16 scaled to 0..1), 10 one-hot targets:"
        " handwritten digits"
    )


def test_shape_pixels_and_one_hot_targets(digits: tuple[np.ndarray, np.ndarray]) -> None:
    X, Y = digits
    assert X.shape == (1797, 64) and Y.shape == (1797, 10)
    assert X.dtype == Y.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))  # multiples of 1/16, exactly
    assert set(np.unique(Y)) == {0.0, 1.0}
    np.testing.assert_array_equal(Y.sum(axis=1), np.ones(1797))


def test_class_counts_are_the_original_files(digits: tuple[np.ndarray, np.ndarray]) -> None:
    _, Y = digits
    assert Y.sum(axis=0).astype(int).tolist() == CLASS_COUNTS
    assert sum(CLASS_COUNTS) == 1797


def test_first_image_is_the_original_first_row(digits: tuple[np.ndarray, np.ndarray]) -> None:
    *pixels, label = (int(cell) for cell in FIRST_ORIGINAL.split(","))
    assert label == 0 and len(pixels) == 64
    rows = committed_rows()
    assert rows[0] == [f"x{i}" for i in range(1, 65)] + [f"y{k}" for k in range(10)]
    assert len(rows) == 1 + 1797
    first = rows[1]
    assert [float(cell) * 16 for cell in first[:64]] == pixels
    assert first[64:] == ["1"] + ["0"] * 9
    X, Y = digits
    np.testing.assert_array_equal(X[0] * 16, pixels)
    assert int(np.argmax(Y[0])) == 0


def test_conversion_reproduces_the_committed_file() -> None:
    original = gzip.compress(f"{FIRST_ORIGINAL}\n".encode("ascii"))
    converted = gzip.decompress(make.convert_digits(original)).decode("ascii")
    committed = gzip.decompress(DIGITS.read_bytes()).decode("ascii")
    assert converted == "\n".join(committed.split("\n")[:2]) + "\n"
    assert make.convert_digits(original) == make.convert_digits(original)  # no timestamp


def test_a_network_of_the_wrong_size_is_one_line() -> None:
    tiny = network_from_dict(
        {
            "name": "tiny",
            "inputs": 2,
            "loss": "squared_error",
            "layers": [{"units": 1, "activation": "sigmoid"}],
        }
    )
    with pytest.raises(SymbackpropError) as caught:
        load_data("digits", tiny)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("digits (bundled data set): 64 inputs + 10 targets")
    assert "'tiny' needs 2 inputs + 1 target = 3" in message


def test_64_inputs_but_not_10_outputs_is_refused() -> None:
    wide = network_from_dict(
        {
            "name": "wide",
            "inputs": 64,
            "loss": "squared_error",
            "layers": [{"units": 3, "activation": "sigmoid"}],
        }
    )
    with pytest.raises(SymbackpropError, match=r"^digits \(bundled data set\): .*'wide' needs"):
        load_data("digits", wide)


def test_train_on_digits_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "digits_softmax.toml"
    spec.write_text(SOFTMAX_SPEC, encoding="utf-8")
    args = ["train", str(spec), "--data", "digits", "--lr", "0.5", "--epochs", "10"]
    status = cli.main([*args, "--batch-size", "32", "--seed", "0"])
    out, err = capsys.readouterr()
    assert status == 0, err
    accuracy = float(out.split("accuracy ")[1].split("%")[0])
    assert accuracy > 90.0, out


def test_committed_file_is_small_and_plain_gzip() -> None:
    raw = DIGITS.read_bytes()
    assert raw[:2] == b"\x1f\x8b" and len(raw) < 80_000
    text = gzip.decompress(raw).decode("ascii")
    assert next(csv.reader(io.StringIO(text)))[-1] == "y9"
