"""The array-API module (`generate --backend array-api`) on every array library installed:
array-api-strict (the standard and nothing more), PyTorch on the CPU, JAX eagerly and inside
jax.jit, Dask. Each agrees with the NumPy module to 1e-12 in float64 on the bundled examples;
the zoo of custom activations is compared with JAX's own gradients as well. The libraries are
the optional `array-api` extra (CI installs it); a test whose library is missing is skipped.
"""

from __future__ import annotations

import ast
import functools
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from symbackprop import load_spec
from symbackprop.codegen import generate, load_module
from symbackprop.spec import Network

from . import test_codegen_formulas as formulas
from .examples import dense_examples

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy

ROOT = Path(__file__).resolve().parent.parent
Array = np.ndarray
#: How a library takes a NumPy array in and gives one back.
Convert = tuple[Callable[[Array], Any], Callable[[Any], Array]]


def _libraries() -> dict[str, Convert]:
    found: dict[str, Convert] = {
        "numpy": (np.asarray, np.asarray),
        "jax": (jnp.asarray, np.asarray),
    }
    try:
        import array_api_strict as strict

        found["array-api-strict"] = (strict.asarray, np.asarray)
    except ImportError:
        pass
    try:
        import torch

        found["torch"] = (torch.asarray, lambda t: t.numpy())
    except ImportError:
        pass
    try:
        import dask.array as da

        found["dask"] = (lambda a: da.from_array(a, chunks=3), lambda d: np.asarray(d.compute()))
    except ImportError:
        pass
    return found


LIBRARIES = _libraries()
WANTED = ("numpy", "array-api-strict", "torch", "jax", "dask")
NEEDS_COMPAT = ("torch", "dask")


def _library(name: str) -> Convert:
    if name not in LIBRARIES:
        pytest.skip(f"{name} is not installed (pip install -e '.[array-api]')")
    if name in NEEDS_COMPAT:
        pytest.importorskip("array_api_compat")
    return LIBRARIES[name]


@functools.cache
def _modules(name: str) -> tuple[ModuleType, ModuleType]:
    """The NumPy module and the array-API module of a bundled example."""
    network = load_spec(name)
    numpy_module = load_module(generate(network).source, name)
    return numpy_module, load_module(generate(network, backend="array-api").source, name)


def _point(network: Network, seed: int = 1, batch: int = 7) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, network.sizes[0]))
    outputs = network.sizes[-1]
    if network.layers[-1].activation.is_softmax:
        return X, np.eye(outputs)[rng.integers(0, outputs, batch)]
    return X, rng.uniform(size=(batch, outputs))


def _close(actual: Array, expected: Array, what: str, rtol: float = 1e-12) -> None:
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    error = float(np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected))) / scale
    assert error <= rtol, f"{what}: relative error {error:.2e} > {rtol:.0e}"


@pytest.mark.parametrize("name", dense_examples())
@pytest.mark.parametrize("library", WANTED)
def test_bundled_examples_agree_with_the_numpy_module(name: str, library: str) -> None:
    to, back = _library(library)
    reference, module = _modules(name)
    X, Y = _point(load_spec(name))
    params = reference.init_params(3)
    expected = reference.gradients(params, X, Y)
    arrays = {key: to(value) for key, value in params.items()}
    grads = module.gradients(arrays, to(X), to(Y))
    for key, want in expected.items():
        _close(back(grads[key]), want, f"{name} on {library}: gradient {key}")
    value = float(module.loss(arrays, to(X), to(Y)))
    assert value == pytest.approx(reference.loss(params, X, Y), rel=1e-12)
    _close(back(module.predict(arrays, to(X))), reference.predict(params, X), "predict")
    stepped, before = module.sgd_step(arrays, to(X), to(Y), 0.5)
    assert float(before) == pytest.approx(value, rel=1e-12)
    for key in params:
        _close(back(stepped[key]), params[key] - 0.5 * expected[key], f"sgd_step {key}")
        _close(back(arrays[key]), params[key], f"sgd_step left {key} unchanged", rtol=0.0)


