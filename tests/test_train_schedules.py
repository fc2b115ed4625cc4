"""train's learning-rate schedules (against torch.optim.lr_scheduler), --val-split, --patience,
and `symbackprop predict` on new data."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from symbackprop import fit
from symbackprop.errors import SymbackpropError
from symbackprop.schedules import parse_schedule
from symbackprop.spec import load_spec
from symbackprop.train import module_for, train_network


def _symbackprop(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symbackprop", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )


def _torch_rates(make, epochs: int, lr: float = 0.5) -> list[float]:  # type: ignore[no-untyped-def]
    """The rate PyTorch's scheduler gives each epoch, stepped once an epoch."""
    torch = pytest.importorskip("torch")
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=lr)
    scheduler = make(torch.optim.lr_scheduler, optimizer)
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize(
    ("text", "warmup", "make"),
    [
        ("step:step_size=7", None, lambda s, o: s.StepLR(o, step_size=7)),
        ("step:step_size=3:gamma=0.5", None, lambda s, o: s.StepLR(o, 3, gamma=0.5)),
        ("exponential:gamma=0.9", None, lambda s, o: s.ExponentialLR(o, gamma=0.9)),
        ("cosine", None, lambda s, o: s.CosineAnnealingLR(o, T_max=30)),
        (
            "cosine:t_max=12:eta_min=0.01",
            None,
            lambda s, o: s.CosineAnnealingLR(o, T_max=12, eta_min=0.01),
        ),
        (
            "cosine",
            5,
            lambda s, o: s.SequentialLR(
                o,
                [s.LinearLR(o, start_factor=1 / 5, total_iters=4), s.CosineAnnealingLR(o, 25)],
                milestones=[5],
            ),
        ),
        (None, 4, lambda s, o: s.LinearLR(o, start_factor=1 / 4, total_iters=3)),
    ],
)
def test_schedules_match_pytorch(text: str | None, warmup: int | None, make: object) -> None:
    schedule = parse_schedule(text, warmup)
    epochs = 30
    ours = [schedule.rate(0.5, e, epochs) for e in range(epochs)]
    theirs = _torch_rates(make, epochs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_step_schedule_by_hand() -> None:
    schedule = parse_schedule("step:step_size=2:gamma=0.5", 3)
    rates = [schedule.rate(1.0, e, 10) for e in range(8)]
    # warm-up epochs 0-2, then the step schedule from its own epoch 0 at epoch 3
    assert rates == [1 / 3, 2 / 3, 1.0, 1.0, 1.0, 0.5, 0.5, 0.25]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("linear", "--schedule: unknown schedule 'linear' (known: constant, step,"),
        ("step", "--schedule step: needs step_size=..., e.g. step:step_size=30"),
        ("step:step_size=0", "--schedule step: step_size must be a whole number >= 1, got 0"),
        ("exponential:gamma=1.5", "--schedule exponential: gamma must be between 0 (excluded)"),
        ("cosine:eta=1", "--schedule cosine: 'eta=1' is not KEY=VALUE with KEY one of t_max"),
        ("exponential:gamma=x", "--schedule exponential: gamma must be a number, got 'x'"),
    ],
)
def test_bad_schedules_are_one_line(text: str, message: str) -> None:
    with pytest.raises(SymbackpropError) as info:
        parse_schedule(text, None)
    assert str(info.value).startswith(message)
    done = _symbackprop("train", "xor", "--data", "xor", "--epochs", "2", "--schedule", text)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr


def test_the_loop_with_a_constant_rate_is_the_modules_train() -> None:
    """fit.run at a constant rate gives train()'s losses and parameters, bit for bit, for SGD
    minibatches and for Adam (whose state must live across the epochs)."""
    network = load_spec("classifier")
    module = module_for(network)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    Y = np.eye(2)[rng.integers(0, 2, 30)]
    for optimizer in ("sgd", "adam"):
        mine, theirs = module.init_params(seed=1), module.init_params(seed=1)
        history: list[float] = []
        fit.run(
            module,
            mine,
            X,
            Y,
            lr=0.05,
            epochs=7,
            batch_size=8,
            seed=3,
            schedule=parse_schedule(None, None),
            optimizer=optimizer,
            optimizer_options=None,
            held_out=None,
            patience=None,
            callback=lambda e, v, seen=history: seen.append(v),
        )
        want = module.train(theirs, X, Y, lr=0.05, epochs=7, batch_size=8, seed=3,
                            optimizer=optimizer)  # fmt: skip
        assert history == want
        for key in mine:
            assert np.array_equal(mine[key], theirs[key])


