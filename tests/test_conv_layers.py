"""Convolution, pooling and flatten layers: specs and shapes, the derivation's local partials
against SymPy's own differentiation, and the layered derivation against direct
differentiation of E written out (the self-check) on small instances."""

from __future__ import annotations

import itertools

import pytest
import sympy

from symbackprop.derive import derive
from symbackprop.errors import SpecError
from symbackprop.layers import kind_of
from symbackprop.layers.conv2d import c, cp, i, j, u, v
from symbackprop.notation import Act, l_sym
from symbackprop.selfcheck import self_check
from symbackprop.spec import load_spec_text

CNN = """
name = "small_cnn"
inputs = [1, 4, 4]
loss = "cross_entropy"
[[layers]]
kind = "conv2d"
filters = 2
kernel = 2
activation = "tanh"
[[layers]]
kind = "maxpool2d"
size = 2
stride = 1
[[layers]]
kind = "flatten"
[[layers]]
units = 2
activation = "softmax"
"""


def _spec(text: str = CNN, **replace: str) -> str:
    for old, new in replace.items():
        text = text.replace(old.replace("_", " "), new)
    return text


def test_shapes_follow_the_layers() -> None:
    net = load_spec_text(CNN)
    assert net.input_shape == (1, 4, 4) and net.inputs == 16
    assert [layer.shape_out for layer in net.layers] == [(2, 3, 3), (2, 2, 2), (8,), (2,)]
    assert net.sizes == (16, 18, 8, 8, 2)


