"""The optimisers of symbackprop.optim against PyTorch's torch.optim: the same steps from the same
start agree to 1e-12 in float64, for every optimiser and several hyper-parameter settings, in
the `gd` engine (gradients by torch's autograd on the same function, written here) and in the
generated module (gradients from the module, fed to torch.optim as well). Also the sheet of
`symbackprop optimizers` (LaTeX that compiles, text, Markdown) and `gd --method`.
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from symbackprop import cli
from symbackprop.codegen import generate
from symbackprop.gd import gradient_descent
from symbackprop.optim import OPTIMIZERS
from symbackprop.optim.sheet import sheet
from symbackprop.spec import load_spec
from tests.test_latex import compile_tex, needs_pdflatex

torch = pytest.importorskip("torch")

TOLERANCE = 1e-12
#: (our name, the options we pass, the torch.optim class, the arguments torch gets). Each
#: optimiser's first case gives torch only what differs from torch's own defaults, so it also
#: checks that our defaults are PyTorch's.
CASES: list[tuple[str, dict[str, float], str, dict[str, Any]]] = [
    ("sgd", {}, "SGD", {}),
    ("sgd", {"lr": 0.02, "weight_decay": 0.1}, "SGD", {"lr": 0.02, "weight_decay": 0.1}),
    ("momentum", {}, "SGD", {"momentum": 0.9}),
    (
        "momentum",
        {"lr": 0.01, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.05},
        "SGD",
        {"lr": 0.01, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.05},
    ),
    ("nesterov", {}, "SGD", {"momentum": 0.9, "nesterov": True}),
    (
        "nesterov",
        {"lr": 0.015, "momentum": 0.7, "weight_decay": 0.01},
        "SGD",
        {"lr": 0.015, "momentum": 0.7, "nesterov": True, "weight_decay": 0.01},
    ),
    ("adagrad", {}, "Adagrad", {}),
    (
        "adagrad",
        {"lr": 0.3, "lr_decay": 0.01, "weight_decay": 0.02, "initial_accumulator_value": 0.1},
        "Adagrad",
        {"lr": 0.3, "lr_decay": 0.01, "weight_decay": 0.02, "initial_accumulator_value": 0.1},
    ),
    ("rmsprop", {}, "RMSprop", {}),
    (
        "rmsprop",
        {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01},
        "RMSprop",
        {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.01},
    ),
    ("adam", {}, "Adam", {}),
    (
        "adam",
        {"lr": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.01},
        "Adam",
        {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.01},
    ),
    ("adamw", {}, "AdamW", {}),
    (
        "adamw",
        {"lr": 0.05, "beta1": 0.5, "beta2": 0.9, "eps": 1e-4, "weight_decay": 0.1},
        "AdamW",
        {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-4, "weight_decay": 0.1},
    ),
]
IDS = [f"{name}-{i % 2}" for i, (name, *_) in enumerate(CASES)]


def test_every_optimizer_has_cases() -> None:
    assert {name for name, *_ in CASES} == set(OPTIMIZERS)


def _torch_optimizer(cls: str, tensors: list[Any], kwargs: dict[str, Any]) -> Any:
    return getattr(torch.optim, cls)(tensors, **kwargs)


# ---------------------------------------------------------------- the gd engine
EXPR = "(1 - x)**2 + 5*(y - x**2)**2 + x*y/4"


def _f_torch(w: Any) -> Any:
    """EXPR, written again for torch's autograd."""
    x, y = w[0], w[1]
    return (1 - x) ** 2 + 5 * (y - x**2) ** 2 + x * y / 4