def test_a_schedule_steps_at_each_epochs_rate() -> None:
    """Full-batch GD with a step schedule equals sgd_step called by hand at lr γ^⌊e/S⌋ (the
    shuffle only reorders the rows of the one batch)."""
    network = load_spec("xor")
    module = module_for(network)
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    result = train_network(
        network, X, Y, lr=0.8, epochs=9, schedule=parse_schedule("step:step_size=4:gamma=0.5", None)
    )
    params = module.init_params(seed=0)
    by_hand = []
    for epoch in range(9):
        by_hand.append(module.sgd_step(params, X, Y, 0.8 * 0.5 ** (epoch // 4)))
    np.testing.assert_allclose(result.history, by_hand, rtol=1e-12)
    for key in params:
        np.testing.assert_allclose(result.params[key], params[key], rtol=1e-12)


def test_val_split_is_deterministic_and_disjoint() -> None:
    X = np.arange(20.0).reshape(10, 2)
    Y = np.arange(10.0).reshape(10, 1)
    a = fit.split(X, Y, 0.3, seed=4)
    b = fit.split(X, Y, 0.3, seed=4)
    c = fit.split(X, Y, 0.3, seed=5)
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[3], c[3])
    train_rows, held_rows = set(a[1][:, 0]), set(a[3][:, 0])
    assert len(held_rows) == 3 and len(train_rows) == 7
    assert train_rows | held_rows == set(range(10))
    assert list(a[3][:, 0]) == sorted(a[3][:, 0])  # the data's order kept
    with pytest.raises(SymbackpropError, match="between 0 and 1"):
        fit.split(X, Y, 1.0, seed=0)


def test_validation_loss_is_the_held_out_rows_loss() -> None:
    network = load_spec("classifier")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2))
    Y = np.eye(2)[(X[:, 0] > 0).astype(int)]
    result = train_network(network, X, Y, lr=0.3, epochs=12, val_split=0.25, seed=2)
    assert result.fit is not None and len(result.fit.validation) == 12
    order = np.random.default_rng(2).permutation(40)
    held = np.sort(order[:10])
    module = module_for(network)
    want = module.loss(result.params, X[held], Y[held])
    assert result.fit.validation[-1] == pytest.approx(want, rel=1e-12)
    assert result.validation is not None and result.validation.loss == pytest.approx(want)
    assert result.metrics.total == 30  # trained and scored on the other 30 rows


def test_patience_stops_and_keeps_the_best_epoch() -> None:
    """A scripted held-out loss 5, 4, 3, 3.5, 3.6, 3.7, ...: patience 2 stops after epoch 5 and
    restores the parameters of epoch 3 (each step adds 1 to w)."""
    script = iter([5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9])

    def stepper(params, optimizer, options):  # type: ignore[no-untyped-def]
        def step(X, Y, lr):  # type: ignore[no-untyped-def]
            params["w"] += 1.0
            return 1.0

        return step

    module = SimpleNamespace(_stepper=stepper, loss=lambda params, X, Y: next(script))
    params = {"w": np.zeros(1)}
    seen: list[int] = []
    record = fit.run(
        module,  # type: ignore[arg-type]
        params,
        np.zeros((3, 1)),
        np.zeros((3, 1)),
        lr=0.1,
        epochs=8,
        batch_size=None,
        seed=0,
        schedule=parse_schedule(None, None),
        optimizer="sgd",
        optimizer_options=None,
        held_out=(np.zeros((1, 1)), np.zeros((1, 1))),
        patience=2,
        callback=lambda e, v: seen.append(e),
    )
    assert record.stopped == 5 and record.best == 3
    assert seen == [0, 1, 2, 3, 4]
    assert params["w"][0] == 3.0


