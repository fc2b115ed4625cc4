"""The generated NumPy module, checked against computations that do not come from symbackprop.

The reference below is the lecture's forward pass and delta rule written by hand in NumPy (naive
formulas, so the data are kept moderate); the generated module must agree with it to ~1e-10, and
its own finite-difference check must pass.  Further tests cover training, numerical stability at
|z| ~ 1000 in float32 and float64, running with NumPy alone, the text of the source (ruff, string
constants, equation citations), determinism, and the safe overwrite rules of write_module.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from symbackprop import (
    Layer,
    Network,
    SpecError,
    SymbackpropError,
    activation,
    custom_activation,
    custom_loss,
    derive,
    load_spec,
    loss,
)
from symbackprop.codegen import generate, write_module
from symbackprop.gradcheck import gradcheck, load_module
from symbackprop.optim import OPTIMIZERS
from symbackprop.spec import load_spec_text

Array = np.ndarray
Params = dict[str, Array]

# ====================================================================== the reference

HIDDEN = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus")
OUTPUTS = (*HIDDEN, "softmax")
LOSSES = ("squared_error", "half_squared_error", "binary_cross_entropy", "cross_entropy")
DEFAULT_SLOPE = 0.01


def pairs_with(output: str, loss_name: str) -> bool:
    """The pairing rules, restated: CE needs softmax; BCE needs independent outputs in (0, 1),
    i.e. sigmoid (softmax outputs share one distribution)."""
    if loss_name == "cross_entropy":
        return output == "softmax"
    if loss_name == "binary_cross_entropy":
        return output == "sigmoid"
    return True


OUTPUT_LOSSES = [(o, lo) for o in OUTPUTS for lo in LOSSES if pairs_with(o, lo)]


@dataclass(frozen=True)
class Arch:
    """A network as the reference sees it: plain names and numbers, no symbackprop objects."""

    inputs: int
    layers: tuple[tuple[int, str], ...]  # (units, activation) for layers 1..L
    loss: str
    slope: float = DEFAULT_SLOPE

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.inputs, *(units for units, _ in self.layers))

    @property
    def depth(self) -> int:
        return len(self.layers)

    def network(self, name: str = "net") -> Network:
        def act(act_name: str) -> Any:
            if act_name == "leaky_relu":
                return activation("leaky_relu", slope=self.slope)
            return activation(act_name)

        layers = tuple(Layer(units, act(a)) for units, a in self.layers)
        return Network(name, self.inputs, layers, loss(self.loss))


def ref_activation(name: str, z: Array, slope: float) -> tuple[Array, Array | None]:
    """sigma(z) and sigma'(z), elementwise; softmax returns no elementwise derivative."""
    if name == "identity":
        return z.copy(), np.ones_like(z)
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s, s * (1.0 - s)
    if name == "tanh":
        t = np.tanh(z)
        return t, 1.0 - t * t
    if name == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(z.dtype)  # relu'(0) = 0
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z), np.where(z > 0, 1.0, slope)  # slope at 0
    if name == "softplus":
        return np.log(1.0 + np.exp(z)), 1.0 / (1.0 + np.exp(-z))
    if name == "algebraic_sigmoid":  # the custom activation of CUSTOM_TOML
        return z / np.sqrt(1.0 + z * z), (1.0 + z * z) ** -1.5
    if name == "softmax":
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True), None
    raise AssertionError(name)


def ref_unit_loss(name: str, a: Array, y: Array) -> tuple[Array, Array]:
    """The loss per output unit and its derivative dE/da."""
    if name == "squared_error":
        return (a - y) ** 2, 2.0 * (a - y)
    if name == "half_squared_error":
        return 0.5 * (a - y) ** 2, a - y
    if name == "binary_cross_entropy":
        return -(y * np.log(a) + (1 - y) * np.log(1 - a)), -y / a + (1 - y) / (1 - a)
    if name == "cross_entropy":
        return -y * np.log(a), -y / a
    if name == "quartic":  # the custom loss of CUSTOM_TOML
        return (a - y) ** 4, 4.0 * (a - y) ** 3
    raise AssertionError(name)


def ref_forward(arch: Arch, params: Params, X: Array) -> tuple[list[Array], list[Array]]:
    """zs[l] and acts[l] for l = 1..L (zs[0] unused, acts[0] = X): z = a_prev @ W.T + b."""
    zs: list[Array] = [np.empty(0)]
    acts: list[Array] = [X]
    for layer, (_, name) in enumerate(arch.layers, start=1):
        z = acts[-1] @ params[f"W{layer}"].T + params[f"b{layer}"]
        zs.append(z)
        acts.append(ref_activation(name, z, arch.slope)[0])
    return zs, acts


def ref_loss(arch: Arch, params: Params, X: Array, Y: Array) -> float:
    """The mean over samples of the per-sample loss (summed over the output units)."""
    _, acts = ref_forward(arch, params, X)
    per_unit, _ = ref_unit_loss(arch.loss, acts[-1], Y)
    return float(np.mean(per_unit.sum(axis=1)))


def ref_gradients(arch: Arch, params: Params, X: Array, Y: Array) -> Params:
    """The delta rule, averaged over the batch."""
    n = X.shape[0]
    zs, acts = ref_forward(arch, params, X)
    L = arch.depth
    out_name = arch.layers[-1][1]
    a = acts[L]
    _, dE_da = ref_unit_loss(arch.loss, a, Y)
    if out_name == "softmax" and arch.loss == "cross_entropy":
        delta = a * Y.sum(axis=1, keepdims=True) - Y  # = a - y for targets summing to 1
    elif out_name == "softmax":  # J^T g with J_ij = a_i (delta_ij - a_j)
        delta = a * (dE_da - np.sum(dE_da * a, axis=1, keepdims=True))
    else:
        _, dsigma = ref_activation(out_name, zs[L], arch.slope)
        delta = dE_da * dsigma
    delta = delta / n
    grads: Params = {}
    for layer in range(L, 0, -1):
        grads[f"W{layer}"] = delta.T @ acts[layer - 1]
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            _, dsigma = ref_activation(arch.layers[layer - 2][1], zs[layer - 1], arch.slope)
            delta = (delta @ params[f"W{layer}"]) * dsigma
    return grads


