"""Layer and batch normalisation: the spec, the derivation's local partials against SymPy's
differentiation, the generated module against hand-written NumPy (the cs231n backward passes),
finite differences and PyTorch's autograd and running statistics (which the package never
imports; those tests skip where PyTorch is not installed, and .ci/run installs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

from symbackprop import notation as n
from symbackprop.codegen import generate
from symbackprop.derive import derive
from symbackprop.errors import SpecError
from symbackprop.gradcheck import gradcheck
from symbackprop.layers.norm import Normalisation
from symbackprop.render import render
from symbackprop.sampling import random_point
from symbackprop.spec import Network, load_spec_text

EPS = 1e-5


def _net(kind: str, *, first: bool = False, extra: str = "", output: str = "sigmoid") -> Network:
    """inputs 3 -> [norm] -> dense 4 identity -> norm (tanh) -> dense 2."""
    norm = f'[[layers]]\nkind = "{kind}"\nactivation = "tanh"\n{extra}'
    head = f'[[layers]]\nkind = "{kind}"\n' if first else ""
    loss = "cross_entropy" if output == "softmax" else "squared_error"
    return load_spec_text(
        f'name = "norm"\ninputs = 3\nloss = "{loss}"\n{head}'
        '[[layers]]\nunits = 4\nactivation = "identity"\n'
        f"{norm}"
        f'[[layers]]\nunits = 2\nactivation = "{output}"\n'
    )


# ---------------------------------------------------------------- spec


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('kind = "batchnorm"\neps = 0', "layers[1].eps (layer 2): must be a number above 0"),
        ('kind = "batchnorm"\nmomentum = 2', "layers[1].momentum (layer 2): must be a number"),
        ('kind = "layernorm"\nmomentum = 0.1', "layers[1] (layer 2): unknown field 'momentum'"),
        ('kind = "layernorm"\nunits = 3', "unknown field 'units'"),
    ],
)
def test_spec_errors_name_the_field(table: str, message: str) -> None:
    text = (
        'name = "x"\ninputs = 3\nloss = "squared_error"\n[[layers]]\nunits = 4\n'
        f'activation = "tanh"\n[[layers]]\n{table}\n[[layers]]\nunits = 1\nactivation = "sigmoid"\n'
    )
    with pytest.raises(SpecError) as caught:
        load_spec_text(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_norm_layer_needs_a_flat_input_and_is_not_the_output() -> None:
    maps = (
        'name = "x"\ninputs = [1, 4, 4]\nloss = "squared_error"\n[[layers]]\nkind = "conv2d"\n'
        'filters = 2\nkernel = 2\nactivation = "relu"\n[[layers]]\nkind = "batchnorm"\n'
        '[[layers]]\nkind = "flatten"\n[[layers]]\nunits = 1\nactivation = "sigmoid"\n'
    )
    with pytest.raises(SpecError, match=r"batchnorm normalises a flat layer here.*flatten"):
        load_spec_text(maps)
    last = 'name = "x"\ninputs = 3\nloss = "squared_error"\n[[layers]]\nkind = "layernorm"\n'
    with pytest.raises(SpecError, match="the output layer must be dense"):
        load_spec_text(last)


def test_a_norm_layer_keeps_its_width_and_defaults() -> None:
    net = _net("batchnorm")
    layer = net.layers[1]
    assert layer.units == 4 and layer.shape_out == (4,)
    assert layer.norm is not None
    assert layer.norm.eps == sympy.Rational(1, 100000) and layer.norm.momentum == sympy.Rational(
        1, 10
    )


# ---------------------------------------------------------------- the local partials


@pytest.mark.parametrize("over", ["units", "batch"])
def test_local_partials_are_sympy_derivatives_of_the_forward_equations(over: str) -> None:
    """Each carried local partial equals SymPy's derivative of the forward expression written
    out for 3 values (μ, σ² held where the graph holds them)."""
    kind = Normalisation(over, sympy.Rational(1, 100000))
    local = kind.local_partials()
    count = 3
    xs = sympy.symbols("x1:4", real=True)
    mu_s, var_s, eps = sympy.symbols("mu var eps", positive=True)
    gamma, beta, xhat = sympy.symbols("gamma beta xhat", real=True)
    # The three-value forms of μ, σ² and x̂ (entry 1), as the forward equations state them.
    mean = sum(xs) / count
    variance = sum((x - mu_s) ** 2 for x in xs) / count
    normalised = (xs[0] - mu_s) / sympy.sqrt(var_s + eps)
    # The carried partials in the same plain symbols: entry x is entry 1, y any entry.
    index = (n.s_sym, n.r_sym) if over == "batch" else (n.k, n.j)
    plain = {
        n.EPS: eps,
        n.Width(n.l_sym - 1): count,
        n.n_batch: count,
        n.Gain(n.l_sym, n.j): gamma,
        n.Normalized(n.l_sym, *((n.s_sym, n.j) if over == "batch" else (n.j,))): xhat,
    }
    stat = (n.j,) if over == "batch" else ()
    plain[n.Mean(n.l_sym, *stat)] = mu_s
    plain[n.Variance(n.l_sym, *stat)] = var_s

    def at(entry: sympy.Symbol) -> tuple[sympy.Expr, ...]:
        return (entry, n.j) if over == "batch" else (entry,)

    plain[n.Act(n.l_sym - 1, *at(index[0]))] = xs[0]
    here = n.s_sym if over == "batch" else n.j
    plain[n.Act(n.l_sym - 1, *at(here))] = xs[0]

    def value(expr: sympy.Expr) -> sympy.Expr:
        for total in expr.atoms(sympy.Sum):  # Σ_y (a_y − μ): written out over the 3 entries
            body, (var, _, _) = total.function, total.limits[0]
            entry = n.Act(n.l_sym - 1, *at(var))
            written = sum(body.xreplace({entry: x}) for x in xs)
            expr = expr.xreplace({total: written})
        return sympy.simplify(expr.xreplace(plain))

    z = gamma * xhat + beta
    expected = {
        "gamma": sympy.diff(z, gamma),
        "beta": sympy.diff(z, beta),
        "xhat": sympy.diff(z, xhat),
        "xhat_var": sympy.diff(normalised, var_s),
        "xhat_mean": sympy.diff(normalised, mu_s),
        "var_mean": sympy.diff(variance, mu_s),
        "xhat_a": sympy.diff(normalised, xs[0]),
        "var_a": sympy.diff(variance, xs[0]),
        "mean_a": sympy.diff(mean, xs[0]),
    }
    assert set(local) == set(expected)
    for key, want in expected.items():
        assert sympy.simplify(value(local[key]) - want) == 0, key


# ---------------------------------------------------------------- hand-written NumPy


def _reference(net: Network, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray):  # type: ignore[no-untyped-def]
    """Loss and gradients of the `_net` networks by hand: the forward pass, then the backward
    pass with the cs231n formulas of batch and layer norm (axis 0 or 1)."""
    acts = {"identity": (lambda z: z, lambda z, a: np.ones_like(z))}
    acts["tanh"] = (np.tanh, lambda z, a: 1 - a**2)
    acts["sigmoid"] = (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a))
    a, tape = X, []
    for number, layer in enumerate(net.layers, start=1):
        f = acts[layer.activation.name][0]
        if layer.kind == "dense":
            z = a @ params[f"W{number}"].T + params[f"b{number}"]
            tape.append(("dense", number, a, None, z))
        else:
            axis = 0 if layer.kind == "batchnorm" else 1
            mu = a.mean(axis=axis, keepdims=True)
            var = a.var(axis=axis, keepdims=True)
            xhat = (a - mu) / np.sqrt(var + EPS)
            z = params[f"gamma{number}"] * xhat + params[f"beta{number}"]
            tape.append((layer.kind, number, a, (xhat, var, axis), z))
        a = f(z)
        tape[-1] = (*tape[-1], a)
    batch = len(X)
    loss = float(np.mean(np.sum((a - Y) ** 2, axis=1)))
    upstream = 2 * (a - Y) / batch
    grads = {}
    for kind, number, a_in, norm, z, a_out in reversed(tape):
        layer = net.layers[number - 1]
        delta = upstream * acts[layer.activation.name][1](z, a_out)
        if kind == "dense":
            grads[f"W{number}"] = delta.T @ a_in
            grads[f"b{number}"] = delta.sum(axis=0)
            upstream = delta @ params[f"W{number}"]
            continue
        xhat, var, axis = norm
        grads[f"gamma{number}"] = (delta * xhat).sum(axis=0)
        grads[f"beta{number}"] = delta.sum(axis=0)
        dxhat = delta * params[f"gamma{number}"]
        m = a_in.shape[axis]
        upstream = (
            (m * dxhat - dxhat.sum(axis=axis, keepdims=True))
            - xhat * (dxhat * xhat).sum(axis=axis, keepdims=True)
        ) / (m * np.sqrt(var + EPS))
    return loss, a, grads


@pytest.mark.parametrize("kind", ["layernorm", "batchnorm"])
@pytest.mark.parametrize("first", [False, True])
def test_gradients_agree_with_hand_written_numpy(kind: str, first: bool) -> None:
    net = _net(kind, first=first)
    module = generate(net).load()
    point = random_point(net, batch=6, seed=3)
    loss, output, want = _reference(net, point.params, point.X, point.Y)
    assert module.loss(point.params, point.X, point.Y) == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(module.forward(point.params, point.X)[0], output, rtol=1e-12)
    grads = module.gradients(point.params, point.X, point.Y)
    assert set(grads) == set(want) == set(point.params)
    for key in want:
        np.testing.assert_allclose(grads[key], want[key], rtol=1e-9, atol=1e-14, err_msg=key)


@pytest.mark.parametrize("kind", ["layernorm", "batchnorm"])
def test_finite_differences(kind: str) -> None:
    """gradcheck (central differences of the module's own loss) on both kinds."""
    result = gradcheck(_net(kind, first=True, output="softmax"), batch=5)
    assert result.ok, str(result)


def test_sgd_step_updates_every_parameter_by_its_gradient() -> None:
    net = _net("batchnorm")
    module = generate(net).load()
    point = random_point(net, batch=8, seed=5)
    params = {key: value.copy() for key, value in point.params.items()}
    grads = module.gradients(point.params, point.X, point.Y)
    before = module.sgd_step(params, point.X, point.Y, 0.2)
    assert before == pytest.approx(module.loss(point.params, point.X, point.Y), rel=1e-12)
    for key in params:
        np.testing.assert_allclose(params[key], point.params[key] - 0.2 * grads[key], rtol=1e-12)


def test_init_params_gives_unit_gains_and_zero_shifts() -> None:
    params = generate(_net("layernorm")).load().init_params(seed=0)
    np.testing.assert_array_equal(params["gamma2"], np.ones(4))
    np.testing.assert_array_equal(params["beta2"], np.zeros(4))
    assert set(params) == {"W1", "b1", "gamma2", "beta2", "W3", "b3"}


# ---------------------------------------------------------------- PyTorch


def _torch_forward(net: Network, params, X, running=None, training=True):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    a = torch.tensor(X)
    for number, layer in enumerate(net.layers, start=1):
        if layer.kind == "dense":
            z = a @ tensors[f"W{number}"].T + tensors[f"b{number}"]
        elif layer.kind == "layernorm":
            gamma, beta = tensors[f"gamma{number}"], tensors[f"beta{number}"]
            z = F.layer_norm(a, (layer.units,), gamma, beta, eps=EPS)
        else:
            mean, var = running[number] if running else (None, None)
            gamma, beta = tensors[f"gamma{number}"], tensors[f"beta{number}"]
            z = F.batch_norm(a, mean, var, gamma, beta, training=training, momentum=0.1, eps=EPS)
        name = layer.activation.name
        if name == "softmax":
            a = torch.softmax(z, dim=1)
        else:
            a = {"identity": lambda t: t, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[name](z)
    return a, tensors


@pytest.mark.parametrize("kind", ["layernorm", "batchnorm"])
def test_gradients_agree_with_torch_autograd(kind: str) -> None:
    net = _net(kind, first=True)
    module = generate(net).load()
    point = random_point(net, batch=7, seed=11)
    output, tensors = _torch_forward(net, point.params, point.X)
    import torch

    loss = ((output - torch.tensor(point.Y)) ** 2).sum(dim=1).mean()
    loss.backward()
    assert module.loss(point.params, point.X, point.Y) == pytest.approx(
        float(loss.detach()), rel=1e-12
    )
    grads = module.gradients(point.params, point.X, point.Y)
    for key, tensor in tensors.items():
        np.testing.assert_allclose(grads[key], tensor.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_running_statistics_and_inference_agree_with_torch() -> None:
    """Three training batches move the running mean and variance as torch's batch_norm does
    (momentum 0.1, the variance without bias), and inference uses them."""
    torch = pytest.importorskip("torch")
    net = _net("batchnorm")
    module = generate(net).load()
    point = random_point(net, batch=9, seed=2)
    stats = module.init_stats()
    running = {2: (torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64))}
    for rows in (slice(0, 3), slice(3, 7), slice(2, 9)):
        _, cache = module.forward(point.params, point.X[rows])
        module.update_stats(stats, cache)
        _torch_forward(net, point.params, point.X[rows], running, training=True)
    np.testing.assert_allclose(stats["mu2"], running[2][0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(stats["var2"], running[2][1].numpy(), rtol=1e-12)
    output, _ = _torch_forward(net, point.params, point.X[:2], running, training=False)
    np.testing.assert_allclose(
        module.predict(point.params, point.X[:2], stats), output.detach().numpy(), rtol=1e-12
    )


# ---------------------------------------------------------------- documents and CLI


def test_the_derivation_shows_the_graph_steps_and_the_compact_form() -> None:
    text = render(derive(_net("batchnorm")), "text")
    for piece in (
        "(I2.m) μ_j^(2) = Σ_{r=1..n} a_rj^(1)/n",
        "∂E/∂(σ_j^(2))² = Σ_{r=1..n} ∂E/∂x̂_rj^(2)",
        "∂E/∂μ_j^(2) = Σ_{r=1..n}",
        "= γ_j^(2) (n ∂E/∂z_sj^(2) - Σ_{r=1..n} ∂E/∂z_rj^(2) - x̂_sj^(2) Σ_{r=1..n}",
        "(V2.g) ∂E/∂γ^(2) = Σ_s δ_s^(2) ⊙ x̂_s^(2)",
    ):
        assert piece in text, piece


def test_check_passes_from_the_command_line(tmp_path: Path) -> None:
    spec = tmp_path / "bn.toml"
    net_text = (
        'name = "bn"\ninputs = 3\nloss = "squared_error"\n[[layers]]\nunits = 4\n'
        'activation = "relu"\n[[layers]]\nkind = "batchnorm"\n[[layers]]\nunits = 2\n'
        'activation = "identity"\n'
    )
    spec.write_text(net_text)
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", "check", str(spec), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "gamma2" in run.stdout and "beta2" in run.stdout


def test_the_bundled_residual_network_learns_the_digits(tmp_path: Path) -> None:
    """digits_bn (batch norm, a residual connection, layer norm) reaches >= 95% on the rows it
    holds out, with batch norm's running statistics; --save keeps them and predict uses them."""
    saved = tmp_path / "p.npz"
    command = [sys.executable, "-m", "symbackprop", "train", "digits_bn", "--data", "digits"]
    settings = ["--val-split", "0.2", "--epochs", "30", "--batch-size", "32", "--lr", "0.1"]
    run = subprocess.run(
        [*command, *settings, "--save", str(saved), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    held_out = next(line for line in run.stdout.splitlines() if line.startswith("validation"))
    accuracy = float(held_out.split("accuracy ")[1].split("%")[0])
    assert accuracy >= 95.0, held_out
    arrays = np.load(saved)
    assert {"mu2", "var2", "gamma2", "beta2", "gamma4"} <= set(arrays.files)
    assert np.all(arrays["var2"] > 0) and not np.allclose(arrays["var2"], 1.0)
    predicted = subprocess.run(
        [*command[:3], "predict", "digits_bn", "--params", str(saved), "--data", "digits"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert predicted.returncode == 0, predicted.stderr
    assert "accuracy" in predicted.stderr
