"""`symbackprop train` and symbackprop.data: training compared with hand-written NumPy, data
loading and its one-line errors, --save/--init, --plot, the progress bar, bundled data sets."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symbackprop import cli
from symbackprop.data import bundled, dataset_csv, generated, load_data
from symbackprop.errors import SymbackpropError
from symbackprop.spec import Network, load_spec, load_spec_text
from symbackprop.train import train_network

DATASETS = Path(__file__).resolve().parent.parent / "symbackprop" / "datasets"
ERROR_PREFIX = "symbackprop: error: "
#: The single neuron, the bundled `separable` data for it, and fixed initial parameters.
Neuron = tuple[Network, np.ndarray, np.ndarray, dict[str, np.ndarray]]

XOR_SPEC = """\
name = "xor"
inputs = 2
loss = "squared_error"

[[layers]]
units = 4
activation = "tanh"

[[layers]]
units = 1
activation = "sigmoid"
"""


@pytest.fixture
def xor_spec(tmp_path: Path) -> Path:
    path = tmp_path / "xor.toml"
    path.write_text(XOR_SPEC, encoding="utf-8")
    return path


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = cli.main(["train", *args])
    out, err = capsys.readouterr()
    return status, out, err


def one_error_line(stderr: str, *needles: str) -> str:
    """stderr is exactly one line, `symbackprop: error: ...`, holding every needle."""
    lines = stderr.splitlines()
    assert len(lines) == 1 and stderr.endswith("\n"), repr(stderr)
    assert lines[0].startswith(ERROR_PREFIX), lines[0]
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


# ---------------------------------------------------------------- the single neuron, by hand


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def neuron_loss(w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray) -> float:
    """The lecture's L(w) = (σ(wᵀx + b) - y)^2, averaged over the rows."""
    return float(np.mean((sigmoid(X @ w + b) - y) ** 2))


def neuron_grad(
    w: np.ndarray, b: float, X: np.ndarray, y: np.ndarray, *, mean: bool = True
) -> tuple[np.ndarray, float]:
    """dL/dw and dL/db, 2 (h - y) h (1 - h) x, averaged (or summed) over the rows."""
    h = sigmoid(X @ w + b)
    g = 2.0 * (h - y) * h * (1.0 - h)
    scale = 1.0 / len(X) if mean else 1.0
    return scale * (X.T @ g), scale * float(np.sum(g))


def hand_epochs(
    w: np.ndarray,
    b: float,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    epochs: int,
    batch: int,
    seed: int,
    mean: bool = True,
) -> tuple[np.ndarray, float]:
    """Epochs of minibatch gradient descent, in the generated module's documented shuffle order
    (a fresh permutation per epoch from default_rng(seed))."""
    rng = np.random.default_rng(seed)
    w = w.copy()
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            rows = order[start : start + batch]
            dw, db = neuron_grad(w, b, X[rows], y[rows], mean=mean)
            w, b = w - lr * dw, b - lr * db
    return w, b


@pytest.fixture(scope="module")
def neuron() -> Neuron:
    net = load_spec("single_neuron")
    X, Y = load_data("separable", net)
    rng = np.random.default_rng(7)
    init = {"W1": rng.normal(0.0, 1.0, size=(1, 3)), "b1": np.array([0.3])}
    return net, X, Y, init


def test_single_neuron_spec_is_the_lecture_slide() -> None:
    net = load_spec("single_neuron")
    assert net.sizes == (3, 1)
    assert net.layers[0].activation.name == "sigmoid"
    assert net.loss.name == "squared_error"