# ====================================================================== helpers


def module_for(arch: Arch | Network, name: str = "net") -> ModuleType:
    net = arch.network(name) if isinstance(arch, Arch) else arch
    return load_module(generate(net).source, net.name)


def random_params(arch: Arch, rng: np.random.Generator, scale: float = 1.0) -> Params:
    """Parameters independent of init_params, biases included (init_params zeroes them)."""
    params: Params = {}
    for layer, (units, _) in enumerate(arch.layers, start=1):
        fan_in = arch.sizes[layer - 1]
        params[f"W{layer}"] = rng.normal(0.0, scale / np.sqrt(fan_in), size=(units, fan_in))
        params[f"b{layer}"] = rng.normal(0.0, 0.3, size=units)
    return params


def random_data(arch: Arch, batch: int, rng: np.random.Generator) -> tuple[Array, Array]:
    X = rng.normal(0.0, 1.0, size=(batch, arch.inputs))
    outputs = arch.sizes[-1]
    if arch.loss == "cross_entropy":
        Y = np.eye(outputs)[rng.integers(0, outputs, size=batch)]
    elif arch.loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, size=(batch, outputs)).astype(float)
    else:
        Y = rng.uniform(-0.5, 1.5, size=(batch, outputs))
    return X, Y


def assert_close(actual: Array, expected: Array, rtol: float = 1e-10, what: str = "") -> None:
    """Relative agreement; entries near zero are judged against the array's largest entry."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    atol = rtol * float(np.max(np.abs(expected), initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def copy_params(params: Params) -> Params:
    return {k: v.copy() for k, v in params.items()}


#: A spec with custom parts, known to the reference as "algebraic_sigmoid" and "quartic".
CUSTOM_TOML = """
name = "custom_net"
inputs = 3
loss = { name = "quartic", expr = "(a - y)**4" }

[[layers]]
units = 4
activation = { name = "leaky_relu", slope = 0.2 }

[[layers]]
units = 3
activation = { name = "algebraic_sigmoid", expr = "z / sqrt(1 + z**2)" }

[[layers]]
units = 2
activation = "identity"
"""


# ====================================================================== 1+2: the sweep


def _sweep() -> list[Arch]:
    """Every output/loss pairing at depths 1..4; hidden activations cycle through all six."""
    rng = np.random.default_rng(20240611)
    archs = []
    turn = 0
    for depth in range(1, 5):
        for out, loss_name in OUTPUT_LOSSES:
            hidden = [HIDDEN[(turn + i) % len(HIDDEN)] for i in range(depth - 1)]
            turn += 1
            widths = [int(w) for w in rng.integers(1, 6, size=depth + 1)]
            if out == "softmax":
                widths[-1] = max(widths[-1], 2)
            layers = tuple(zip(widths[1:], [*hidden, out], strict=True))
            archs.append(Arch(widths[0], layers, loss_name))
    return archs


SWEEP = _sweep()


def _arch_id(arch: Arch) -> str:
    acts = "-".join(f"{a}{u}" for u, a in arch.layers)
    return f"in{arch.inputs}-{acts}-{arch.loss}"


def test_sweep_covers_every_valid_pairing_and_activation() -> None:
    # The pairing rules restated above agree with the validator, so the sweep misses nothing.
    for out, loss_name in itertools.product(OUTPUTS, LOSSES):
        arch = Arch(2, ((3, "tanh"), (2, out)), loss_name)
        if pairs_with(out, loss_name):
            arch.network()
        else:
            with pytest.raises(SpecError):
                arch.network()
    hidden_used = {a for arch in SWEEP for _, a in arch.layers[:-1]}
    assert hidden_used == set(HIDDEN)
    assert {(arch.layers[-1][1], arch.loss) for arch in SWEEP} == set(OUTPUT_LOSSES)
    assert {arch.depth for arch in SWEEP} == {1, 2, 3, 4}


# Custom hidden activations whose σ' takes each of sgd_step's three paths: array factors only,
# one computed factor written into a^(l)'s buffer once a^(l) is spent, or its own buffer.
SLOPE_PATHS = {
    "exp(-z**2)": "late",  # σ' = -2 z a
    "sqrt(1 + z**2)": "late",
    "z/(1 + abs(z))": "late",
    "z*exp(-z)": "slope",  # σ' = (1 - z) e^(-z): two computed factors
    "tanh(z)**2": "slope",
}


@pytest.mark.parametrize("expr", list(SLOPE_PATHS))
def test_sgd_step_is_one_gradient_step_on_every_slope_path(expr: str) -> None:
    text = f"""
