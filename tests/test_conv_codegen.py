"""The generated NumPy module of networks with convolution, pooling and flatten layers, against
PyTorch's autograd (which the package never imports) and finite differences."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from symbackprop.codegen import generate
from symbackprop.errors import SymbackpropError
from symbackprop.sampling import random_point
from symbackprop.spec import Network, load_spec, load_spec_text

#: name -> (inputs, layers as TOML tables, loss, output activation): the shapes the helpers'
#: index arithmetic can get wrong (stride 2, padding, non-square kernels, overlapping and
#: average pooling, a window the stride leaves rows of, two convolutions in a row).
NETWORKS = {
    "lenet-like": (
        [1, 8, 8],
        [
            'kind = "conv2d"\nfilters = 3\nkernel = 3\nactivation = "relu"',
            'kind = "maxpool2d"\nsize = 2',
            'kind = "conv2d"\nfilters = 4\nkernel = 2\nactivation = "tanh"',
            'kind = "flatten"',
            'units = 5\nactivation = "tanh"',
        ],
        "cross_entropy",
        "softmax",
    ),
    "strided and padded": (
        [2, 7, 6],
        [
            'kind = "conv2d"\nfilters = 3\nkernel = [3, 2]\nstride = 2\npadding = [1, 0]\n'
            'activation = "sigmoid"',
            'kind = "avgpool2d"\nsize = 2\nstride = 1',
            'kind = "flatten"',
        ],
        "squared_error",
        "sigmoid",
    ),
    "sequence, conv1d": (
        [2, 9],
        [
            'kind = "conv1d"\nfilters = 3\nkernel = 3\nstride = 2\npadding = 1\n'
            'activation = "tanh"',
            'kind = "conv1d"\nfilters = 2\nkernel = 2\nactivation = "relu"',
            'kind = "flatten"',
        ],
        "squared_error",
        "sigmoid",
    ),
    "overlapping max pooling": (
        [1, 9, 9],
        [
            'kind = "conv2d"\nfilters = 2\nkernel = 3\npadding = "same"\nactivation = "tanh"',
            'kind = "maxpool2d"\nsize = 3\nstride = 2',
            'kind = "conv2d"\nfilters = 2\nkernel = 2\nstride = 2\nactivation = "relu"',
            'kind = "flatten"',
        ],
        "cross_entropy",
        "softmax",
    ),
}


def _network(name: str) -> Network:
    inputs, layers, loss, output = NETWORKS[name]
    tables = "".join(f"[[layers]]\n{table}\n" for table in layers)
    units = 3
    text = (
        f'name = "n"\ninputs = {inputs}\nloss = "{loss}"\n{tables}'
        f'[[layers]]\nunits = {units}\nactivation = "{output}"\n'
    )
    return load_spec_text(text)


def _torch_loss(net: Network, params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray):  # type: ignore[no-untyped-def]
    """E averaged over the batch, written with torch.nn.functional from the spec alone (the test
    is skipped where PyTorch is not installed: .ci/run installs it and runs these)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    a = torch.tensor(X).reshape(len(X), *net.input_shape)
    for number, layer in enumerate(net.layers, start=1):
        if layer.kind in ("conv1d", "conv2d"):
            grid = layer.grid
            assert grid is not None
            conv = F.conv1d if layer.kind == "conv1d" else F.conv2d
            z = conv(a, tensors[f"W{number}"], tensors[f"b{number}"], grid.stride, grid.padding)
        elif layer.kind in ("maxpool2d", "avgpool2d"):
            grid = layer.grid
            assert grid is not None
            pool = F.max_pool2d if layer.kind == "maxpool2d" else F.avg_pool2d
            a = pool(a, grid.kernel, grid.stride)
            continue
        elif layer.kind == "flatten":
            a = a.reshape(len(a), -1)
            continue
        else:
            z = a @ tensors[f"W{number}"].T + tensors[f"b{number}"]
        name = layer.activation.name
        if name == "softmax":
            a = torch.softmax(z, dim=1)
        else:
            a = {
                "relu": torch.relu,
                "tanh": torch.tanh,
                "sigmoid": torch.sigmoid,
                "softplus": F.softplus,
            }[name](z)
    target = torch.tensor(Y)
    if net.loss.name == "cross_entropy":
        per_sample = -(target * torch.log(a)).sum(dim=1)
    else:
        per_sample = ((a - target) ** 2).sum(dim=1)
    return per_sample.mean(), a, tensors