@pytest.mark.parametrize("batch", [None, 1, 10], ids=["GD", "SGD", "minibatch"])
def test_gd_sgd_and_minibatches_reduce_the_loss(neuron: Neuron, batch: int | None) -> None:
    net, X, Y, init = neuron
    y = Y[:, 0]
    before = neuron_loss(init["W1"][0], init["b1"][0], X, y)
    result = train_network(net, X, Y, lr=0.5, epochs=20, batch_size=batch, seed=3, init=init)
    after = neuron_loss(result.params["W1"][0], result.params["b1"][0], X, y)
    assert after < 0.7 * before
    assert len(result.history) == 20 and result.history[-1] < result.history[0]
    assert result.metrics.loss == pytest.approx(after, rel=1e-12)
    assert np.array_equal(init["b1"], [0.3]), "init must not be modified"
    hand_right = (sigmoid(X @ result.params["W1"][0] + result.params["b1"][0]) > 0.5) == (y == 1)
    assert result.metrics.accuracy == pytest.approx(np.mean(hand_right))


@pytest.mark.parametrize("batch", [1, 10, 100], ids=["SGD", "minibatch", "full"])
def test_updates_use_the_averaged_gradient(neuron: Neuron, batch: int) -> None:
    net, X, Y, init = neuron
    y = Y[:, 0]
    result = train_network(net, X, Y, lr=0.8, epochs=1, batch_size=batch, seed=5, init=init)
    w, b = hand_epochs(init["W1"][0], init["b1"][0], X, y, lr=0.8, epochs=1, batch=batch, seed=5)
    np.testing.assert_allclose(result.params["W1"][0], w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.params["b1"], [b], rtol=1e-10, atol=1e-12)
    if batch > 1:  # the test tells the mean from the sum
        w_sum, _ = hand_epochs(
            init["W1"][0], init["b1"][0], X, y, lr=0.8, epochs=1, batch=batch, seed=5, mean=False
        )
        assert not np.allclose(result.params["W1"][0], w_sum, rtol=1e-3)


def test_full_batch_gradient_descent_matches_hand_loop(neuron: Neuron) -> None:
    net, X, Y, init = neuron
    result = train_network(net, X, Y, lr=0.5, epochs=25, batch_size=None, seed=0, init=init)
    w, b = init["W1"][0].copy(), float(init["b1"][0])
    losses = []
    for _ in range(25):
        losses.append(neuron_loss(w, b, X, Y[:, 0]))
        dw, db = neuron_grad(w, b, X, Y[:, 0])
        w, b = w - 0.5 * dw, b - 0.5 * db
    np.testing.assert_allclose(result.params["W1"][0], w, rtol=1e-10)
    np.testing.assert_allclose(result.history, losses, rtol=1e-10)


def test_regression_metrics_match_numpy(tmp_path: Path) -> None:
    net = load_spec("single_neuron")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    Y = sigmoid(X @ np.array([0.5, -1.0, 0.2]))[:, None]  # targets in (0, 1), not labels
    result = train_network(net, X, Y, lr=1.0, epochs=10, batch_size=8, seed=0)
    h = sigmoid(X @ result.params["W1"][0] + result.params["b1"][0])
    assert result.metrics.kind == "regression" and result.metrics.accuracy is None
    assert result.metrics.mae == pytest.approx(np.mean(np.abs(h - Y[:, 0])), rel=1e-12)
    assert result.metrics.rmse == pytest.approx(np.sqrt(np.mean((h - Y[:, 0]) ** 2)), rel=1e-12)


# ---------------------------------------------------------------- the CLI end to end


def test_xor_reaches_full_accuracy(capsys: pytest.CaptureFixture[str], xor_spec: Path) -> None:
    args = (str(xor_spec), "--data", "xor", "--lr", "2", "--epochs", "2000")
    status, out, err = run_main(capsys, *args)
    assert status == 0, err
    assert err == "", "no progress bar when stderr is not a terminal"
    assert "accuracy 100.0% (4 of 4)" in out
    assert "full batch (GD)" in out


@pytest.mark.parametrize("seed", ["0", "3"])
def test_bundled_xor_example_out_of_the_box(capsys: pytest.CaptureFixture[str], seed: str) -> None:
    args = ("xor", "--data", "xor", "--lr", "0.5", "--epochs", "1000", "--seed", seed)
    status, out, err = run_main(capsys, *args)
    assert status == 0, err
    assert "accuracy 100.0% (4 of 4)" in out