name = "slopes"
inputs = 3
loss = "squared_error"
[[layers]]
units = 4
activation = {{ name = "f", expr = "{expr}" }}
[[layers]]
units = 4
activation = {{ name = "f", expr = "{expr}" }}
[[layers]]
units = 2
activation = "sigmoid"
"""
    derivation = derive(load_spec_text(text, "slopes.toml"))
    source = generate(derivation).source
    step = source[source.index("def sgd_step") : source.index("def train")]
    path = "slope" if 'buf["t1"]' in step else "late" if "(V1.d) continued" in step else "?"
    assert path == SLOPE_PATHS[expr]
    module = load_module(source, "slopes")
    rng = np.random.default_rng(7)
    params = {k: rng.normal(0.0, 0.5, v.shape) for k, v in module.init_params().items()}
    X, Y = rng.normal(size=(6, 3)), rng.uniform(size=(6, 2))
    expected = module.gradients(params, X, Y)
    for batch in (X.shape[0], 1):  # np.outer at batch 1
        stepped = copy_params(params)
        value = module.sgd_step(stepped, X[:batch], Y[:batch], 0.05)
        assert value == pytest.approx(module.loss(params, X[:batch], Y[:batch]), rel=1e-12)
        grads = expected if batch > 1 else module.gradients(params, X[:1], Y[:1])
        for key in params:
            moved = (params[key] - stepped[key]) / 0.05
            assert_close(moved, grads[key], rtol=1e-8, what=f"sgd_step {key}")
    assert all(result.max_rel < 1e-6 for result in gradcheck(derivation).results)


@pytest.mark.parametrize("arch", SWEEP, ids=_arch_id)
def test_generated_module_matches_reference_and_gradcheck(arch: Arch) -> None:
    derivation = derive(arch.network("sweep"))
    module = load_module(generate(derivation).source, "sweep")
    rng = np.random.default_rng(zlib.crc32(_arch_id(arch).encode()))
    params = random_params(arch, rng)
    X, Y = random_data(arch, 7, rng)

    out, cache = module.forward(params, X)
    zs, acts = ref_forward(arch, params, X)
    assert_close(out, acts[-1], what="output")
    for layer in range(1, arch.depth + 1):
        assert_close(cache[f"z{layer}"], zs[layer], what=f"z{layer}")
        assert_close(cache[f"a{layer}"], acts[layer], what=f"a{layer}")
    assert module.loss(params, X, Y) == pytest.approx(ref_loss(arch, params, X, Y), rel=1e-10)

    grads = module.gradients(params, X, Y)
    expected = ref_gradients(arch, params, X, Y)
    assert set(grads) == set(expected) == set(params)
    for key in expected:
        assert_close(grads[key], expected[key], what=key)

    # sgd_step has its own in-place code path: one step must be p - lr * (the same gradient).
    stepped = copy_params(params)
    value = module.sgd_step(stepped, X, Y, 0.05)
    assert value == pytest.approx(ref_loss(arch, params, X, Y), rel=1e-10)
    for key in expected:
        moved = (params[key] - stepped[key]) / 0.05
        assert_close(moved, expected[key], rtol=1e-8, what=f"sgd_step {key}")

    check = gradcheck(derivation)
    assert {r.name for r in check.results} == set(params)
    for result in check.results:
        assert result.max_rel < 1e-6, result
    # Entries whose step crosses a relu kink are skipped (a dead unit with zero init biases can
    # leave z exactly 0); most must still have been compared.
    assert sum(r.skipped for r in check.results) < sum(r.size for r in check.results) / 2
    assert check.ok


@pytest.mark.parametrize(
    "arch",
    [
        Arch(3, ((4, "leaky_relu"), (2, "leaky_relu")), "half_squared_error", slope=0.25),
        Arch(2, ((3, "relu"), (3, "softmax")), "cross_entropy"),
    ],
    ids=["leaky-slope-0.25", "relu-softmax"],
)
def test_derivative_at_zero_follows_the_conventions(arch: Arch) -> None:
    # relu'(0) = 0 and leaky_relu'(0) = slope: pre-activations exactly 0 for the first samples.
    module = module_for(arch)
    rng = np.random.default_rng(3)
    params = random_params(arch, rng)
    params["b1"][:] = 0.0
    X, Y = random_data(arch, 6, rng)
    X[:3] = 0.0
    _, cache = module.forward(params, X)
    assert np.all(cache["z1"][:3] == 0.0)
    grads = module.gradients(params, X, Y)
    expected = ref_gradients(arch, params, X, Y)
    for key in expected:
        assert_close(grads[key], expected[key], what=key)


def test_soft_targets_for_cross_entropy() -> None:
    # Targets that are distributions (not one-hot) but sum to 1 per row.
    arch = Arch(3, ((4, "tanh"), (3, "softmax")), "cross_entropy")
    module = module_for(arch)
    rng = np.random.default_rng(5)
    params = random_params(arch, rng)
    X = rng.normal(size=(6, 3))
    Y = rng.dirichlet(np.ones(3), size=6)
    expected = ref_gradients(arch, params, X, Y)
    grads = module.gradients(params, X, Y)
    for key in expected:
        assert_close(grads[key], expected[key], what=key)


def test_custom_activation_and_loss_match_reference() -> None:
    net = load_spec_text(CUSTOM_TOML, "custom.toml")
    arch = Arch(3, ((4, "leaky_relu"), (3, "algebraic_sigmoid"), (2, "identity")), "quartic", 0.2)
    derivation = derive(net)
    module = load_module(generate(derivation).source, net.name)
    rng = np.random.default_rng(21)
    params = random_params(arch, rng)
    X, Y = random_data(arch, 9, rng)
    assert module.loss(params, X, Y) == pytest.approx(ref_loss(arch, params, X, Y), rel=1e-10)
    grads = module.gradients(params, X, Y)
    expected = ref_gradients(arch, params, X, Y)
    for key in expected:
        assert_close(grads[key], expected[key], what=key)
    stepped = copy_params(params)
    module.sgd_step(stepped, X, Y, 0.05)
    for key in expected:
        assert_close((params[key] - stepped[key]) / 0.05, expected[key], rtol=1e-8, what=key)
    assert gradcheck(derivation).ok


def test_module_constants_init_and_input_checks() -> None:
    arch = Arch(300, ((400, "tanh"), (200, "relu"), (2, "softmax")), "cross_entropy")
    module = module_for(arch)
    assert module.LAYER_SIZES == (300, 400, 200, 2)
    assert module.ACTIVATIONS == ("tanh", "relu", "softmax")
    assert module.LOSS == "cross_entropy"
    params = module.init_params(seed=4)
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for layer, (units, _) in enumerate(arch.layers, start=1):
        assert params[f"W{layer}"].shape == (units, arch.sizes[layer - 1])
        assert params[f"b{layer}"].shape == (units,)
        assert not params[f"b{layer}"].any()
    # Xavier for tanh, He for relu, as documented.
    assert params["W1"].std() == pytest.approx(np.sqrt(2 / (300 + 400)), rel=0.03)
    assert params["W2"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.03)
    again = module.init_params(seed=4)
    other = module.init_params(seed=5)
    assert all(np.array_equal(params[k], again[k]) for k in params)
    assert not np.array_equal(params["W1"], other["W1"])
    assert module.init_params(seed=4, dtype=np.float32)["W3"].dtype == np.float32

    with pytest.raises(ValueError):
        module.forward(params, np.zeros((2, 299)))
    with pytest.raises(ValueError):
        module.loss(params, np.zeros((2, 300)), np.zeros((3, 2)))
    one = module_for(Arch(2, ((1, "sigmoid"),), "squared_error"))
    p1 = one.init_params()
    assert one.loss(p1, np.ones((3, 2)), np.zeros(3)) == one.loss(
        p1, np.ones((3, 2)), np.zeros((3, 1))
    )


# ====================================================================== 3: training

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


def _regression_data() -> tuple[Array, Array]:
    rng = np.random.default_rng(11)
    X = rng.uniform(-1.0, 1.0, size=(64, 2))
    Y = (0.8 * np.sin(np.pi * X[:, 0]) + 0.3 * X[:, 1])[:, None]
    return X, Y


REGRESSION = Arch(2, ((8, "tanh"), (1, "identity")), "half_squared_error")


def test_minibatch_training_reduces_the_loss() -> None:
    module = module_for(REGRESSION)
    X, Y = _regression_data()
    params = module.init_params(seed=1)
    before = ref_loss(REGRESSION, params, X, Y)
    history = module.train(params, X, Y, lr=0.2, epochs=150, batch_size=8, seed=2)
    after = ref_loss(REGRESSION, params, X, Y)
    assert len(history) == 150
    assert after < 0.2 * before
    assert history[-1] < 0.2 * history[0]


@pytest.mark.parametrize(
    ("arch", "lr", "epochs"),
    [
        (Arch(2, ((4, "tanh"), (1, "sigmoid")), "binary_cross_entropy"), 1.0, 1500),
        (Arch(2, ((3, "sigmoid"), (1, "sigmoid")), "squared_error"), 4.0, 4000),
    ],
    ids=["tanh-sigmoid-bce", "sigmoid-sigmoid-se"],
)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_xor_is_learned(arch: Arch, lr: float, epochs: int, seed: int) -> None:
    module = module_for(arch)
    params = module.init_params(seed=seed)
    history = module.train(params, XOR_X, XOR_Y, lr=lr, epochs=epochs, seed=seed)
    predictions = module.predict(params, XOR_X)
    assert np.array_equal(predictions > 0.5, XOR_Y > 0.5), (predictions.ravel(), history[-1])
    assert history[-1] < 0.25 * history[0]


def test_sgd_step_is_one_update_with_the_averaged_gradient() -> None:
    arch = Arch(3, ((5, "softplus"), (4, "tanh"), (2, "sigmoid")), "squared_error")
    module = module_for(arch)
    rng = np.random.default_rng(8)
    params = random_params(arch, rng)
    X, Y = random_data(arch, 20, rng)
    rows = slice(4, 12)  # one minibatch of 8
    before = copy_params(params)
    expected_grad = ref_gradients(arch, before, X[rows], Y[rows])
    same_dict = params
    value = module.sgd_step(params, X[rows], Y[rows], 0.3)
    assert params is same_dict
    assert isinstance(value, float)
    assert value == pytest.approx(ref_loss(arch, before, X[rows], Y[rows]), rel=1e-12)
    for key in before:
        assert_close(params[key], before[key] - 0.3 * expected_grad[key], rtol=1e-12, what=key)
    # Averaged, not summed: the update does not grow with the batch.
    doubled = copy_params(before)
    module.sgd_step(doubled, np.concatenate([X[rows]] * 2), np.concatenate([Y[rows]] * 2), 0.3)
    for key in before:
        assert_close(doubled[key], params[key], rtol=1e-12, what=key)


TRAIN_ARCH = Arch(3, ((4, "tanh"), (2, "sigmoid")), "binary_cross_entropy")


def _manual_epoch(params: Params, X: Array, Y: Array, order: tuple[int, ...], size: int, lr: float):
    """One epoch of plain SGD over `order` in batches of `size`; the sample-weighted mean loss."""
    params = copy_params(params)
    total = 0.0
    for start in range(0, len(order), size):
        rows = list(order[start : start + size])
        total += ref_loss(TRAIN_ARCH, params, X[rows], Y[rows]) * len(rows)
        grads = ref_gradients(TRAIN_ARCH, params, X[rows], Y[rows])
        for key in params:
            params[key] = params[key] - lr * grads[key]
    return params, total / len(order)


@pytest.mark.parametrize("batch_size", [None, 1, 2, 5], ids=["full", "sgd", "mini2", "mini5"])
def test_one_epoch_equals_manual_updates_over_some_order(batch_size: int | None) -> None:
    # Whatever the shuffle, an epoch must visit every sample once, in batches of batch_size,
    # each update being the averaged reference gradient: some order of the 5 samples must
    # reproduce the trained parameters and the reported loss.
    module = module_for(TRAIN_ARCH)
    rng = np.random.default_rng(9)
    start = random_params(TRAIN_ARCH, rng, scale=1.5)
    X, Y = random_data(TRAIN_ARCH, 5, rng)
    params = copy_params(start)
    history = module.train(params, X, Y, lr=0.7, epochs=1, batch_size=batch_size, seed=3)
    assert len(history) == 1
    size = 5 if batch_size is None else batch_size
    orders = [tuple(range(5))] if size == 5 else itertools.permutations(range(5))
    matches = []
    for order in orders:
        manual, mean_loss = _manual_epoch(start, X, Y, order, size, 0.7)
        if all(np.allclose(params[k], manual[k], rtol=1e-11, atol=1e-13) for k in params):
            matches.append(order)
            assert history[0] == pytest.approx(mean_loss, rel=1e-11)
    assert matches, "no order of the samples reproduces the epoch"
    if batch_size is None:
        assert history[0] == pytest.approx(ref_loss(TRAIN_ARCH, start, X, Y), rel=1e-12)


def test_full_batch_training_is_gradient_descent() -> None:
    module = module_for(TRAIN_ARCH)
    rng = np.random.default_rng(10)
    params = random_params(TRAIN_ARCH, rng)
    X, Y = random_data(TRAIN_ARCH, 12, rng)
    manual = copy_params(params)
    expected_history = []
    for _ in range(4):
        expected_history.append(ref_loss(TRAIN_ARCH, manual, X, Y))
        grads = ref_gradients(TRAIN_ARCH, manual, X, Y)
        manual = {k: manual[k] - 0.5 * grads[k] for k in manual}
    history = module.train(params, X, Y, lr=0.5, epochs=4)
    np.testing.assert_allclose(history, expected_history, rtol=1e-11)
    for key in manual:
        assert_close(params[key], manual[key], rtol=1e-11, what=key)


def test_train_history_callback_and_seeds() -> None:
    module = module_for(TRAIN_ARCH)
    rng = np.random.default_rng(12)
    X, Y = random_data(TRAIN_ARCH, 23, rng)
    calls: list[tuple[int, float]] = []
    first = module.init_params(seed=6)
    history = module.train(
        first,
        X,
        Y,
        lr=0.3,
        epochs=5,
        batch_size=4,
        seed=1,
        callback=lambda e, v: calls.append((e, v)),
    )
    assert len(history) == 5
    assert all(isinstance(v, float) for v in history)
    assert calls == list(enumerate(history))

    second = module.init_params(seed=6)
    assert module.train(second, X, Y, lr=0.3, epochs=5, batch_size=4, seed=1) == history
    assert all(np.array_equal(first[k], second[k]) for k in first)

    third = module.init_params(seed=6)
    module.train(third, X, Y, lr=0.3, epochs=5, batch_size=4, seed=2)
    assert not np.array_equal(first["W1"], third["W1"]), "the shuffle ignores the seed"

    with pytest.raises(ValueError):
        module.train(module.init_params(), X, Y, lr=0.1, epochs=1, batch_size=0)


# ====================================================================== 4: stability

STRICT_FP = {"over": "raise", "divide": "raise", "invalid": "raise", "under": "ignore"}


def _stable_case(kind: str) -> tuple[Arch, Params, Array, Array]:
    """A 3-4-k network whose pre-activations reach |z| ~ 1000 in both layers, both signs."""
    hidden, out, loss_name, outputs = {
        "sigmoid": ("sigmoid", "sigmoid", "squared_error", 3),
        "softplus": ("softplus", "softplus", "squared_error", 3),
        "softmax-ce": ("tanh", "softmax", "cross_entropy", 3),
        "sigmoid-bce": ("sigmoid", "sigmoid", "binary_cross_entropy", 3),
    }[kind]
    arch = Arch(3, ((4, hidden), (outputs, out)), loss_name)
    signs = np.array([[1, -1, 1], [-1, 1, -1], [1, 1, -1], [-1, -1, 1]], dtype=float)
    outer = np.array([[1, -1, 1, -1], [-1, 1, -1, 1], [1, 1, -1, -1]], dtype=float)
    second = 0.5 if hidden == "softplus" else 400.0
    params = {
        "W1": 300.0 * signs,
        "b1": np.array([0.0, 1.0, -1.0, 0.5]),
        "W2": second * outer,
        "b2": np.array([0.25, -0.5, 0.0]),
    }
    X = np.array([[2.0, -1.5, 1.0], [-2.0, 1.5, -1.0], [1.0, 1.0, 1.0], [0.1, -0.2, 0.05]])
    if loss_name == "cross_entropy":
        Y = np.eye(3)[[1, 0, 2, 1]]
    elif loss_name == "binary_cross_entropy" and out == "softmax":
        Y = np.eye(3)[[2, 1, 0, 0]]
    elif loss_name == "binary_cross_entropy":
        Y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=float)
    else:
        Y = np.full((4, 3), 0.5)
    return arch, params, X, Y


def _stable_reference(arch: Arch, params: Params, X: Array, Y: Array) -> tuple[float, Params]:
    """Loss and gradients in float64 with overflow-free forms (log-sum-exp, logaddexp)."""
    with np.errstate(over="ignore", under="ignore"):

        def sig(z: Array) -> Array:
            return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), 1 - 1 / (1 + np.exp(-np.abs(z))))

        hidden = arch.layers[0][1]
        z1 = X @ params["W1"].T + params["b1"]
        if hidden == "sigmoid":
            a1, d1 = sig(z1), sig(z1) * sig(-z1)
        elif hidden == "softplus":
            a1, d1 = np.logaddexp(0.0, z1), sig(z1)
        else:
            a1, d1 = np.tanh(z1), 1 - np.tanh(z1) ** 2
        z2 = a1 @ params["W2"].T + params["b2"]
        out = arch.layers[1][1]
        n = len(X)
        if out == "softmax":
            log_a = z2 - z2.max(axis=1, keepdims=True)
            log_a -= np.log(np.exp(log_a).sum(axis=1, keepdims=True))
            value = float(np.mean(np.sum(-Y * log_a, axis=1)))
            delta = np.exp(log_a) - Y
        elif arch.loss == "binary_cross_entropy":
            per_unit = Y * np.logaddexp(0.0, -z2) + (1 - Y) * np.logaddexp(0.0, z2)
            value = float(np.mean(per_unit.sum(axis=1)))
            delta = sig(z2) - Y
        else:
            a2, d2 = (
                (sig(z2), sig(z2) * sig(-z2))
                if out == "sigmoid"
                else (
                    np.logaddexp(0.0, z2),
                    sig(z2),
                )
            )
            value = float(np.mean(np.sum((a2 - Y) ** 2, axis=1)))
            delta = 2 * (a2 - Y) * d2
        delta = delta / n
        grads = {"W2": delta.T @ a1, "b2": delta.sum(axis=0)}
        delta1 = (delta @ params["W2"]) * d1
        grads.update({"W1": delta1.T @ X, "b1": delta1.sum(axis=0)})
    return value, grads


def _run_saturated(kind: str, dtype: type) -> None:
    arch, params64, X64, Y64 = _stable_case(kind)
    module = module_for(arch)
    params = {k: v.astype(dtype) for k, v in params64.items()}
    X, Y = X64.astype(dtype), Y64.astype(dtype)
    with warnings.catch_warnings(), np.errstate(**STRICT_FP):
        warnings.simplefilter("error")
        out, cache = module.forward(params, X)
        value = module.loss(params, X, Y)
        grads = module.gradients(params, X, Y)
        stepped = copy_params(params)
        step_value = module.sgd_step(stepped, X, Y, 1.0)
        predicted = module.predict(params, X)
    for layer in (1, 2):  # the regime really is reached
        z = cache[f"z{layer}"].astype(np.float64)
        assert z.max() >= 500 and z.min() <= -500, (layer, z)
    assert type(value) is float and type(step_value) is float
    # the same mean, summed in another order by the in-place path: equal to the dtype's rounding
    rel = 4 * float(np.finfo(dtype).eps)
    assert np.isfinite(value) and value == pytest.approx(step_value, rel=rel)
    arrays = {"out": out, "predict": predicted, **cache, **grads}
    arrays.update({f"stepped {k}": v for k, v in stepped.items()})
    for key, array in arrays.items():
        assert array.dtype == dtype, (key, array.dtype)
        assert np.all(np.isfinite(array)), key
    expected_value, expected_grads = _stable_reference(arch, params64, X64, Y64)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert value == pytest.approx(expected_value, rel=rtol)
    for key in expected_grads:
        assert_close(grads[key].astype(np.float64), expected_grads[key], rtol=rtol, what=key)
        # sgd_step (its own in-place code) moved each parameter by lr * the same gradient.
        moved = params[key].astype(np.float64) - stepped[key].astype(np.float64)
        step_rtol = 1e-9 if dtype == np.float64 else 1e-3
        assert_close(moved, expected_grads[key], rtol=step_rtol, what=f"sgd_step {key}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("kind", ["sigmoid", "softplus", "softmax-ce", "sigmoid-bce"])
def test_saturated_outputs_stay_finite_and_keep_dtype(kind: str, dtype: type) -> None:
    _run_saturated(kind, dtype)


def test_softmax_with_binary_cross_entropy_is_refused() -> None:
    # log(1 - a) of a saturated softmax output divides by zero; the spec refuses the pair.
    with pytest.raises(SpecError, match="binary_cross_entropy"):
        Arch(3, ((4, "tanh"), (3, "softmax")), "binary_cross_entropy").network("bad")


@pytest.mark.parametrize("target_dtype", [np.float64, np.int64], ids=["float64", "int64"])
def test_float32_gradients_whatever_the_target_dtype(target_dtype: type) -> None:
    arch = Arch(3, ((4, "tanh"), (3, "softmax")), "cross_entropy")
    module = module_for(arch)
    params = module.init_params(seed=0, dtype=np.float32)
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    Y = np.eye(3, dtype=target_dtype)[[0, 1, 2, 0, 1]]
    grads = module.gradients(params, X, Y)
    assert {k: g.dtype for k, g in grads.items()} == {k: p.dtype for k, p in params.items()}


# ====================================================================== 5: standalone

_CHILD = r"""
import importlib.util, json, sys