@pytest.mark.parametrize("name", list(NETWORKS))
def test_gradients_agree_with_torch_autograd(name: str) -> None:
    net = _network(name)
    module = generate(net).load()
    point = random_point(net, batch=5, seed=1)
    grads = module.gradients(point.params, point.X, point.Y)
    loss, output, tensors = _torch_loss(net, point.params, point.X, point.Y)
    loss.backward()
    assert module.loss(point.params, point.X, point.Y) == pytest.approx(
        float(loss.detach()), rel=1e-12
    )
    np.testing.assert_allclose(module.predict(point.params, point.X), output.detach(), rtol=1e-12)
    assert set(grads) == set(point.params)
    for key, tensor in tensors.items():
        assert grads[key].shape == point.params[key].shape
        np.testing.assert_allclose(grads[key], tensor.grad.numpy(), rtol=1e-9, atol=1e-13)


def test_sgd_step_and_float32() -> None:
    net = _network("lenet-like")
    module = generate(net).load()
    point = random_point(net, batch=4, seed=2)
    params = {key: value.copy() for key, value in point.params.items()}
    grads = module.gradients(params, point.X, point.Y)
    before = module.sgd_step(params, point.X, point.Y, 0.1)
    assert before == pytest.approx(module.loss(point.params, point.X, point.Y), rel=1e-12)
    for key in params:
        np.testing.assert_allclose(params[key], point.params[key] - 0.1 * grads[key], rtol=1e-12)
    single = {key: value.astype(np.float32) for key, value in point.params.items()}
    grads32 = module.gradients(single, point.X, point.Y)
    assert all(value.dtype == np.float32 for value in grads32.values())
    for key in grads:
        np.testing.assert_allclose(grads32[key], grads[key], rtol=2e-3, atol=1e-5)


def test_init_params_gives_kernels_their_shapes() -> None:
    net = _network("strided and padded")
    params = generate(net).load().init_params(seed=0)
    assert params["W1"].shape == (3, 2, 3, 2) and params["b1"].shape == (3,)
    assert set(params) == {"W1", "b1", "W4", "b4"}  # pooling and flatten have none


def test_the_array_api_backend_refuses_in_one_line() -> None:
    with pytest.raises(SymbackpropError) as caught:
        generate(load_spec("digits_cnn"), backend="array-api")
    assert "\n" not in str(caught.value) and "use the NumPy backend" in str(caught.value)


def test_check_passes_on_the_bundled_cnn() -> None:
    """`symbackprop check`: the generated gradients against central finite differences."""
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", "check", "digits_cnn", "--no-cache"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "W1" in run.stdout


def test_train_takes_images_converted_once() -> None:
    """train() converts X to images once; every step then takes them as they are."""
    net = load_spec("digits_cnn")
    module = generate(net).load()
    point = random_point(net, batch=16, seed=4)
    params = module.init_params(seed=1)
    history = module.train(params, point.X, point.Y, lr=0.1, epochs=3, batch_size=4)
    assert len(history) == 3 and all(np.isfinite(history))
    with pytest.raises(ValueError, match=r"X must have shape \(batch, 64\)"):
        module.forward(params, point.X.reshape(16, 1, 64))