@pytest.mark.parametrize(("name", "options", "cls", "kwargs"), CASES, ids=IDS)
def test_gd_engine_matches_torch(
    name: str, options: dict[str, float], cls: str, kwargs: dict[str, Any]
) -> None:
    steps = 60
    lr = options.get("lr", OPTIMIZERS[name].defaults["lr"])
    result = gradient_descent(EXPR, {"x": -0.5, "y": 1.5}, lr, steps, method=name, options=options)
    assert [row.iteration for row in result.rows] == list(range(steps + 1))
    w = torch.tensor([-0.5, 1.5], dtype=torch.float64, requires_grad=True)
    opt = _torch_optimizer(cls, [w], kwargs)
    for row in result.rows:
        np.testing.assert_allclose(row.values, w.detach().numpy(), rtol=TOLERANCE, atol=TOLERANCE)
        opt.zero_grad()
        _f_torch(w).backward()
        np.testing.assert_allclose(row.gradient, w.grad.numpy(), rtol=1e-13, atol=1e-13)
        opt.step()
    moved = np.abs(np.subtract(result.last.values, result.rows[0].values)).max()
    assert moved > 1e-3  # the steps did something to compare


# ---------------------------------------------------------------- the generated module
@pytest.fixture(scope="module")
def xor() -> ModuleType:
    return generate(load_spec("xor")).load()


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 2))
    Y = (X[:, :1] * X[:, 1:] > 0).astype(float)
    return X, Y


@pytest.mark.parametrize(("name", "options", "cls", "kwargs"), CASES, ids=IDS)
def test_module_optimizer_step_matches_torch(
    xor: ModuleType, name: str, options: dict[str, float], cls: str, kwargs: dict[str, Any]
) -> None:
    X, Y = _data()
    params = xor.init_params(seed=1)
    ours = {key: value.copy() for key, value in params.items()}
    tensors = {key: torch.tensor(value, dtype=torch.float64) for key, value in params.items()}
    opt = _torch_optimizer(cls, list(tensors.values()), kwargs)
    state = xor.init_state(ours, name, **options)
    for _ in range(25):
        xor.optimizer_step(ours, xor.gradients(ours, X, Y), state)
        theirs = {key: t.numpy() for key, t in tensors.items()}
        for key, grad in xor.gradients(theirs, X, Y).items():
            tensors[key].grad = torch.tensor(grad)
        opt.step()
    assert state["t"] == 25
    for key, value in ours.items():
        np.testing.assert_allclose(value, tensors[key].numpy(), rtol=TOLERANCE, atol=TOLERANCE)
        assert np.abs(value - params[key]).max() > 1e-6 or key.startswith("b")


@pytest.mark.parametrize(("name", "options", "cls", "kwargs"), CASES, ids=IDS)
def test_module_optimizer_step_allocates_nothing_and_keeps_grads(
    name: str, options: dict[str, float], cls: str, kwargs: dict[str, Any]
) -> None:
    """A step on a 300x400 weight allocates less than one array of its size (the work buffers
    are in the state), and leaves the caller's gradients as they were."""
    import tracemalloc

    module = generate(load_spec("xor")).load()
    rng = np.random.default_rng(3)
    params = {"W1": rng.normal(size=(300, 400)), "b1": rng.normal(size=300)}
    grads = {key: rng.normal(size=value.shape) for key, value in params.items()}
    before = {key: value.copy() for key, value in grads.items()}
    state = module.init_state(params, name, **options)
    module.optimizer_step(params, grads, state)
    tracemalloc.start()
    module.optimizer_step(params, grads, state)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < params["W1"].nbytes / 4, peak
    for key, value in grads.items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("name", ["momentum", "adam", "adagrad"])
def test_module_train_with_optimizer_matches_torch(xor: ModuleType, name: str) -> None:
    X, Y = _data()
    cls, kwargs = next((c, k) for n, o, c, k in CASES if n == name and not o)
    params = xor.init_params(seed=2)
    tensors = {key: torch.tensor(value.copy()) for key, value in params.items()}
    opt = _torch_optimizer(cls, list(tensors.values()), {**kwargs, "lr": 0.05})
    losses = xor.train(params, X, Y, lr=0.05, epochs=20, optimizer=name)
    expected = []
    for _ in range(20):
        theirs = {key: t.numpy() for key, t in tensors.items()}
        expected.append(xor.loss(theirs, X, Y))
        for key, grad in xor.gradients(theirs, X, Y).items():
            tensors[key].grad = torch.tensor(grad)
        opt.step()
    np.testing.assert_allclose(losses, expected, rtol=TOLERANCE)
    for key, value in params.items():
        np.testing.assert_allclose(value, tensors[key].numpy(), rtol=TOLERANCE, atol=TOLERANCE)