BLOCKED = {"symbackprop", "sympy", "jinja2", "mpmath", "markupsafe"}


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ImportError(f"blocked in this test: {name}")
        return None


sys.meta_path.insert(0, Blocker())
module_path, numpy_dir = sys.argv[1], sys.argv[2]
sys.path.append(numpy_dir)
report = {}
try:
    import sympy  # noqa: F401
    report["sympy_importable"] = True
except ImportError:
    report["sympy_importable"] = False
spec = importlib.util.spec_from_file_location("standalone_net", module_path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import numpy as np

X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([[0.0], [1.0], [1.0], [0.0]])
params = module.init_params(seed=0)
history = module.train(params, X, Y, lr=1.0, epochs=1500, seed=0)
report["history"] = [history[0], history[-1]]
report["predict"] = module.predict(params, X).ravel().tolist()
report["loaded"] = sorted(
    name for name in sys.modules if name.partition(".")[0] in BLOCKED
)
print(json.dumps(report))
"""


def test_generated_module_runs_with_numpy_alone(tmp_path: Path) -> None:
    arch = Arch(2, ((4, "tanh"), (1, "sigmoid")), "binary_cross_entropy")
    source = generate(arch.network("standalone")).source
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= {"numpy", "__future__", "collections.abc"}, imported
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not called & {"__import__", "eval", "exec", "compile", "open", "getattr"}

    path = tmp_path / "standalone.py"
    path.write_text(source, encoding="utf-8")
    numpy_dir = str(Path(np.__file__).resolve().parent.parent)
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _CHILD, str(path), numpy_dir],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sympy_importable"] is False  # the blocker works
    assert report["loaded"] == []
    assert report["history"][1] < report["history"][0]
    assert np.array_equal(np.array(report["predict"]) > 0.5, XOR_Y.ravel() > 0.5)


# ====================================================================== 6: the source text


def _ruff() -> list[str]:
    found = shutil.which("ruff") or shutil.which("ruff", path=str(Path(sys.executable).parent))
    if found:
        return [found]
    probe = subprocess.run(
        [sys.executable, "-m", "ruff", "--version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "ruff"]
    pytest.skip("ruff is not installed")


def _chain(*acts: str, loss_name: str = "squared_error", name: str = "chain") -> Network:
    return Arch(3, tuple((3, a) for a in acts), loss_name).network(name)


#: name -> (network, reason `ruff check` fails or None, reason `ruff format` changes it or None)
SOURCE_CASES: dict[str, tuple[Any, str | None, str | None]] = {
    "multi_node": (lambda: load_spec("multi_node"), None, None),
    "classifier": (lambda: load_spec("classifier"), None, None),
    "seed_chain": (lambda: load_spec("seed_chain"), None, None),
    "builtin-mix": (
        lambda: _chain(
            "tanh",
            "relu",
            "leaky_relu",
            "softplus",
            "sigmoid",
            "sigmoid",
            loss_name="binary_cross_entropy",
        ),
        None,
        None,
    ),
    "custom": (lambda: load_spec_text(CUSTOM_TOML, "custom.toml"), None, None),
    "identity-hidden": (
        lambda: _chain("identity", "tanh"),
        None,
        None,
    ),
    "softmax-se": (
        lambda: _chain("relu", "softmax"),
        None,
        None,
    ),
    "softplus-quartic": (
        lambda: Network("sq", 2, (Layer(2, activation("softplus")),), custom_loss("(a - y)**4")),
        None,
        None,
    ),
    "seven-activations": (
        lambda: _chain(
            "leaky_relu", "softplus", "leaky_relu", "softplus", "tanh", "sigmoid", "sigmoid"
        ),
        None,
        None,
    ),
    "third-rational": (
        lambda: Network(
            "third",
            2,
            (Layer(2, custom_activation("z + z**3 / 3", "cubic")),),
            loss("squared_error"),
        ),
        None,
        None,
    ),
}


def _marked(index: int) -> list[Any]:
    params = []
    for name, spec in SOURCE_CASES.items():
        reason = spec[index]
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


def _ruff_on(case: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    ruff = _ruff()
    path = tmp_path / "generated_module.py"
    path.write_text(generate(SOURCE_CASES[case][0]()).source, encoding="utf-8")
    return subprocess.run(
        [*ruff, *args, "--isolated", "--no-cache", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("case", _marked(1))
def test_ruff_check_passes(case: str, tmp_path: Path) -> None:
    result = _ruff_on(case, tmp_path, "check")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", _marked(2))
def test_ruff_format_leaves_the_source_unchanged(case: str, tmp_path: Path) -> None:
    result = _ruff_on(case, tmp_path, "format", "--check", "--diff")
    assert result.returncode == 0, result.stdout + result.stderr


#: Names the template gives arrays and buffers: W1, b1, a0, z3, delta2, dW1, t2, s2_1, ...
#: The optimisers' names, hyper-parameters, state arrays and state keys (optimizers.py.jinja).
OPTIMIZER_WORDS = {"optimizer", "options", "t", "work"} | {
    word
    for opt in OPTIMIZERS.values()
    for word in (opt.name, *opt.defaults, *(s.name for s in opt.state))
}
_ARRAY_NAME = re.compile(r"[A-Za-z]+[0-9]+(_[0-9]+)?")
_ALLOWED_FSTRING_TEXT = re.compile(r"[A-Za-z0-9_ (),.:]*")


@pytest.mark.parametrize("case", list(SOURCE_CASES))
def test_string_constants_carry_no_spec_text(case: str) -> None:
    net = SOURCE_CASES[case][0]()
    source = generate(net).source
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef):
            doc = node.body[0] if node.body else None
            if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant):
                docstrings.add(id(doc.value))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    in_fstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):  # only the template's error messages
            parent = next(call for call in calls if node in call.args)
            assert isinstance(parent.func, ast.Name) and parent.func.id == "ValueError"
            for part in node.values:
                in_fstrings.add(id(part))
                if isinstance(part, ast.Constant):
                    assert _ALLOWED_FSTRING_TEXT.fullmatch(part.value), part.value
    names = {layer.activation.name for layer in net.layers} | {net.loss.name, net.name}
    # sgd_step's buffers that are not named array + layer number
    names |= {"ones", "shifted", "terms", f"log_a{net.depth}", f"log_1ma{net.depth}", "ignore"}
    names |= OPTIMIZER_WORDS  # the optimisers' template text: names, hyper-parameters, state
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in docstrings or id(node) in in_fstrings:
            continue
        assert _ARRAY_NAME.fullmatch(node.value) or node.value in names, node.value


_BACKWARD_TARGET = re.compile(r"(delta|dW|db|b)([0-9]+)")
_TAG = re.compile(r"\(V([0-9]+)\.([dwb])\)")
_KIND = {"delta": "d", "dW": "w", "db": "b", "b": "b"}


def _cited(function: ast.FunctionDef, lines: list[str]) -> set[str]:
    """Names of the backward statements in `function`, each checked for its citation."""
    seen = set()
    for statement in function.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
        elif (
            isinstance(statement, ast.AugAssign)
            and isinstance(statement.op, ast.Sub)
            and isinstance(statement.target, ast.Name)
            and statement.target.id.startswith("b")
        ):
            target = statement.target  # sgd_step: `b1 -= np.sum(delta1, ...)`; a long delta
            # split into `delta2 -= term` continues the statement cited above it
        else:
            continue
        match = isinstance(target, ast.Name) and _BACKWARD_TARGET.fullmatch(target.id)
        if not match or (match[1] == "b" and isinstance(statement, ast.Assign)):
            continue
        comment = []
        row = statement.lineno - 2
        while row >= 0 and lines[row].lstrip().startswith("#"):
            comment.insert(0, lines[row].strip())
            row -= 1
        assert comment, f"{function.name}: line {statement.lineno} ({target.id}) has no comment"
        assert _TAG.findall(comment[0]) == [(match[2], _KIND[match[1]])], (target.id, comment)
        seen.add(target.id)
    return seen


@pytest.mark.parametrize("case", list(SOURCE_CASES))
def test_backward_statements_cite_their_equations(case: str) -> None:
    net = SOURCE_CASES[case][0]()
    source = generate(net).source
    lines = source.splitlines()
    functions = {n.name: n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}
    layers = range(1, net.depth + 1)
    assert _cited(functions["_backward"], lines) == {
        f"{k}{layer}" for k in ("delta", "dW", "db") for layer in layers
    }
    assert _cited(functions["sgd_step"], lines) == {
        f"{k}{layer}" for k in ("delta", "dW", "b") for layer in layers
    }


# ====================================================================== 7: determinism

_PRINT_SOURCES = r"""
import json, sys
from symbackprop.codegen import generate
from symbackprop.spec import load_spec
print(json.dumps([generate(load_spec(spec)).source for spec in sys.argv[1:]]))
"""


def test_generation_is_deterministic(tmp_path: Path) -> None:
    spec_file = tmp_path / "custom.toml"
    spec_file.write_text(CUSTOM_TOML, encoding="utf-8")
    specs = [str(spec_file), "classifier"]
    here = [generate(load_spec(spec)).source for spec in specs]
    assert [generate(load_spec(spec)).source for spec in specs] == here
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", _PRINT_SOURCES, *specs],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == here, f"differs with PYTHONHASHSEED={hash_seed}"


# ====================================================================== 8: write_module


def _mod(name: str = "multi_node") -> Any:
    return generate(load_spec(name))


def test_write_module_creates_and_replaces_unedited_files(tmp_path: Path) -> None:
    target = tmp_path / "net.py"
    first, second = _mod("multi_node"), _mod("seed_chain")
    write_module(first, target)
    assert target.read_text(encoding="utf-8") == first.source
    write_module(second, target)  # unedited: replaced without force
    assert target.read_text(encoding="utf-8") == second.source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py"]  # no temporary files left


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.replace("def predict(", "def predict_edited(", 1),
        lambda s: s + "\nprint('appended')\n",
        lambda s: re.sub(r"sha256:([0-9a-f])", lambda m: "sha256:" + "0f"[m[1] == "0"], s, count=1),
    ],
    ids=["body-edit", "appended", "digest-edit"],
)
def test_write_module_refuses_hand_edited_files(tmp_path: Path, edit: Any) -> None:
    target = tmp_path / "net.py"
    module = _mod()
    edited = edit(module.source)
    target.write_bytes(edited.encode("utf-8"))
    with pytest.raises(SymbackpropError, match="--force"):
        write_module(_mod("seed_chain"), target)
    assert target.read_bytes() == edited.encode("utf-8")
    write_module(_mod("seed_chain"), target, force=True)
    assert target.read_text(encoding="utf-8") == _mod("seed_chain").source


@pytest.mark.parametrize(
    "content", ["print('mine')\n", "", "# symbackprop-checksum: sha256:abc\n"], ids=str
)
def test_write_module_refuses_files_without_a_checksum(tmp_path: Path, content: str) -> None:
    target = tmp_path / "net.py"
    target.write_text(content, encoding="utf-8")
    with pytest.raises(SymbackpropError, match="--force"):
        write_module(_mod(), target)
    assert target.read_text(encoding="utf-8") == content
    write_module(_mod(), target, force=True)
    assert target.read_text(encoding="utf-8") == _mod().source


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_write_module_is_atomic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "net.py"
    write_module(_mod("multi_node"), target)
    old = target.read_text(encoding="utf-8")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, broken)
    with pytest.raises(SymbackpropError):
        write_module(_mod("seed_chain"), target)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py"]


# ====================================================================== 9: GeneratedModule


def test_generated_module_writes_itself_as_write_module_does(tmp_path: Path) -> None:
    module = _mod("multi_node")
    target = tmp_path / "net.py"
    assert module.write(target) == target
    assert target.read_text(encoding="utf-8") == module.source
    assert module.write(str(target)) == target  # unedited: replaced
    target.write_text(module.source + "# mine\n", encoding="utf-8")
    with pytest.raises(SymbackpropError, match="edited by hand"):
        _mod("seed_chain").write(target)
    assert target.read_text(encoding="utf-8").endswith("# mine\n")
    _mod("seed_chain").write(target, force=True)
    assert target.read_text(encoding="utf-8") == _mod("seed_chain").source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.py"]


def test_generated_module_loads_in_memory_like_the_imported_file(tmp_path: Path) -> None:
    import inspect
    import traceback

    module = _mod("classifier")
    loaded = module.load()
    assert loaded is not module.load()  # a fresh module each time
    assert not any(m.startswith("_symbackprop_") for m in sys.modules)
    (tmp_path / "classifier.py").write_text(module.source, encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        imported = __import__("classifier")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("classifier", None)
    public = sorted(n for n in vars(imported) if not n.startswith("__"))
    assert sorted(n for n in vars(loaded) if not n.startswith("__")) == public
    assert loaded.__doc__ == imported.__doc__
    params = loaded.init_params(3)
    X, Y = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    assert loaded.loss(params, X, Y) == imported.loss(params, X, Y)
    for key, grad in loaded.gradients(params, X, Y).items():
        np.testing.assert_array_equal(grad, imported.gradients(params, X, Y)[key])
    assert inspect.getsource(loaded.predict) == inspect.getsource(imported.predict)
    with pytest.raises(ValueError) as info:
        loaded.forward(params, np.zeros((2, 5)))
    shown = "".join(traceback.format_exception(info.value))
    assert "<symbackprop generated classifier " in shown and "raise ValueError(" in shown