@pytest.mark.parametrize("command", [["verify", "digits_cnn", "E = 1"], ["exercise", "digits_cnn"]])
def test_verify_and_exercise_refuse_feature_maps_in_one_line(
    command: list[str], tmp_path: Path
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "dense layers only" in run.stderr
    assert not list(tmp_path.iterdir())


def _random_spec(rng: np.random.Generator) -> str:
    """A random small network mixing conv2d, pooling, flatten and dense layers whose shapes fit
    (the spec's own shape check would refuse any that did not)."""
    channels, rows, cols = int(rng.integers(1, 3)), int(rng.integers(5, 9)), int(rng.integers(5, 9))
    inputs = [channels, rows, cols]
    layers = []
    for _ in range(int(rng.integers(1, 4))):
        if min(rows, cols) < 2:
            break
        if rng.random() < 0.6:
            kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            stride, ph, pw = (
                int(rng.integers(1, 3)),
                int(rng.integers(0, kh)),
                int(rng.integers(0, kw)),
            )
            if kh > rows + 2 * ph or kw > cols + 2 * pw:
                continue
            act = str(rng.choice(["tanh", "relu", "sigmoid", "softplus"]))
            filters = int(rng.integers(1, 4))
            layers.append(
                f'kind = "conv2d"\nfilters = {filters}\nkernel = [{kh}, {kw}]\n'
                f'stride = {stride}\npadding = [{ph}, {pw}]\nactivation = "{act}"'
            )
            rows, cols = (rows + 2 * ph - kh) // stride + 1, (cols + 2 * pw - kw) // stride + 1
        else:
            size, stride = int(rng.integers(1, 3)), int(rng.integers(1, 3))
            kind = str(rng.choice(["maxpool2d", "avgpool2d"]))
            layers.append(f'kind = "{kind}"\nsize = {size}\nstride = {stride}')
            rows, cols = (rows - size) // stride + 1, (cols - size) // stride + 1
    layers.append('kind = "flatten"')
    if rng.random() < 0.5:
        layers.append('units = 4\nactivation = "tanh"')
    softmax = bool(rng.random() < 0.5)
    layers.append(f'units = 3\nactivation = "{"softmax" if softmax else "sigmoid"}"')
    tables = "".join(f"[[layers]]\n{table}\n" for table in layers)
    loss = "cross_entropy" if softmax else "squared_error"
    return f'name = "random"\ninputs = {inputs}\nloss = "{loss}"\n{tables}'


@pytest.mark.parametrize("seed", range(12))
def test_random_networks_agree_with_torch(seed: int) -> None:
    """Property: any network of the kinds mixed at random gets PyTorch's gradients."""
    net = load_spec_text(_random_spec(np.random.default_rng(seed)))
    module = generate(net).load()
    point = random_point(net, batch=3, seed=seed)
    grads = module.gradients(point.params, point.X, point.Y)
    loss, _, tensors = _torch_loss(net, point.params, point.X, point.Y)
    loss.backward()
    assert module.loss(point.params, point.X, point.Y) == pytest.approx(
        float(loss.detach()), rel=1e-12
    )
    for key, tensor in tensors.items():
        np.testing.assert_allclose(grads[key], tensor.grad.numpy(), rtol=1e-9, atol=1e-13)


def test_check_and_train_refuse_a_convolution_too_large_for_memory(tmp_path: Path) -> None:
    """The windows a convolution lays out as columns count: 4 samples of 16x200x200 through 5x5
    kernels would take 4 x 16 x 25 x 196² values, refused at once in one line."""
    spec = tmp_path / "big.toml"
    spec.write_text(
        'name = "big"\ninputs = [16, 200, 200]\nloss = "cross_entropy"\n'
        '[[layers]]\nkind = "conv2d"\nfilters = 2\nkernel = 5\nactivation = "relu"\n'
        '[[layers]]\nkind = "flatten"\n[[layers]]\nunits = 2\nactivation = "softmax"\n',
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "symbackprop", "check", str(spec), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "64,640,264 activations" in run.stderr


@pytest.mark.parametrize("seed", range(0, 12, 3))
def test_check_passes_on_random_networks(seed: int) -> None:
    """`check`'s finite differences (no PyTorch needed) on the random networks above."""
    from symbackprop.gradcheck import gradcheck

    result = gradcheck(load_spec_text(_random_spec(np.random.default_rng(seed))), seed=seed)
    assert result.results and result.ok, str(result)
