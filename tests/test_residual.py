"""Residual connections: the spec, the two paths into ∂E/∂a^(m) in the derivation, the generated
module against PyTorch's autograd (skipped where PyTorch is not installed; .ci/run installs it),
finite differences and the symbolic self-check."""

from __future__ import annotations

import numpy as np
import pytest

from symbackprop.codegen import generate
from symbackprop.derive import derive
from symbackprop.errors import SpecError
from symbackprop.gradcheck import gradcheck
from symbackprop.render import render
from symbackprop.sampling import random_point
from symbackprop.selfcheck import self_check
from symbackprop.spec import Network, load_spec_text

_HEAD = 'name = "res"\ninputs = 4\nloss = "{loss}"\n'

#: name -> (loss, layers): a skip over one layer, one from the inputs, one from the layer just
#: below (span 1), one over a batch norm layer (whose ∂E/∂a^(m) is an array of its own), two
#: connections from one layer.
NETWORKS = {
    "over one layer": (
        "squared_error",
        [
            'name = "stem"\nunits = 4\nactivation = "tanh"',
            'units = 4\nactivation = "tanh"',
            'units = 4\nactivation = "identity"\nresidual = "stem"',
            'units = 2\nactivation = "sigmoid"',
        ],
    ),
    "from the inputs, span 1, over batch norm": (
        "cross_entropy",
        [
            'name = "stem"\nunits = 4\nactivation = "relu"',
            'kind = "batchnorm"',
            'units = 4\nactivation = "tanh"\nresidual = "stem"',
            'units = 4\nactivation = "identity"\nresidual = 0',
            'units = 4\nactivation = "tanh"\nresidual = 4',
            'units = 3\nactivation = "softmax"',
        ],
    ),
    "two connections from one layer": (
        "squared_error",
        [
            'units = 4\nactivation = "sigmoid"',
            'units = 4\nactivation = "tanh"\nresidual = 1',
            'units = 4\nactivation = "tanh"\nresidual = 1',
            'units = 1\nactivation = "sigmoid"',
        ],
    ),
}


def _network(name: str) -> Network:
    loss, layers = NETWORKS[name]
    tables = "".join(f"[[layers]]\n{table}\n" for table in layers)
    return load_spec_text(_HEAD.format(loss=loss) + tables)


def test_residual_errors_name_the_field() -> None:
    def spec(*tables: str) -> str:
        return _HEAD.format(loss="squared_error") + "".join(f"[[layers]]\n{t}\n" for t in tables)

    cases = [
        (
            spec('units = 3\nactivation = "tanh"', 'units = 4\nactivation = "tanh"\nresidual = 1'),
            "layers[1].residual (layer 2): layer 1 hands on 3 values, but this layer has 4 units",
        ),
        (
            spec('units = 4\nactivation = "tanh"\nresidual = 2', 'units = 1\nactivation = "tanh"'),
            "layers[0].residual (layer 1): must be 0 for the inputs, got 2",
        ),
        (
            spec('units = 4\nactivation = "tanh"\nresidual = "later"'),
            "layers[0].residual (layer 1): no earlier layer is named 'later'",
        ),
        (
            spec('name = "a"\nunits = 4\nactivation = "tanh"', 'name = "a"\nkind = "layernorm"'),
            "layers[1].name (layer 2): 'a' names layer 1 already",
        ),
    ]
    for text, message in cases:
        with pytest.raises(SpecError) as caught:
            load_spec_text(text)
        assert message in str(caught.value), str(caught.value)
        assert "\n" not in str(caught.value)


def test_the_derivation_adds_the_second_path() -> None:
    text = render(derive(_network("over one layer")), "text")
    assert "(I3.z) z_j^(3) = Σ_{k=1..n^(2)} w_jk^(3) · a_k^(2) + b_j^(3) + a_j^(1)" in text
    assert "(I2.p) ∂E/∂a_k^(1) = Σ_{j=1..n^(2)} ∂z_j^(2)/∂a_k^(1)" in text
    assert "+ ∂z_k^(3)/∂a_k^(1) · ∂E/∂z_k^(3)" in text
    assert "= ((W^(2))ᵀ δ^(2) + δ^(3)) ⊙ σ'(z^(1))" in text


def _torch_loss(net: Network, params, X, Y):  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    outputs = [torch.tensor(X)]
    for number, layer in enumerate(net.layers, start=1):
        a = outputs[-1]
        if layer.kind == "batchnorm":
            gamma, beta = tensors[f"gamma{number}"], tensors[f"beta{number}"]
            z = F.batch_norm(a, None, None, gamma, beta, training=True, eps=1e-5)
        else:
            z = a @ tensors[f"W{number}"].T + tensors[f"b{number}"]
            if layer.residual is not None:
                z = z + outputs[layer.residual]
        name = layer.activation.name
        if name == "softmax":
            outputs.append(torch.softmax(z, dim=1))
            continue
        functions = {"identity": lambda t: t, "tanh": torch.tanh, "relu": torch.relu}
        outputs.append({**functions, "sigmoid": torch.sigmoid}[name](z))
    a, target = outputs[-1], torch.tensor(Y)
    if net.loss.name == "cross_entropy":
        per_sample = -(target * torch.log(a)).sum(dim=1)
    else:
        per_sample = ((a - target) ** 2).sum(dim=1)
    return per_sample.mean(), tensors


@pytest.mark.parametrize("name", list(NETWORKS))
def test_gradients_agree_with_torch_autograd(name: str) -> None:
    net = _network(name)
    module = generate(net).load()
    point = random_point(net, batch=6, seed=7)
    loss, tensors = _torch_loss(net, point.params, point.X, point.Y)
    loss.backward()
    assert module.loss(point.params, point.X, point.Y) == pytest.approx(
        float(loss.detach()), rel=1e-12
    )
    grads = module.gradients(point.params, point.X, point.Y)
    assert set(grads) == set(tensors)
    for key, tensor in tensors.items():
        np.testing.assert_allclose(grads[key], tensor.grad.numpy(), rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_finite_differences(name: str) -> None:
    result = gradcheck(_network(name), batch=5)
    assert result.ok, str(result)


def _small(residual: bool) -> Network:
    """2 inputs, two hidden layers of 2, one output: small enough to write E out fast; the
    third layer adds the first one's output (or, `residual` False, does not)."""
    skip = "\nresidual = 1" if residual else ""
    tables = (
        'units = 2\nactivation = "tanh"',
        'units = 2\nactivation = "sigmoid"',
        f'units = 2\nactivation = "tanh"{skip}',
        'units = 1\nactivation = "sigmoid"',
    )
    text = 'name = "small"\ninputs = 2\nloss = "squared_error"\n'
    return load_spec_text(text + "".join(f"[[layers]]\n{t}\n" for t in tables))


def test_the_self_check_differentiates_E_written_out() -> None:
    results = self_check(derive(_small(True)))
    assert len(results) == 21 and all(r.ok for r in results)


def test_the_self_check_fails_without_the_second_path() -> None:
    """The same check on a derivation whose ∂E/∂a^(1) lost the skip path reports it."""
    import dataclasses

    derivation, plain = derive(_small(True)), derive(_small(False))
    layers = list(derivation.layers)
    layers[1] = dataclasses.replace(layers[1], index=plain.layers[1].index)
    broken = dataclasses.replace(derivation, layers=tuple(layers))
    results = self_check(broken)
    assert any(not r.ok for r in results)
    assert all(r.ok for r in results if "^(3)" in r.parameter or "^(4)" in r.parameter)