@pytest.mark.parametrize("name", dense_examples())
def test_every_function_runs_inside_jax_jit(name: str) -> None:
    reference, module = _modules(name)
    X, Y = _point(load_spec(name), seed=2)
    params = reference.init_params(4)
    arrays = {key: jnp.asarray(value) for key, value in params.items()}
    grads = jax.jit(module.gradients)(arrays, jnp.asarray(X), jnp.asarray(Y))
    for key, want in reference.gradients(params, X, Y).items():
        _close(np.asarray(grads[key]), want, f"{name} jit gradient {key}")
    trained, history = module.train(
        arrays, jnp.asarray(X), jnp.asarray(Y), lr=0.3, epochs=3, batch_size=2,
        step=jax.jit(module.sgd_step, static_argnums=()),
    )  # fmt: skip
    expected_params = {key: value.copy() for key, value in params.items()}
    expected = reference.train(expected_params, X, Y, lr=0.3, epochs=3, batch_size=2)
    assert history == pytest.approx(expected, rel=1e-12)
    for key in params:
        _close(np.asarray(trained[key]), expected_params[key], f"{name} jit-trained {key}")


@pytest.mark.parametrize("library", ["array-api-strict", "torch", "dask"])
def test_training_follows_the_numpy_module(library: str) -> None:
    to, back = _library(library)
    reference, module = _modules("xor")
    X, Y = _point(load_spec("xor"), seed=5, batch=8)
    params = reference.init_params(0)
    arrays = {key: to(value) for key, value in params.items()}
    trained, history = module.train(arrays, to(X), to(Y), lr=0.5, epochs=4, batch_size=3)
    expected = reference.train(params, X, Y, lr=0.5, epochs=4, batch_size=3)
    assert history == pytest.approx(expected, rel=1e-12)
    for key in params:
        _close(back(trained[key]), params[key], f"xor trained on {library}: {key}")


@functools.cache
def _zoo_module(name: str) -> ModuleType:
    return load_module(generate(formulas._network(name), backend="array-api").source, name)


@pytest.mark.parametrize("name", list(formulas.ZOO))
@pytest.mark.parametrize("library", WANTED)
def test_zoo_against_jax_and_the_numpy_module(name: str, library: str) -> None:
    to, back = _library(library)
    module = _zoo_module(name)
    reference = formulas._module(name)
    params, X, Y = formulas._ordinary()
    expected_loss, expected = formulas._reference(name, params, X, Y)
    arrays = {key: to(value) for key, value in params.items()}
    grads = module.gradients(arrays, to(X), to(Y))
    numpy_grads = reference.gradients(params, X, Y)
    for key in params:
        _close(back(grads[key]), expected[key], f"{name} {key} against JAX", rtol=1e-10)
        _close(back(grads[key]), numpy_grads[key], f"{name} {key} against NumPy", rtol=1e-12)
    assert float(module.loss(arrays, to(X), to(Y))) == pytest.approx(expected_loss, rel=1e-10)


def _sources() -> dict[str, str]:
    found = {
        name: generate(load_spec(name), backend="array-api").source for name in dense_examples()
    }
    for name in ("gelu", "hard_tanh", "elu"):
        found[name] = generate(formulas._network(name), backend="array-api").source
    return found


def test_sources_are_formatted_lint_clean_and_import_only_numpy(tmp_path: Path) -> None:
    for name, source in _sources().items():
        path = tmp_path / f"{name}_array_api.py"
        path.write_text(source, encoding="utf-8")
        for args in (("format", "--check", "--diff"), ("check",)):
            command = [*formulas._ruff(), *args, "--isolated", "--no-cache", str(path)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            assert done.returncode == 0, (name, done.stdout, done.stderr)
        tree = ast.parse(source)
        top = {
            alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names
        }
        top |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
        assert top <= {"numpy", "__future__", "collections", "collections.abc", "typing"}, top
        inner = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import) and node not in tree.body
            for alias in node.names
        }
        assert inner <= {"array_api_compat", "dask"}, inner
        assert "out=" not in source and "np.asarray" not in source, name