def test_module_sgd_default_is_sgd_step(xor: ModuleType) -> None:
    """train() without an optimizer is unchanged: sgd_step, p - lr * grad, as torch.optim.SGD."""
    X, Y = _data()
    params = xor.init_params(seed=0)
    tensors = {key: torch.tensor(value.copy()) for key, value in params.items()}
    opt = torch.optim.SGD(list(tensors.values()), lr=0.3)
    xor.train(params, X, Y, lr=0.3, epochs=5)
    for _ in range(5):
        grads = xor.gradients({key: t.numpy() for key, t in tensors.items()}, X, Y)
        for key, grad in grads.items():
            tensors[key].grad = torch.tensor(grad)
        opt.step()
    for key, value in params.items():
        np.testing.assert_allclose(value, tensors[key].numpy(), rtol=1e-10, atol=1e-12)


def test_module_refuses_unknown_optimizers_and_options(xor: ModuleType) -> None:
    params = xor.init_params()
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        xor.init_state(params, "adamm")
    with pytest.raises(ValueError, match="no option 'beta3'"):
        xor.init_state(params, "adam", beta3=0.5)
    X, Y = _data()
    with pytest.raises(ValueError, match="give lr to train"):
        xor.train(params, X, Y, lr=0.1, epochs=1, optimizer="adam", optimizer_options={"lr": 1})


def test_module_cites_every_rule() -> None:
    source = generate(load_spec("xor")).source
    for opt in OPTIMIZERS.values():
        for update in opt.updates:
            assert f"# ({update.tag}) " in source


# ---------------------------------------------------------------- the sheet
@needs_pdflatex
def test_sheet_latex_compiles(tmp_path: Path) -> None:
    compile_tex(sheet("latex"), tmp_path, boxes=True)


def test_sheet_formats_show_every_rule_and_default() -> None:
    for fmt in ("latex", "markdown", "text"):
        out = sheet(fmt)  # type: ignore[arg-type]
        for opt in OPTIMIZERS.values():
            for update in opt.updates:
                assert f"({update.tag})" in out, (fmt, update.tag)
    text = sheet("text", ["adam"])
    assert "β₁ = beta1 = 0.9" in text and "ε = eps = 1e-08" in text
    assert "m̂ ← m/(1 - β₁^(t))" in text and "momentum" not in text


def test_optimizers_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["optimizers", "--format", "markdown", "adamw"]) == 0
    out = capsys.readouterr().out
    assert "## AdamW" in out and r"\hat{m}" in out and "## Adam (" not in out
    with pytest.raises(SystemExit) as stop:
        cli.main(["optimizers", "adamm"])
    assert stop.value.code == 2
    assert "unknown optimizer 'adamm'" in capsys.readouterr().err


def test_command_names_agree() -> None:
    from symbackprop.cli.optimizers import NAMES

    assert tuple(OPTIMIZERS) == NAMES


# ---------------------------------------------------------------- gd --method
def test_gd_method_compares(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    picture = tmp_path / "paths.png"
    argv = ["gd", "(w1-1)**2 + 10*(w2+2)**2", "--start", "0,0", "--lr", "0.04"]
    status = cli.main([*argv, "--method", "sgd,momentum,adam:lr=0.3", "--plot", str(picture)])
    out = capsys.readouterr().out
    assert status == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[-5:] if line.strip()}
    # plain gradient descent on this quadratic: w2 + 2 = 2 (1 - 20 lr)^k, w1 - 1 = -(1 - 2 lr)^k;
    # |grad| < 1e-6 first at the k below, computed here in closed form
    k = next(k for k in range(1, 10_000) if np.hypot(2 * 0.92**k, 40 * 0.2**k) < 1e-6)
    assert rows["sgd"][1] == str(k)
    assert rows["momentum"][1].isdigit() and rows["adam"][1].isdigit()
    width, height = struct.unpack(">II", picture.read_bytes()[16:24])
    assert (width, height) == (800, 600)