def test_classifier_on_two_class() -> None:
    net = load_spec("classifier")
    X, Y = load_data("two_class", net)
    result = train_network(net, X, Y, lr=0.5, epochs=300, batch_size=20, seed=0)
    p = result.params  # the accuracy again, from a hand-written forward pass
    logits = np.tanh(X @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"]
    accuracy = np.mean(np.argmax(logits, axis=1) == np.argmax(Y, axis=1))
    assert accuracy >= 0.95
    assert result.metrics.accuracy == pytest.approx(accuracy)


def test_classifier_cli_prints_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("classifier", "--data", "two_class", "--epochs", "300", "--batch-size", "20")
    status, out, err = run_main(capsys, *args)
    assert status == 0 and err == ""
    assert "minibatches of 20" in out and "lr 0.5" in out
    percent = float(out.split("accuracy ")[1].split("%")[0])
    assert percent >= 95


def test_save_then_init_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second, whole = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "c.npz"
    common = ("single_neuron", "--data", "separable", "--lr", "0.5")
    assert run_main(capsys, *common, "--epochs", "5", "--save", str(first))[0] == 0
    assert (
        run_main(capsys, *common, "--epochs", "5", "--init", str(first), "--save", str(second))[0]
        == 0
    )
    assert run_main(capsys, *common, "--epochs", "10", "--save", str(whole))[0] == 0
    net = load_spec("single_neuron")
    X, Y = load_data("separable", net)
    direct = train_network(net, X, Y, lr=0.5, epochs=5, seed=0)
    with np.load(first) as saved:
        assert sorted(saved.files) == ["W1", "b1"]
        for key in saved.files:
            np.testing.assert_array_equal(saved[key], direct.params[key])
    with np.load(second) as resumed, np.load(whole) as straight:  # GD: 5 + 5 epochs = 10
        for key in ("W1", "b1"):
            np.testing.assert_allclose(resumed[key], straight[key], rtol=1e-10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz", "c.npz"]


def test_init_with_the_wrong_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "neuron.npz"
    np.savez(saved, W1=np.zeros((1, 2)), b1=np.zeros(1))
    status, out, err = run_main(
        capsys, "single_neuron", "--data", "separable", "--init", str(saved)
    )
    assert status == 2 and out == ""
    one_error_line(err, "neuron.npz", "W1 has shape (1, 2)", "(1, 3)")
    np.savez(saved, W1=np.zeros((1, 3)))
    status, _, err = run_main(capsys, "single_neuron", "--data", "separable", "--init", str(saved))
    one_error_line(err, "neuron.npz", "no array 'b1'")


def test_plot_writes_a_png_of_the_right_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "loss.png"
    status, out, err = run_main(
        capsys, "single_neuron", "--data", "separable", "--epochs", "30", "--plot", str(target)
    )
    assert status == 0, err
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (640, 480)
    assert f"wrote {target}" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png"]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert data[-8:-4] == b"IEND"  # complete
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize(
    ("spec", "data", "extra"),
    [("xor", "xor", ()), ("classifier", "two_class", ("--batch-size", "20"))],
)
def test_plot_of_a_two_input_classifier_adds_its_decision_boundary(
    spec: str, data: str, extra: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One sigmoid output (xor) or softmax (classifier): the loss panel and, as wide again,
    the boundary predicted on a grid with the data points."""
    pytest.importorskip("matplotlib")
    target = tmp_path / "plot.png"
    status, out, err = run_main(
        capsys, spec, "--data", data, "--epochs", "20", *extra, "--plot", str(target)
    )
    assert status == 0, err
    assert _png_size(target) == (1280, 480)
    assert 20_000 < target.stat().st_size < 2_000_000
    assert f"wrote {target}" in out


def test_plot_figure_names_the_learning_rate_and_the_boundary() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from symbackprop.plots import Boundary, is_two_input_classifier, loss_figure

    assert is_two_input_classifier(load_spec("xor"))
    assert is_two_input_classifier(load_spec("classifier"))
    assert not is_two_input_classifier(load_spec("single_neuron"))
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    boundary = Boundary(lambda rows: 1 / (1 + np.exp(-(rows[:, :1] - 0.5))), X, X[:, :1], False)
    figure = loss_figure(Figure, [1.0, 0.5], title="t", ylabel="E", lr=0.25, boundary=boundary)
    loss, panel = figure.axes[:2]
    assert loss.get_legend().get_texts()[0].get_text() == "learning rate η = 0.25"
    assert "decision boundary" in panel.get_title()
    assert [t.get_text() for t in panel.get_legend().get_texts()] == ["class 0", "class 1"]


def test_plot_without_matplotlib_gives_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # import now raises ImportError
    target = tmp_path / "loss.png"
    status, out, err = run_main(capsys, "single_neuron", "--data", "xor", "--plot", str(target))
    assert status == 2 and out == ""
    one_error_line(err, "pip install symbackprop[plot]")
    assert not target.exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ("single_neuron", "--data", "separable", "--epochs", "40")
    status, out, err = run_main(capsys, *args)
    assert status == 0 and err == "" and "final loss" in out
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.delenv("CI", raising=False)  # CI keeps even a terminal quiet
    assert cli.main(["train", *args]) == 0
    shown = terminal.getvalue()
    assert "\repoch 40/40 [" in shown and "loss " in shown and shown.endswith("\n")
    assert "final loss" not in shown, "results go to stdout"


def test_subprocess_is_quiet_on_a_pipe(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "symbackprop", "train", "single_neuron", "--data", "separable"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert done.returncode == 0 and done.stderr == ""
    assert "accuracy" in done.stdout


# ---------------------------------------------------------------- bad data


BAD_CSV = [
    ("nan", "x1,x2,y\n0,0,0\n1,nan,1\n", ["row 3, column 2", "'nan'", "finite"]),
    ("inf", "0,0,0\n0,-Infinity,1\n", ["row 2, column 2", "finite"]),
    ("huge", "0,0,0\n0,1,1e999\n", ["row 2, column 3", "too large"]),
    ("text", "0,0,0\n1,abc,1\n", ["row 2, column 2", "'abc' is not a number"]),
    ("empty_cell", "0,0,0\n1,,1\n", ["row 2, column 2", "empty cell"]),
    ("short_row", "0,0,0\n1,1\n", ["row 2, column 3", "missing cell"]),
    ("long_row", "0,0,0\n1,1,0,5\n", ["row 2, column 4", "extra cell"]),
    ("columns", "0,0,0,0\n", ["4 columns (row 1)", "2 inputs + 1 target = 3"]),
    ("semicolons", "0;0;0\n", ["1 column (row 1)", "commas"]),
    ("empty", "", ["empty file"]),
    ("blank_lines", "\n\n  \n", ["empty file"]),
    ("header_only", "x1,x2,y\n", ["only a header row", "no data rows"]),
    ("quote", '0,0,0\n0,1,"1\n', ["row 2", "not valid CSV"]),
]


@pytest.mark.parametrize(("case", "text", "needles"), BAD_CSV, ids=[c[0] for c in BAD_CSV])
def test_bad_csv_is_one_line_naming_row_and_column(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    xor_spec: Path,
    case: str,
    text: str,
    needles: list[str],
) -> None:
    data = tmp_path / f"{case}.csv"
    data.write_text(text, encoding="utf-8")
    saved = tmp_path / "p.npz"
    status, out, err = run_main(capsys, str(xor_spec), "--data", str(data), "--save", str(saved))
    assert status == 2 and out == ""
    one_error_line(err, f"{data}: ", *needles)
    assert not saved.exists()


def test_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str], xor_spec: Path) -> None:
    data = tmp_path / "latin1.csv"
    data.write_bytes(b"0,0,0\n1,1,\xe9\n")
    status, _, err = run_main(capsys, str(xor_spec), "--data", str(data))
    assert status == 2
    one_error_line(err, "latin1.csv", "row 2", "not UTF-8")


def test_missing_file_and_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], xor_spec: Path
) -> None:
    status, _, err = run_main(capsys, str(xor_spec), "--data", str(tmp_path / "none.csv"))
    assert status == 2
    one_error_line(err, "none.csv", "no such file", *bundled())
    status, _, err = run_main(capsys, str(xor_spec), "--data", str(tmp_path))
    one_error_line(err, "is a directory")


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("0,0,1,1\n", ["row 1, column 4", "sum to 2", "one-hot"]),
        ("0,0,1.5,-0.5\n", ["row 1, column 3", "outside 0..1"]),
        ("x,y,label\n0,0,1\n1,1,2\n", ["row 3, column 3", "class label 2", "0..1"]),
        ("0,0,0.5\n", ["row 1, column 3", "class label 0.5"]),
    ],
)
def test_bad_classifier_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needles: list[str]
) -> None:
    data = tmp_path / "targets.csv"
    data.write_text(text, encoding="utf-8")
    status, _, err = run_main(capsys, "classifier", "--data", str(data))
    assert status == 2
    one_error_line(err, "targets.csv", *needles)


def test_bad_data_in_a_subprocess(tmp_path: Path, xor_spec: Path) -> None:
    (tmp_path / "bad.csv").write_text("x1,x2,y\n0,0,0\n0,1,1\n1,0,NaN\n", encoding="utf-8")
    for data, needles in (("bad.csv", ["row 4, column 3"]), ("gone.csv", ["no such file"])):
        done = subprocess.run(
            [sys.executable, "-m", "symbackprop", "train", str(xor_spec), "--data", data],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        assert done.returncode == 2 and done.stdout == ""
        one_error_line(done.stderr, data, *needles)


@pytest.mark.parametrize(
    ("arrays", "needles"),
    [
        ({"X": np.zeros((4, 3)), "Y": np.zeros((4, 1))}, ["X has shape (4, 3)", "(rows, 2)"]),
        ({"X": np.zeros((4, 2))}, ["no array 'Y'", "X"]),
        ({"X": np.zeros((4, 2)), "Y": np.zeros((3, 1))}, ["Y has shape (3, 1)", "(4, 1)"]),
        (
            {"X": np.array([[0.0, 0.0], [1.0, np.nan]]), "Y": np.zeros((2, 1))},
            ["X row 2, column 2", "not a finite number"],
        ),
        ({"X": np.zeros((1, 2)), "Y": np.array([[np.inf]])}, ["Y row 1, column 1"]),
        ({"X": np.array([["a", "b"]]), "Y": np.zeros((1, 1))}, ["X holds", "expected numbers"]),
        ({"X": np.array([[0, 1]], dtype=object), "Y": np.zeros((1, 1))}, ["pickles"]),
    ],
)
def test_bad_npz(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    xor_spec: Path,
    arrays: dict[str, np.ndarray],
    needles: list[str],
) -> None:
    data = tmp_path / "data.npz"
    np.savez(data, **arrays)  # type: ignore[arg-type]
    status, out, err = run_main(capsys, str(xor_spec), "--data", str(data))
    assert status == 2 and out == ""
    one_error_line(err, "data.npz: ", *needles)


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--lr", "0", "learning rate"),
        ("--lr", "nan", "learning rate"),
        ("--epochs", "0", "epochs"),
        ("--batch-size", "0", "batch size"),
        ("--batch-size", "5", "batch size"),
        ("--seed", "-1", "seed"),
    ],
)
def test_bad_settings(
    capsys: pytest.CaptureFixture[str], xor_spec: Path, option: str, value: str, needle: str
) -> None:
    status, out, err = run_main(capsys, str(xor_spec), "--data", "xor", option, value)
    assert status == 2 and out == ""
    one_error_line(err, needle, value)
    net = load_spec_text(XOR_SPEC)
    X, Y = load_data("xor", net)
    with pytest.raises(SymbackpropError, match=needle):
        train_network(
            net,
            X,
            Y,
            lr=float(value) if option == "--lr" else 0.5,
            epochs=int(value) if option == "--epochs" else 1,
            batch_size=int(value) if option == "--batch-size" else None,
            seed=int(value) if option == "--seed" else 0,
        )


def test_divergence_is_reported() -> None:
    net = load_spec_text(
        'name = "line"\ninputs = 1\nloss = "squared_error"\n'
        '[[layers]]\nunits = 1\nactivation = "identity"\n'
    )
    X = np.linspace(-100.0, 100.0, 20)[:, None]
    with pytest.raises(SymbackpropError, match=r"diverged at epoch \d+.*smaller learning rate"):
        train_network(net, X, 3 * X, lr=10.0, epochs=500)


# ---------------------------------------------------------------- data formats


def test_header_label_column_and_npz_agree(tmp_path: Path) -> None:
    net = load_spec("classifier")
    X, Y = load_data("two_class", net)
    labels = np.argmax(Y, axis=1)
    with_header = tmp_path / "labels.csv"
    rows = [f"{a!r},{b!r},{k}" for (a, b), k in zip(X.tolist(), labels.tolist(), strict=True)]
    with_header.write_text("x1,x2,class\n" + "\n".join(rows) + "\n\n", encoding="utf-8")
    X2, Y2 = load_data(with_header, net)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(Y2, Y)
    archive = tmp_path / "labels.npz"
    np.savez(archive, X=X, Y=labels)
    X3, Y3 = load_data(archive, net)
    np.testing.assert_array_equal(X3, X)
    np.testing.assert_array_equal(Y3, Y)


def test_bundled_csvs_equal_the_generator() -> None:
    assert generated() == ["separable", "two_class", "xor"]
    for name in generated():
        committed = (DATASETS / f"{name}.csv").read_text(encoding="utf-8")
        assert committed == dataset_csv(name), f"run: python -m symbackprop.datasets.make ({name})"


def test_bundled_data_sets_are_what_they_say() -> None:
    xor = np.loadtxt(DATASETS / "xor.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(xor, [[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 0]])
    moons = np.loadtxt(DATASETS / "two_class.csv", delimiter=",", skiprows=1)
    assert moons.shape == (200, 4)
    assert np.array_equal(moons[:, 2] + moons[:, 3], np.ones(200))
    assert moons[:, 2].sum() == 100
    plane = np.loadtxt(DATASETS / "separable.csv", delimiter=",", skiprows=1)
    side = plane[:, :3] @ np.array([1.5, -2.0, 1.0]) + 0.25 > 0
    np.testing.assert_array_equal(plane[:, 3], side)
    assert 30 <= plane[:, 3].sum() <= 70


def test_api_checks_array_shapes() -> None:
    net = load_spec_text(XOR_SPEC)
    X, Y = load_data("xor", net)
    with pytest.raises(SymbackpropError, match=r"X has shape \(4, 1\)"):
        train_network(net, X[:, :1], Y, lr=0.5, epochs=1)
    with pytest.raises(SymbackpropError, match=r"Y has shape \(3, 1\)"):
        train_network(net, X, Y[:3], lr=0.5, epochs=1)
    result = train_network(net, X, Y[:, 0], lr=0.5, epochs=1)  # a vector for one output
    assert len(result.history) == 1


def test_windows_line_endings_and_byte_order_mark(tmp_path: Path) -> None:
    net = load_spec_text(XOR_SPEC)
    data = tmp_path / "excel.csv"
    data.write_bytes(b"\xef\xbb\xbfa,b,y\r\n0,0,0\r\n0,1,1\r\n1,0,1\r\n1,1,0\r\n")
    X, Y = load_data(data, net)
    np.testing.assert_array_equal(
        np.column_stack([X, Y]), np.loadtxt(DATASETS / "xor.csv", delimiter=",", skiprows=1)
    )


# ---------------------------------------------------------------- issue 14's faults


def _npz_claiming(shape: tuple[int, ...], body: bytes = b"\0" * 32, big: bool = False) -> bytes:
    """An archive whose X and Y .npy headers claim `shape` of float64, followed by `body`."""
    import zipfile

    from numpy.lib import format as npy

    header = io.BytesIO()
    npy.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    if big:  # a header past NumPy's 10,000-byte limit
        text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }".ljust(19_999)
        member = b"\x93NUMPY\x01\x00" + struct.pack("<H", 20_000) + text + b"\n" + body
    else:
        member = header.getvalue() + body
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("X.npy", member)
        zipped.writestr("Y.npy", member)
    return archive.getvalue()


@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        (_npz_claiming((10**11, 2)), ["(100000000000, 2)", "more than a data file may hold"]),
        # 4 MB of zeros compressed to a few kB, claiming 1.6 GB: refused before decompressing
        (_npz_claiming((10**8, 2), b"\0" * 4_000_000), ["more than a data file may hold"]),
        (_npz_claiming((5, 2)), ["holds only 32 of its 80 bytes"]),
        (_npz_claiming((2, 2), big=True), ["header is longer than 10,000 bytes"]),
    ],
    ids=["shape-1e11", "decompression-bomb", "cut-short", "long-header"],
)
def test_npz_headers_are_not_believed(
    raw: bytes, needles: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "bad.npz"
    data.write_bytes(raw)
    status, _, err = run_main(capsys, "xor", "--data", str(data))
    assert status == 2
    line = one_error_line(err, "bad.npz", *needles)
    assert "pickle" not in line


def test_csv_parsing_needs_memory_near_the_file_size(tmp_path: Path) -> None:
    # 1,000,000 rows (18 MB) used to take about 25-50x its size (450 MB and more); with 150 MB
    # of address space beyond what the loader's process already takes, it must still parse.
    data = tmp_path / "rows.csv"
    data.write_text("".join(f"0.{i},1.{i},{i % 2}\n" for i in range(1_000_000)), "utf-8")
    script = (
        "import resource, sys\n"
        "from symbackprop.data import load_data\n"
        "from symbackprop.spec import load_spec\n"
        "net = load_spec('xor')\n"
        "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))\n"
        "X, Y = load_data(sys.argv[1], net)\n"
        "print(X.shape)\n"
    )
    limit = _address_space() + 150 * 1024**2
    done = subprocess.run(
        [sys.executable, "-c", script, str(data), str(limit)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "(1000000, 2)"


def _address_space() -> int:
    """The address space the loader's process takes before reading data (measured)."""
    script = (
        "from symbackprop.data import load_data\nfrom symbackprop.spec import load_spec\n"
        "load_spec('xor')\nprint(open('/proc/self/statm').read().split()[0])"
    )
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs /proc")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    return int(done.stdout) * os.sysconf("SC_PAGE_SIZE")


def test_nan_from_an_activation_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "root.toml"
    spec.write_text(
        'name = "root"\ninputs = 2\nloss = "squared_error"\n'
        '[[layers]]\nunits = 3\nactivation = { expr = "sqrt(z)", name = "r" }\n'
        '[[layers]]\nunits = 1\nactivation = "sigmoid"\n',
        encoding="utf-8",
    )
    status, _, err = run_main(capsys, str(spec), "--data", "xor")
    assert status == 2
    line = one_error_line(err, "layers[0].activation", "sqrt(z) gave NaN at z = -", "square root")
    assert "learning rate" not in line


def test_a_loss_that_rises_is_divergence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "p.npz"
    status, out, err = run_main(capsys, "xor", "--data", "xor", "--lr", "50", "--save", str(saved))
    assert status == cli.EXIT_FAILED
    assert "final loss" in out and saved.exists()
    assert err.startswith("symbackprop: warning: training diverged: the loss rose from 0.69")
    assert "smaller learning rate than 50" in err and len(err.splitlines()) == 1


def test_a_loss_that_overflows_is_divergence(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_main(capsys, "single_neuron", "--data", "separable", "--lr", "1e300")
    assert status in (cli.EXIT_OK, cli.EXIT_FAILED)  # saturating sigmoid: may stay finite
    assert "Traceback" not in err


def test_a_bundled_data_name_that_is_also_a_file_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    xor_spec: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("xor").write_text("x1,x2,y\n0,0,1\n1,1,1\n", encoding="utf-8")
    status, out, err = run_main(capsys, str(xor_spec), "--data", "xor", "--epochs", "1")
    assert status == 0 and "2 rows" in out
    assert "note: xor is the file ./xor here, not the bundled data set" in err


#: From the fuzz campaign (tests/fuzz_figures.py, data (NPZ)): a damaged zip64 record that made
#: zipfile seek to a negative offset (ValueError, which escaped).
_NEGATIVE_SEEK = (
    "UEsDBC0AAAAIAAAAIQArtlgo//////////8FABQAWC5ucHkBABAAgwEAAAAAAADqAAAAAAAAAJvsF+obEMnIUMZQ"
    "rZ6SWpxcpG6loF7jr66joJ6WX1RSlJgXn1+U+woSdkvMKU4FihdnJBakAvkaJjoKxpo6CrUK5AOuBpapPxggoEcs"
    "rzS3oFIvPjm/KFUvtzSnJDOxqCixckoPT3xRanJ+XnFJUWlyyZTJU3pYwSqn9LDnpUCUTJ7izdA6xZkxaUr7lKAp"
    "Gt6M3izezG1TMph7WFNKKgtSQZqY/C2mdGVA5Jl7GGum+Pn5ef0HAjDhbV8yJakzdoqGO9Q5DO515k9sOhhK5yAY"
    "cCn7D1AGXKQe6g13Bw50BqZiGCMVaKceAFBLAwQtAAAACAAAACEArEM52///////////BQAUAFkubnB5AQAQAMAA"
    "AAAAAAAATAAAAAAAAACb7BfqGxDJyFDGUK2eklqcXKRupaBuk2mhrqOgnpZfVFKUmBefX5SSChJ3S8wpTgWKF2ck"
    "FqQC+RomOgpGmjoKtQpkAy5GBuIALnUAUEsDBC0AAAAIAAAAIQBVUWI+//////////8FABQAWi5ucHkBABAAYQEA"
    "AAAAAADpAAAAAAAAAJvsF+obEMnIUMZQrZ6SWpxcpG6loF7jr66joJ6WX1RSlJgXn1+UkgoSdkvMKU4FihdnMxak"
    "AvkaJjoKRjoKhmw6CrUKZAKuBpap1xggoEcsrzS3oFIvPjm/KFUvtzSnJDOxqCixckoPT3xRanJ+XnFJUWlyyZTJ"
    "U3pYwSqn9LDnpUCUTJ7izdA6xZkxaUr7QqApGt6M3izeTN6M7VMymHtYU0oqC1JB2pj8LaZ0dkBUMPcw1kzx8/Pz"
    "+g8EYMLbvmRKUmfsFA13qIMY3O0/QBlwkQMM6CJ15k9sOhhK57jbP0DTlQo0Tw8AUEsBAi0DLQAAAAgAAAAhACu2"
    "WCjqAAAAgwEAAAUAAAAAAAAAAAAAAIABAAAAAFgubnB5UEsBAi0DLQAAAAgAAAAhAKxDOdtMAAAAwAAAAAUAAAAA"
    "AAAAAAAAAIABIQEAAFkubnB5UEsBAi0DLQAAAAgAAAAhAFVRYj7pAAAAYQEAAAUAAAAAAAAAAAAjAIABpAEAAFou"
    "bnB5UEsFBgAAAAADAAMAmQAAAMQCYgAAAA=="
)


def test_npz_with_a_negative_zip_offset_is_one_line(tmp_path: Path) -> None:
    import base64

    data = tmp_path / "bad.npz"
    data.write_bytes(base64.b64decode(_NEGATIVE_SEEK))
    with pytest.raises(SymbackpropError, match=r"not a readable \.npz archive") as caught:
        load_data(data, load_spec("multi_node"))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_csv_line_endings_all_parse(ending: str, tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_bytes(ending.join(["x1,x2,y", "0,0,0", "0,1,1", "1,0,1"]).encode())
    X, Y = load_data(data, load_spec("xor"))
    assert X.shape == (3, 2) and Y[:, 0].tolist() == [0.0, 1.0, 1.0]