def test_erf_helper_is_accurate_on_strict_arrays() -> None:
    strict = pytest.importorskip("array_api_strict")
    module = load_module(generate(formulas._network("gelu"), backend="array-api").source, "g")
    points = np.concatenate([np.linspace(-6, 6, 2001), [-30.0, -27.0, 0.0, 5e-9, 27.0, 40.0]])
    erf, erfc = module._erf_erfc(strict.asarray(points))
    for x, got_erf, got_erfc in zip(points, np.asarray(erf), np.asarray(erfc), strict=True):
        want_erf, want_erfc = math.erf(x), math.erfc(x)
        assert abs(got_erf - want_erf) <= 1e-15 * max(abs(want_erf), 1e-300) + 1e-300, x
        if want_erfc > 1e-300:
            assert abs(got_erfc - want_erfc) <= 1e-12 * want_erfc, x


def test_float64_without_jax_x64_is_refused_not_downgraded(tmp_path: Path) -> None:
    path = tmp_path / "xor_array_api.py"
    path.write_text(generate(load_spec("xor"), backend="array-api").source, encoding="utf-8")
    script = (
        "import sys, jax.numpy as jnp; sys.path.insert(0, sys.argv[1]); import xor_array_api as m\n"
        "print(m.init_params(0, 'float32', xp=jnp)['W1'].dtype)\n"
        "try:\n    m.init_params(0, xp=jnp)\nexcept ValueError as err:\n    print(err)\n"
    )
    env = {**os.environ, "JAX_ENABLE_X64": "0"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.strip().splitlines()
    assert first == "float32"
    assert "float64" in second and "jax_enable_x64" in second


def test_cli_generates_and_checks_the_array_api_module(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "symbackprop", *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)

    done = run("generate", "xor", "--backend", "array-api")
    assert done.returncode == 0, done.stderr
    written = tmp_path / "generated" / "xor_array_api.py"
    assert written.read_text(encoding="utf-8") == (ROOT / "generated/xor_array_api.py").read_text(
        encoding="utf-8"
    )
    done = run("check", "xor", "--backend", "array-api")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 of 4 parameters pass" in done.stdout
    done = run("generate", "xor", "--backend", "cupy")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_cli_backends_match_codegen() -> None:
    from symbackprop import codegen
    from symbackprop.cli import generate as command

    assert command.BACKENDS == codegen.BACKENDS


def test_training_on_a_dask_cluster_follows_the_numpy_module() -> None:
    """Data chunked by rows on a LocalCluster of two worker processes: the parameters after
    training equal the NumPy module's on the same minibatch order, and every step is persisted
    (the task graph of the parameters does not grow with the steps)."""
    _library("dask")
    distributed = pytest.importorskip("distributed")
    import dask.array as da

    reference, module = _modules("xor")
    X, Y = _point(load_spec("xor"), seed=6, batch=120)
    params = reference.init_params(1)
    arrays = {key: da.from_array(value) for key, value in params.items()}
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        inputs, targets = da.from_array(X, chunks=40), da.from_array(Y, chunks=40)
        trained, history = module.train(arrays, inputs, targets, lr=0.5, epochs=2, batch_size=30)
        tasks = len(dict(trained["W1"].__dask_graph__()))
        computed = {key: np.asarray(value.compute()) for key, value in trained.items()}
    expected = reference.train(params, X, Y, lr=0.5, epochs=2, batch_size=30)
    assert history == pytest.approx(expected, rel=1e-12)
    for key in params:
        _close(computed[key], params[key], f"xor trained on the cluster: {key}")
    assert tasks <= 2, tasks


@pytest.mark.parametrize("library", ["array-api-strict", "jax", "torch"])
def test_optimizers_follow_the_numpy_module_and_torch(library: str) -> None:
    """Every optimiser's functional step (new arrays, the arguments unchanged) agrees with the
    NumPy module's in-place optimizer_step over five steps, and Adam with torch.optim.Adam."""
    to, back = _library(library)
    reference, module = _modules("xor")
    X, Y = _point(load_spec("xor"), seed=7, batch=6)
    for name in reference.OPTIMIZERS:
        options = {"weight_decay": 0.01} if "weight_decay" in reference.OPTIMIZERS[name] else {}
        params = reference.init_params(2)
        state = reference.init_state(params, name, lr=0.05, **options)
        arrays = {key: to(value) for key, value in params.items()}
        functional = module.init_state(arrays, name, lr=0.05, **options)
        for _ in range(5):
            grads = reference.gradients(params, X, Y)
            old, before = arrays, {key: back(value).copy() for key, value in arrays.items()}
            arrays, functional = module.optimizer_step(
                arrays, {key: to(value) for key, value in grads.items()}, functional
            )
            for key in params:  # the step made new arrays and left its arguments alone
                np.testing.assert_array_equal(back(old[key]), before[key])
            reference.optimizer_step(params, grads, state)
            assert functional["t"] == state["t"]
            for key in params:
                _close(back(arrays[key]), params[key], f"{name} on {library}: {key}")
    torch = pytest.importorskip("torch")
    params = reference.init_params(3)
    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    adam = torch.optim.Adam(tensors.values(), lr=0.05)
    arrays = {key: to(value) for key, value in params.items()}
    state = module.init_state(arrays, "adam", lr=0.05)
    for _ in range(4):
        grads = module.gradients(arrays, to(X), to(Y))
        for key, tensor in tensors.items():
            tensor.grad = torch.tensor(back(grads[key]))
        adam.step()
        arrays, state = module.optimizer_step(arrays, grads, state)
    for key, tensor in tensors.items():
        _close(back(arrays[key]), tensor.detach().numpy(), f"adam vs torch on {library}: {key}")


def test_training_with_an_optimizer_follows_the_numpy_module() -> None:
    to, back = _library("array-api-strict")
    reference, module = _modules("classifier")
    X, Y = _point(load_spec("classifier"), seed=8, batch=10)
    params = reference.init_params(1)
    arrays = {key: to(value) for key, value in params.items()}
    trained, history = module.train(
        arrays, to(X), to(Y), lr=0.01, epochs=3, batch_size=4, optimizer="adam"
    )
    expected = reference.train(params, X, Y, lr=0.01, epochs=3, batch_size=4, optimizer="adam")
    assert history == pytest.approx(expected, rel=1e-12)
    for key in params:
        _close(back(trained[key]), params[key], f"adam-trained {key}")
    with pytest.raises(ValueError, match="give lr to train"):
        module.train(arrays, to(X), to(Y), lr=0.1, epochs=1, optimizer="adam",
                     optimizer_options={"lr": 0.1})  # fmt: skip


@pytest.mark.parametrize("case", ["l2", "l1", "both_softmax", "per_layer"])
@pytest.mark.parametrize("library", ["array-api-strict", "jax", "torch"])
def test_regularised_networks_follow_the_numpy_module(case: str, library: str) -> None:
    """R in the loss and ∂R/∂W in the gradients: the same as the NumPy module's (which the
    regularisation tests compare with JAX and finite differences), in loss, gradients and a
    step; and under jax.jit."""
    from . import test_regularization as regularization

    to, back = _library(library)
    network = load_spec(regularization._spec(case))
    reference = load_module(generate(network).source, case)
    module = load_module(generate(network, backend="array-api").source, case)
    X, Y = regularization._data(case)
    params = reference.init_params(5)
    arrays = {key: to(value) for key, value in params.items()}
    gradients = jax.jit(module.gradients) if library == "jax" else module.gradients
    grads, expected = gradients(arrays, to(X), to(Y)), reference.gradients(params, X, Y)
    for key in params:
        _close(back(grads[key]), expected[key], f"{case} on {library}: {key}")
    value = float(module.loss(arrays, to(X), to(Y)))
    assert value == pytest.approx(reference.loss(params, X, Y), rel=1e-12)
    stepped, before = module.sgd_step(arrays, to(X), to(Y), 0.1)
    assert float(before) == pytest.approx(value, rel=1e-12)
    for key in params:
        _close(back(stepped[key]), params[key] - 0.1 * expected[key], f"{case} step {key}")