def test_train_command_with_schedule_validation_and_patience(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "loss.png"
    done = _symbackprop(
        "train", "classifier", "--data", "two_class", "--epochs", "40", "--batch-size", "20",
        "--schedule", "cosine", "--warmup", "3", "--val-split", "0.2", "--patience", "5",
        "--plot", str(plot),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("classifier: 200 rows (160 to train on, 40 held out), 40 epochs")
    assert lines[1].startswith("schedule cosine:eta_min=0, warm-up 3: lr ")
    assert any(
        line.startswith("validation loss ") and "(40 held-out rows)" in line for line in lines
    )
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--val-split", "1.5"], "--val-split: must be between 0 and 1 (excluded), got 1.5"),
        (["--patience", "0"], "--patience: must be at least 1, got 0"),
    ],
)
def test_bad_validation_options(option: list[str], message: str) -> None:
    done = _symbackprop("train", "xor", "--data", "xor", "--epochs", "2", *option)
    assert done.returncode == 2
    assert done.stderr == f"symbackprop: error: {message}\n"


def test_divergence_is_a_warning_and_exit_1() -> None:
    done = _symbackprop("train", "xor", "--data", "xor", "--lr", "50", "--epochs", "100")
    assert done.returncode == 1
    assert "symbackprop: warning: training diverged: the loss rose from" in done.stderr


def test_predict_writes_the_modules_outputs(tmp_path: Path) -> None:
    params = tmp_path / "p.npz"
    done = _symbackprop("train", "xor", "--data", "xor", "--epochs", "50", "--save", str(params))
    assert done.returncode == 0, done.stderr
    new = tmp_path / "new.csv"
    rows = np.array([[0.0, 0.0], [0.25, 1.0], [1.0, 0.5]])
    new.write_text("".join(f"{x!r},{y!r}\n" for x, y in rows.tolist()))
    module = module_for(load_spec("xor"))
    with np.load(params) as saved:
        want = module.predict(dict(saved), rows)
    out_csv, out_npz = tmp_path / "out.csv", tmp_path / "out.npz"
    for out in (out_csv, out_npz):
        done = _symbackprop("predict", "xor", "--params", str(params), "--data", str(new),
                            "-o", str(out))  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"wrote {out} (3 rows)\n"
    lines = out_csv.read_text().splitlines()
    assert lines[0] == "y1"
    np.testing.assert_array_equal([[float(v)] for v in lines[1:]], want)
    with np.load(out_npz) as got:
        np.testing.assert_array_equal(got["Y"], want)


def test_predict_with_targets_evaluates(tmp_path: Path) -> None:
    params = tmp_path / "p.npz"
    _symbackprop("train", "xor", "--data", "xor", "--epochs", "50", "--save", str(params))
    done = _symbackprop("predict", "xor", "--params", str(params), "--data", "xor")
    assert done.returncode == 0, done.stderr
    module = module_for(load_spec("xor"))
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    with np.load(params) as saved:
        want = module.loss(dict(saved), X, Y)
    loss_line = done.stderr.splitlines()[0]
    assert loss_line.startswith("loss ") and math.isclose(
        float(loss_line.split()[1].rstrip(",")), want, rel_tol=1e-5
    )
    assert done.stdout.splitlines()[0] == "y1" and len(done.stdout.splitlines()) == 5


def test_predict_bad_output_writes_nothing(tmp_path: Path) -> None:
    params = tmp_path / "p.npz"
    _symbackprop("train", "xor", "--data", "xor", "--epochs", "5", "--save", str(params))
    out = tmp_path / "out.txt"
    done = _symbackprop("predict", "xor", "--params", str(params), "--data", "xor", "-o", str(out))
    assert done.returncode == 2
    assert done.stderr == f"symbackprop: error: -o {out}: expected a .csv or .npz file name\n"
    assert not out.exists()