@pytest.mark.parametrize(
    ("method", "needle"),
    [
        ("adamm", "unknown optimizer 'adamm'"),
        ("adam:beta3=0.1", "adam: unknown hyper-parameter 'beta3'"),
        ("adam:beta1=1.5", "adam: beta1 must be below 1"),
        ("sgd:lr", "malformed 'lr'"),
        ("momentum:momentum=x", "is not a number"),
        ("sgd,adam --steps 5000001", "10,000,002 steps in all; at most 10,000,000"),
    ],
)
def test_gd_method_bad_input(capsys: pytest.CaptureFixture[str], method: str, needle: str) -> None:
    method, *rest = method.split()
    status = cli.main(["gd", "(w-1)**2", "--start", "0", "--method", method, *rest])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and needle in err, err


# ---------------------------------------------------------------- train --optimizer
def test_train_command_with_adam_matches_torch(
    xor: ModuleType, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    saved = tmp_path / "p.npz"
    argv = ["train", "xor", "--data", "xor", "--lr", "0.05", "--epochs", "40"]
    status = cli.main([*argv, "--optimizer", "adam:beta2=0.99", "--save", str(saved)])
    out = capsys.readouterr().out
    assert status == 0 and "lr 0.05, adam:beta2=0.99, seed 0" in out
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])  # the truth table
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    params = xor.init_params(seed=0)
    tensors = {key: torch.tensor(value) for key, value in params.items()}
    opt = torch.optim.Adam(list(tensors.values()), lr=0.05, betas=(0.9, 0.99))
    for _ in range(40):
        grads = xor.gradients({key: t.numpy() for key, t in tensors.items()}, X, Y)
        for key, grad in grads.items():
            tensors[key].grad = torch.tensor(grad)
        opt.step()
    with np.load(saved) as trained:
        for key, t in tensors.items():
            np.testing.assert_allclose(trained[key], t.numpy(), rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize(
    ("optimizer", "needle"),
    [
        ("adamm", "unknown optimizer 'adamm'"),
        ("adam,sgd", "one optimizer, not a list"),
        ("adam:lr=0.1", "give the learning rate as --lr"),
        ("rmsprop:alpha", "--optimizer rmsprop: malformed 'alpha'"),
    ],
)
def test_train_command_bad_optimizer(
    capsys: pytest.CaptureFixture[str], optimizer: str, needle: str
) -> None:
    status = cli.main(["train", "xor", "--data", "xor", "--optimizer", optimizer])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and needle in err, err


def test_gd_bundled_rosenbrock(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["gd", "rosenbrock", "--start", "x=-1.2,y=1", "--steps", "3", "--every", "1"]
    assert cli.main([*argv, "--method", "adam:lr=0.02"]) == 0
    out = capsys.readouterr().out
    start = next(line.split() for line in out.splitlines() if line.split()[:1] == ["0"])
    # (1 - x)^2 + 100 (y - x^2)^2 at (-1.2, 1), and its gradient, by hand
    x, y = -1.2, 1.0
    gradient = [-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)]
    assert [float(v) for v in start[1:]] == pytest.approx([x, y, 24.2, *gradient], rel=1e-6)


def test_gd_method_divergence_is_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    # plain descent on (w - 1)^2 multiplies w - 1 by 1 - 2 lr = -3 a step at lr 2: it diverges;
    # Adam's steps are at most about lr, so it does not
    argv = ["gd", "(w-1)**2", "--start", "0", "--steps", "100"]
    assert cli.main([*argv, "--method", "sgd:lr=2,adam:lr=0.1"]) == 1
    out = capsys.readouterr().out
    last = {line.split()[0]: line for line in out.splitlines()[-2:]}
    assert "diverging" in last["sgd"] and "diverging" not in last["adam"]
