"""The NumPy modules' convolution and pooling helpers (templates/numpy/conv.py.jinja) against
PyTorch: conv2d, max_pool2d and avg_pool2d forwards, and their backwards by torch autograd."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from symbackprop.render import environment

torch = pytest.importorskip("torch")
functional = torch.nn.functional

NAMES = (
    "_windows",
    "_conv2d",
    "_conv2d_weights",
    "_conv2d_inputs",
    "_maxpool2d",
    "_maxpool2d_inputs",
    "_avgpool2d",
    "_avgpool2d_inputs",
)


def _rendered() -> str:
    """The template's text with every helper switched on."""
    template = environment("python").get_template("numpy/conv.py.jinja")
    return template.render(helpers=set(NAMES))


def _helpers() -> dict[str, Any]:
    """The helpers as functions, in a namespace holding only np, as a generated module has."""
    space: dict[str, Any] = {"np": np}
    # the package's own template text, rendered above; nothing a user wrote
    exec(compile(_rendered(), "conv.py", "exec"), space)  # noqa: S102
    return space


H = _helpers()
Fn = Callable[..., np.ndarray]
conv2d: Fn = H["_conv2d"]
conv2d_weights: Fn = H["_conv2d_weights"]
conv2d_inputs: Fn = H["_conv2d_inputs"]
maxpool2d: Fn = H["_maxpool2d"]
maxpool2d_inputs: Fn = H["_maxpool2d_inputs"]
avgpool2d: Fn = H["_avgpool2d"]
avgpool2d_inputs: Fn = H["_avgpool2d_inputs"]
windows: Fn = H["_windows"]

# (n, C, H, W), (F, KH, KW), stride, padding
CONV_CASES = [
    ((2, 3, 7, 7), (4, 3, 3), (1, 1), (0, 0)),
    ((3, 2, 8, 9), (5, 3, 2), (2, 2), (1, 1)),
    ((2, 1, 10, 7), (3, 5, 5), (2, 1), (2, 2)),
    ((1, 2, 9, 11), (2, 2, 4), (3, 2), (0, 1)),  # (9 - 2) % 3 != 0: the last row unused
    ((2, 3, 6, 8), (2, 1, 3), (1, 3), (2, 0)),
    ((4, 1, 28, 28), (6, 5, 5), (1, 1), (0, 0)),
]
# (n, C, H, W), size, stride
POOL_CASES = [
    ((2, 3, 8, 8), (2, 2), (2, 2)),
    ((2, 2, 9, 9), (3, 3), (2, 2)),  # overlapping windows
    ((1, 3, 7, 10), (2, 3), (1, 2)),
    ((2, 1, 11, 8), (3, 2), (3, 3)),  # (11 - 3) % 3 != 0: the last rows unused
    ((3, 2, 5, 6), (1, 1), (1, 1)),
]


def _tensor(array: np.ndarray, grad: bool = False) -> Any:
    """A torch tensor with array's values, float64 if array is, tracking gradients if asked."""
    return torch.tensor(array, requires_grad=grad)