def test_stride_and_padding_give_the_textbook_output_size() -> None:
    text = CNN.replace("kernel = 2\n", "kernel = [3, 2]\nstride = 2\npadding = [1, 0]\n")
    net = load_spec_text(text.replace("size = 2\nstride = 1", "size = 1"))
    # (4 + 2·1 - 3) // 2 + 1 = 2 rows, (4 - 2) // 2 + 1 = 2 columns
    assert net.layers[0].shape_out == (2, 2, 2)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("kernel = 2", "kernel = 5", "layers[0] (layer 1): conv2d kernel 5x5 does not fit its 4x4"),
        ('kind = "flatten"', 'kind = "flaten"', "did you mean 'flatten'"),
        ('[[layers]]\nkind = "flatten"\n', "", "a dense layer takes a flat input"),
        ("kernel = 2", 'kernel = 2\npadding = "same"', '"same" needs stride 1 and an odd kernel'),
        ("filters = 2", "filters = 0", "filters (layer 1): must be a whole number from 1"),
        ("size = 2", "size = [2, 2, 2]", "expected a whole number or [height, width]"),
        ("inputs = [1, 4, 4]", "inputs = 16", "receives a flat input of 16"),
        (
            'kind = "conv2d"',
            'kind = "conv1d"',
            "conv1d slides over feature maps (channels, length)",
        ),
        ("inputs = [1, 4, 4]", "inputs = [1, 4, 4, 4]", "[channels, length]"),
        ("inputs = [1, 4, 4]", "inputs = [1024, 64, 64]", "[1024, 64, 64] makes 4,194,304 values"),
        (
            'name = "small_cnn"',
            'name = "small_cnn"\nregularization = { l2 = 0.1 }',
            "not supported",
        ),
    ],
)
def test_bad_specs_get_one_line_errors(old: str, new: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec_text(CNN.replace(old, new), "cnn.toml")
    text = str(caught.value)
    assert message in text and "\n" not in text and text.startswith("cnn.toml: ")


def test_the_output_layer_must_be_dense() -> None:
    text = CNN.split('[[layers]]\nkind = "flatten"')[0]
    with pytest.raises(SpecError, match="the output layer must be dense"):
        load_spec_text(text)


def test_conv_local_partials_are_sympys() -> None:
    """dz/dw and dz/db as carried agree with SymPy's differentiation of the written-out sum,
    at every kernel entry (stride 2 and padding 1, so the offsets show)."""
    text = CNN.replace("kernel = 2\n", "kernel = 2\nstride = 2\npadding = 1\n")
    net = load_spec_text(text.replace("size = 2\nstride = 1", "size = 1"))
    kind = kind_of(net.layers[0])
    carried = kind.local_partials()
    for ch, row, col in itertools.product(range(1), range(2), range(2)):
        derived = kind.derived_local_partials(ch, row, col)  # type: ignore[attr-defined]
        at = {c: sympy.Integer(ch), u: sympy.Integer(row), v: sympy.Integer(col)}
        assert sympy.simplify(derived["w"] - carried["w"].xreplace(at)) == 0
        assert derived["b"] == carried["b"] == 1
    # the input entry a kernel entry meets: a_{c, 2i+u-1, 2j+v-1}^(l-1)
    assert carried["w"] == Act(l_sym - 1, c, 2 * i + u - 1, 2 * j + v - 1)


def test_index_form_sums_run_over_the_kernel_and_the_maps() -> None:
    d = derive(load_spec_text(CNN))
    pre = d.layers[0].require("index", "pre")
    total = pre.final.args[0]
    assert isinstance(total, sympy.Sum)
    assert {limit[0] for limit in total.limits} == {c, u, v}
    assert {(limit[0], limit[2]) for limit in total.limits} == {(c, 0), (u, 1), (v, 1)}
    dw = d.layers[0].require("index", "dE_dw")
    assert {(limit[0], limit[2]) for limit in dw.final.limits} == {(i, 2), (j, 2)}
    assert pre.lhs.args[1:] == (cp, i, j)


SELF_CHECKED = {
    "max pooling, stride 1": CNN,
    "average pooling": CNN.replace("maxpool2d", "avgpool2d"),
    "stride 2 and padding": CNN.replace(
        "kernel = 2\n", "kernel = 3\nstride = 2\npadding = 1\n"
    ).replace("size = 2\nstride = 1", "size = 2"),
    "a sequence: conv1d with stride and padding": """
name = "seq"
inputs = [2, 6]
loss = "squared_error"
[[layers]]
kind = "conv1d"
filters = 2
kernel = 3
stride = 2
padding = 1
activation = "tanh"
[[layers]]
kind = "conv1d"
filters = 1
kernel = 2
activation = "softplus"
[[layers]]
kind = "flatten"
[[layers]]
units = 1
activation = "sigmoid"
""",
    "relu and two convolutions": CNN.replace(
        '[[layers]]\nkind = "maxpool2d"\nsize = 2\nstride = 1\n',
        '[[layers]]\nkind = "conv2d"\nfilters = 1\nkernel = 2\nactivation = "relu"\n',
    ),
}


@pytest.mark.parametrize("name", list(SELF_CHECKED))
def test_self_check_agrees_with_direct_differentiation(name: str) -> None:
    derivation = derive(load_spec_text(SELF_CHECKED[name]))
    results = self_check(derivation, seed=3)
    assert results and all(r.ok for r in results), [r for r in results if not r.ok]
    weights = sum(r.parameter.startswith("∂E/∂w") for r in results)
    assert weights == sum(p.size for p in _params(derivation).values() if p.ndim > 1)


def _params(derivation: object) -> dict:
    from symbackprop.sampling import random_point

    return random_point(derivation.network).params  # type: ignore[attr-defined]


def test_self_check_catches_a_wrong_kernel_gradient() -> None:
    """The check can fail: a dE/dw that forgets the stride's offset disagrees."""
    derivation = derive(load_spec_text(SELF_CHECKED["stride 2 and padding"]))
    layer = derivation.layers[0]
    eq = layer.require("index", "dE_dw")
    wrong = eq.final.xreplace(
        {Act(1 - 1, c, 2 * i + u - 1, 2 * j + v - 1): Act(0, c, i + u, j + v)}
    )
    assert wrong != eq.final
    broken = type(eq)(eq.view, eq.kind, eq.layer, eq.lhs, (*eq.rhs[:-1], wrong))
    index = tuple(broken if e is eq else e for e in layer.index)
    from dataclasses import replace

    bad = replace(derivation, layers=(replace(layer, index=index), *derivation.layers[1:]))
    results = self_check(bad, seed=3)
    assert not all(r.ok for r in results)
