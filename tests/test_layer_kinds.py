"""Layer kinds (symbackprop/layers): the chain rule takes ∂E/∂a^(l) from the kind of the layer
above, and a spec's `kind` field names a known kind or fails in one line."""

from __future__ import annotations

import pytest
import sympy

from symbackprop import SpecError, derive, load_spec
from symbackprop.derive import _layer_template, activation_rule
from symbackprop.layers import DENSE, KINDS, dense, kind_of
from symbackprop.notation import Delta, MatProd, Transposed, WeightMatrix, l_sym
from symbackprop.spec import LAYER_KINDS, activation

SPEC = 'name = "k"\ninputs = 2\nloss = "squared_error"\n'
LAYER = '[[layers]]\nunits = 3\nactivation = "tanh"\n{extra}\n'
OUTPUT = '[[layers]]\nunits = 1\nactivation = "sigmoid"\n'


class _Marked:
    """A stand-in kind above: dense in everything but the ∂E/∂a it hands down."""

    MARK = sympy.Symbol("upstream_from_above")

    def forward(self, view, rule):  # type: ignore[no-untyped-def]
        return dense.forward(view, rule)

    def equations(self, *args):  # type: ignore[no-untyped-def]
        return dense.equations(*args)

    def upstream_vector(self, layer):  # type: ignore[no-untyped-def]
        return self.MARK * layer

    def local_partials(self):  # type: ignore[no-untyped-def]
        return dense.local_partials()


def test_hidden_delta_takes_its_upstream_from_the_kind_above() -> None:
    rule = activation_rule(activation("tanh"))
    eqs = _layer_template("vector", rule, None, True, False, DENSE, _Marked())
    delta = next(eq for eq in eqs if eq.kind == "delta")
    assert all(step.has(_Marked.MARK) for step in delta.rhs[1:])
    assert not any(step.has(MatProd) for step in delta.rhs)
    plain = _layer_template("vector", rule, None, True, False, DENSE, DENSE)
    back = MatProd(Transposed(WeightMatrix(l_sym + 1)), Delta(l_sym + 1))
    assert next(eq for eq in plain if eq.kind == "delta").rhs[1].has(back)


def test_every_spec_kind_has_equations() -> None:
    assert set(LAYER_KINDS) == set(KINDS)
    net = load_spec(SPEC + LAYER.format(extra='kind = "dense"') + OUTPUT)
    assert kind_of(net.layers[0]) is dense
    implicit = load_spec(SPEC + LAYER.format(extra="") + OUTPUT)
    assert net == implicit
    assert derive(net).layers[0].vector == derive(implicit).layers[0].vector


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('kind = "conv3d"', "layers[0].kind (layer 1): unknown layer kind 'conv3d'; did you mean"),
        ("kind = 3", 'layers[0].kind (layer 1): must be a string such as "dense", got'),
    ],
)
def test_unknown_kind_is_one_line_naming_the_layer(extra: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(SPEC + LAYER.format(extra=extra) + OUTPUT)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_lowering_asks_each_layer_kind_for_its_statements(monkeypatch: pytest.MonkeyPatch) -> None:
    """lower() takes every statement from the layer's kind: a stand-in kind that drops its
    bias statement leaves a program without that layer's bias gradient, the others intact."""
    from symbackprop.lower import program
    from symbackprop.lower.statements import BatchSum

    net = load_spec(SPEC + LAYER.format(extra="") + OUTPUT)
    full = program.lower(derive(net))

    class _NoBias:
        def lower_forward(self, ld):  # type: ignore[no-untyped-def]
            return dense.lower_forward(ld)

        def lower_backward(self, ld, is_output, values):  # type: ignore[no-untyped-def]
            statements = dense.lower_backward(ld, is_output, values)
            return [s for s in statements if not (ld.number == 1 and isinstance(s, BatchSum))]

    monkeypatch.setattr(program, "kind_of", lambda layer: _NoBias())
    lowered = program.lower(derive(net))
    assert lowered.forward == full.forward
    assert [s for s in full.backward if s not in lowered.backward] == [full.backward[-1]]
    assert isinstance(full.backward[-1], BatchSum)


@pytest.mark.parametrize("name", ["xor", "classifier"])
def test_a_kind_without_an_in_place_schedule_steps_by_the_readable_functions(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A layer kind the in-place schedule does not know (dense, marked so here) still gets a
    module: sgd_step takes the readable path, and its update is p - lr * gradients(p) with the
    loss before it, computed here by hand from the module's own readable functions."""
    import numpy as np

    from symbackprop.codegen import generate

    monkeypatch.setattr(dense, "IN_PLACE", False)
    module = generate(load_spec(name))
    assert "def _buffers" not in module.source
    assert "the in-place schedule of the dense\n    step does not know" in module.source
    loaded = module.load()
    rng = np.random.default_rng(0)
    params = loaded.init_params(seed=1)
    X = rng.normal(size=(5, params["W1"].shape[1]))
    out = params[f"W{len(params) // 2}"].shape[0]
    Y = np.eye(out)[rng.integers(0, out, size=5)] if out > 1 else rng.integers(0, 2, (5, 1))
    grads = loaded.gradients(params, X, Y)
    expected = {key: value - 0.1 * grads[key] for key, value in params.items()}
    before = loaded.loss(params, X, Y)
    assert loaded.sgd_step(params, X, Y, 0.1) == pytest.approx(before, rel=1e-12)
    for key, value in params.items():
        np.testing.assert_allclose(value, expected[key], rtol=1e-12, atol=1e-15)