def _torch_conv(
    a: np.ndarray, W: np.ndarray, G: np.ndarray, stride: tuple[int, int], padding: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """torch's z and the gradients of sum(z * G) with respect to a and W."""
    at, Wt = _tensor(a, True), _tensor(W, True)
    z = functional.conv2d(at, Wt, stride=stride, padding=padding)
    (z * _tensor(G)).sum().backward()
    return z.detach().numpy(), at.grad.numpy(), Wt.grad.numpy()


@pytest.mark.parametrize(("shape", "filters", "stride", "padding"), CONV_CASES)
def test_conv2d_matches_torch(
    shape: tuple[int, int, int, int],
    filters: tuple[int, int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> None:
    rng = np.random.default_rng(sum(shape) + sum(filters))
    F, KH, KW = filters
    a = rng.standard_normal(shape)
    W = rng.standard_normal((F, shape[1], KH, KW))
    z = conv2d(a, W, stride, padding)
    G = rng.standard_normal(z.shape)
    z_ref, da_ref, dW_ref = _torch_conv(a, W, G, stride, padding)
    assert z.shape == z_ref.shape
    np.testing.assert_allclose(z, z_ref, rtol=0, atol=1e-12)
    dW = conv2d_weights(a, G, (KH, KW), stride, padding)
    assert dW.shape == W.shape
    np.testing.assert_allclose(dW, dW_ref, rtol=0, atol=1e-12)
    da = conv2d_inputs(G, W, shape[2:], stride, padding)
    assert da.shape == a.shape
    np.testing.assert_allclose(da, da_ref, rtol=0, atol=1e-12)


def test_unreached_rows_get_zero_gradient() -> None:
    """With H = 9, KH = 2, sh = 3 no window reaches the last row: its gradient is exactly 0."""
    rng = np.random.default_rng(1)
    W = rng.standard_normal((2, 1, 2, 2))
    delta = rng.standard_normal((1, 2, 3, 4))
    da = conv2d_inputs(delta, W, (9, 8), (3, 2), (0, 0))
    assert da.shape == (1, 1, 9, 8)
    assert np.all(da[:, :, 8, :] == 0)
    assert np.any(da[:, :, 7, :] != 0)


def test_windows_is_a_read_only_view() -> None:
    a = np.arange(2 * 1 * 5 * 6, dtype=np.float64).reshape(2, 1, 5, 6)
    view = windows(a, (2, 3), (2, 1), (1, 0))
    assert view.shape == (2, 1, 3, 4, 2, 3)
    assert not view.flags.writeable
    padded = np.pad(a, ((0, 0), (0, 0), (1, 1), (0, 0)))
    np.testing.assert_array_equal(view[1, 0, 2, 3], padded[1, 0, 4:6, 3:6])


@pytest.mark.parametrize(("shape", "size", "stride"), POOL_CASES)
def test_maxpool2d_matches_torch(
    shape: tuple[int, int, int, int], size: tuple[int, int], stride: tuple[int, int]
) -> None:
    rng = np.random.default_rng(sum(shape) + sum(size))
    a = rng.standard_normal(shape)
    _check_maxpool(a, size, stride, rng)


@pytest.mark.parametrize(("shape", "size", "stride"), POOL_CASES)
def test_maxpool2d_ties_route_as_torch(
    shape: tuple[int, int, int, int], size: tuple[int, int], stride: tuple[int, int]
) -> None:
    """Integer inputs from {0, 1, 2}: most windows hold their maximum more than once."""
    rng = np.random.default_rng(7 + sum(shape))
    a = rng.integers(0, 3, size=shape).astype(np.float64)
    _check_maxpool(a, size, stride, rng)


def test_maxpool2d_constant_input_routes_to_first() -> None:
    """Every position tied: each window's upstream goes to its top-left corner, as in torch."""
    rng = np.random.default_rng(3)
    _check_maxpool(np.ones((1, 1, 6, 6)), (3, 3), (2, 2), rng)
    G = np.ones((1, 1, 2, 2))
    ones = np.ones((1, 1, 6, 6))
    grad = maxpool2d_inputs(G, ones, maxpool2d(ones, (3, 3), (2, 2)), (3, 3), (2, 2))
    expected = np.zeros((6, 6))
    expected[0:3:2, 0:3:2] = 1
    np.testing.assert_array_equal(grad[0, 0], expected)


def test_maxpool2d_inputs_sends_nothing_but_to_the_maximum() -> None:
    """An infinite upstream value reaches its window's maximum only; elsewhere exactly 0."""
    a = np.arange(16.0).reshape(1, 1, 4, 4)
    top = maxpool2d(a, (2, 2), (2, 2))
    grad = maxpool2d_inputs(np.full((1, 1, 2, 2), np.inf), a, top, (2, 2), (2, 2))
    expected = np.zeros((4, 4))
    expected[1::2, 1::2] = np.inf
    np.testing.assert_array_equal(grad[0, 0], expected)


def _check_maxpool(
    a: np.ndarray, size: tuple[int, int], stride: tuple[int, int], rng: np.random.Generator
) -> None:
    """_maxpool2d and _maxpool2d_inputs against torch's max_pool2d and its autograd."""
    z = maxpool2d(a, size, stride)
    G = rng.standard_normal(z.shape)
    at = _tensor(a, True)
    z_ref = functional.max_pool2d(at, size, stride)
    (z_ref * _tensor(G)).sum().backward()
    assert z.shape == tuple(z_ref.shape)
    np.testing.assert_array_equal(z, z_ref.detach().numpy())
    grad = maxpool2d_inputs(G, a, z, size, stride)
    assert grad.shape == a.shape
    np.testing.assert_allclose(grad, at.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("shape", "size", "stride"), POOL_CASES)
def test_avgpool2d_matches_torch(
    shape: tuple[int, int, int, int], size: tuple[int, int], stride: tuple[int, int]
) -> None:
    rng = np.random.default_rng(11 + sum(shape) + sum(size))
    a = rng.standard_normal(shape)
    z = avgpool2d(a, size, stride)
    G = rng.standard_normal(z.shape)
    at = _tensor(a, True)
    z_ref = functional.avg_pool2d(at, size, stride)
    (z_ref * _tensor(G)).sum().backward()
    assert z.shape == tuple(z_ref.shape)
    np.testing.assert_allclose(z, z_ref.detach().numpy(), rtol=0, atol=1e-12)
    grad = avgpool2d_inputs(G, shape[2:], size, stride)
    assert grad.shape == a.shape
    np.testing.assert_allclose(grad, at.grad.numpy(), rtol=0, atol=1e-12)


def test_float32_stays_float32() -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    W = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    stride, padding = (2, 1), (1, 2)
    z = conv2d(a, W, stride, padding)
    delta = np.ones_like(z)
    outputs = {
        "windows": windows(a, (3, 2), stride, padding),
        "conv2d": z,
        "conv2d_weights": conv2d_weights(a, delta, (3, 2), stride, padding),
        "conv2d_inputs": conv2d_inputs(delta, W, (9, 8), stride, padding),
    }
    pooled = maxpool2d(a, (3, 3), (2, 2))
    up = np.ones_like(pooled)
    outputs["maxpool2d"] = pooled
    outputs["maxpool2d_inputs"] = maxpool2d_inputs(up, a, pooled, (3, 3), (2, 2))
    outputs["avgpool2d"] = avgpool2d(a, (3, 3), (2, 2))
    outputs["avgpool2d_inputs"] = avgpool2d_inputs(up, (9, 8), (3, 3), (2, 2))
    assert {name: value.dtype for name, value in outputs.items()} == dict.fromkeys(
        outputs, np.dtype(np.float32)
    )


def test_each_helper_renders_alone_where_asked() -> None:
    """Every name switches on its own function and no other."""
    template = environment("python").get_template("numpy/conv.py.jinja")
    assert template.render(helpers=set()).strip() == ""
    for name in NAMES:
        text = template.render(helpers={name})
        assert f"def {name}(" in text
        assert text.count("def ") == 1
