"""The derivation: activation rules against the textbook derivatives, the layered result
against SymPy differentiating E written out in every weight, and structural properties."""

from __future__ import annotations

import itertools

import pytest
import sympy

from symbackprop import Layer, Network, activation, custom_activation, custom_loss, derive, loss
from symbackprop.derive import activation_rule, derived_activation_rule
from symbackprop.ir import Derivation
from symbackprop.library import ACTIVATIONS, A, Activation, Y, Z, leaky_relu
from symbackprop.notation import Act, Target, l_sym
from symbackprop.notation import j as j_sym
from symbackprop.selfcheck import self_check

ELEMENTWISE = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]


def same(left: sympy.Expr, right: sympy.Expr) -> bool:
    return sympy.simplify(left - right) == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sigmoid", A * (1 - A)),
        ("tanh", 1 - A**2),
        ("softplus", 1 - sympy.exp(-A)),
    ],
)
def test_derivative_is_expressed_through_the_output(name: str, expected: sympy.Expr) -> None:
    rule = activation_rule(activation(name))
    assert rule.uses_output
    assert rule.derivative is not None and same(rule.derivative, expected)


def test_custom_activation_benefits_from_output_form() -> None:
    rule = activation_rule(custom_activation("exp(z)", name="expo"))
    assert rule.uses_output and rule.derivative == A


def test_relu_derivative_is_heaviside_with_value_zero_at_zero() -> None:
    rule = activation_rule(activation("relu"))
    assert not rule.uses_output and rule.heaviside_at_zero
    assert rule.derivative == sympy.Heaviside(Z, 0)
    assert rule.derivative.subs(Z, 0) == 0
    assert rule.derivative.subs(Z, 2) == 1


def test_leaky_relu_slope_is_the_derivative_below_zero() -> None:
    rule = activation_rule(activation("leaky_relu", slope=0.2))
    assert rule.derivative is not None
    assert rule.derivative.subs(Z, -3) == sympy.Rational(1, 5)
    assert rule.derivative.subs(Z, 0) == sympy.Rational(1, 5)
    assert rule.derivative.subs(Z, 3) == 1


def test_identity_derivative_is_one() -> None:
    rule = activation_rule(activation("identity"))
    assert rule.derivative == 1 and not rule.uses_output


def _net(sizes: list[int], acts: list[str], loss_name: str) -> Network:
    return Network(
        name="t",
        inputs=sizes[0],
        layers=tuple(Layer(n, activation(a)) for n, a in zip(sizes[1:], acts, strict=True)),
        loss=loss(loss_name),
    )


def test_softmax_with_cross_entropy_fuses_to_a_minus_y() -> None:
    d = derive(_net([3, 4, 3], ["tanh", "softmax"], "cross_entropy"))
    assert d.loss.output_delta == Act(l_sym, j_sym) - Target(j_sym)
    assert d.loss.targets_sum_to_one and d.loss.fused


def test_sigmoid_with_binary_cross_entropy_fuses_to_a_minus_y() -> None:
    d = derive(_net([2, 1], ["sigmoid"], "binary_cross_entropy"))
    assert same(d.loss.output_delta, Act(l_sym, j_sym) - Target(j_sym))


def test_squared_error_gives_the_lecture_factor_two() -> None:
    d = derive(_net([1, 1], ["sigmoid"], "squared_error"))
    assert same(d.loss.dE_da, 2 * (Act(l_sym, j_sym) - Target(j_sym)))
    eq = d.layers[0].equation("chain", "dE_dw")
    assert eq is not None
    a1, a0, y = Act(1), Act(0), Target()
    assert same(eq.final, 2 * (a1 - y) * a1 * (1 - a1) * a0)


def _compatible(out: str) -> list[str]:
    if out == "softmax":
        return ["cross_entropy", "squared_error", "half_squared_error"]
    if out == "sigmoid":
        return ["squared_error", "half_squared_error", "binary_cross_entropy"]
    return ["squared_error", "half_squared_error"]


SWEEP = [
    (hidden, out, loss_name)
    for out in [*ELEMENTWISE, "softmax"]
    for loss_name in _compatible(out)
    for hidden in [ELEMENTWISE[(len(out) + len(loss_name)) % len(ELEMENTWISE)]]
]


def _assert_self_check(d: Derivation) -> None:
    results = self_check(d, seed=3)
    bad = [r for r in results if not r.ok]
    assert not bad, bad
    assert len(results) == sum(n * (m + 1) for m, n in itertools.pairwise(d.network.sizes))


@pytest.mark.parametrize(("hidden", "out", "loss_name"), SWEEP)
def test_layered_derivation_equals_direct_differentiation(
    hidden: str, out: str, loss_name: str
) -> None:
    _assert_self_check(derive(_net([2, 2, 2], [hidden, out], loss_name)))


@pytest.mark.parametrize("hidden", ELEMENTWISE)
def test_every_hidden_activation_in_a_deeper_net(hidden: str) -> None:
    _assert_self_check(derive(_net([2, 2, 1, 2], [hidden, "tanh", "sigmoid"], "squared_error")))


def test_custom_activation_and_loss() -> None:
    net = Network(
        name="custom",
        inputs=2,
        layers=(
            Layer(2, custom_activation("z/(1 + abs(z))", name="softsign")),
            Layer(2, custom_activation("max(z, 0) + 0.1*min(z, 0)", name="leaky")),
        ),
        loss=custom_loss("(y - a)**2 / 2 + abs(a - y)", name="mixed"),
    )
    _assert_self_check(derive(net))


def test_self_check_detects_a_wrong_rule() -> None:
    d = derive(_net([1, 1, 1], ["sigmoid", "sigmoid"], "squared_error"))
    from dataclasses import replace

    broken_rule = replace(d.layers[0].rule, derivative=A)  # sigma'(z) = a is wrong
    from symbackprop.derive import _at_layer, _layer_template

    broken_layer = replace(
        d.layers[0], index=_at_layer(_layer_template("index", broken_rule, None, False, False), 1)
    )
    broken = replace(d, layers=(broken_layer, *d.layers[1:]))
    results = self_check(broken)
    assert any(not r.ok for r in results if "^(1)" in r.parameter)
    assert all(r.ok for r in results if "^(2)" in r.parameter)


def test_seed_chain_matches_direct_derivative_symbolically() -> None:
    from symbackprop.notation import Weight
    from symbackprop.notation import k as k_sym
    from symbackprop.selfcheck import _Instantiator, forward, leaves

    net = _net([1, 1, 1], ["sigmoid", "sigmoid"], "squared_error")
    z, a, E = forward(net)
    leaf = leaves(net)
    for layer in (1, 2):
        w = leaf[Weight(layer, 1, 1)]
        direct = sympy.diff(E, w)
        layered = _Instantiator(derive(net), z, a).gradient(
            layer, "dE_dw", {j_sym: sympy.Integer(1), k_sym: sympy.Integer(1)}
        )
        assert sympy.simplify(direct - layered.xreplace(leaf)) == 0
    a1, a2, y = a[1, 1], a[2, 1], leaf[Target(1)]
    lecture = 2 * (a2 - y) * a2 * (1 - a2) * a1  # the lecture's 2(a - y) sigma'(z) a^(L-1)
    assert sympy.simplify(sympy.diff(E, leaf[Weight(2, 1, 1)]) - lecture) == 0


def test_derivation_does_not_depend_on_width() -> None:
    narrow = derive(_net([2, 2, 2], ["tanh", "sigmoid"], "squared_error"))
    wide = derive(_net([4096, 4096, 4096], ["tanh", "sigmoid"], "squared_error"))
    assert narrow.all_equations() == wide.all_equations()


def test_each_distinct_activation_is_derived_once() -> None:
    d = derive(_net([2] * 9, ["tanh", "sigmoid"] * 4, "squared_error"))
    assert [r.activation.name for r in d.rules] == ["tanh", "sigmoid"]


def test_chain_view_is_left_out_for_softmax_outputs() -> None:
    d = derive(_net([2, 3, 2], ["tanh", "softmax"], "cross_entropy"))
    assert d.views == ("index", "vector")
    assert all(not layer.chain for layer in d.layers)


def test_every_equation_steps_are_distinct() -> None:
    d = derive(_net([2, 3, 2], ["relu", "sigmoid"], "binary_cross_entropy"))
    for eq in d.all_equations():
        assert all(a != b for a, b in itertools.pairwise(eq.rhs)), eq


def test_unused_symbols_stay_out() -> None:
    rule = activation_rule(activation("sigmoid"))
    assert rule.derivative is not None and rule.derivative.free_symbols == {A}
    assert Y not in rule.derivative.free_symbols


@pytest.mark.parametrize(
    "act",
    [a for a in ACTIVATIONS.values() if a.expr is not None] + [leaky_relu(sympy.Rational(1, 5))],
    ids=lambda a: a.name,
)
def test_builtin_rules_carried_in_the_library_are_what_sympy_derives(act: Activation) -> None:
    """The derivative a built-in activation carries (so that bundled networks derive without
    solving anything) is exactly the rule SymPy's own derivation finds."""
    assert act.derivative is not None
    assert activation_rule(act) == derived_activation_rule(act)


def test_the_carried_softmax_jacobian_is_what_sympy_derives() -> None:
    from symbackprop.derive import SOFTMAX_JACOBIAN, softmax_jacobian

    assert softmax_jacobian() == SOFTMAX_JACOBIAN


def test_the_dense_layers_carried_local_partials_are_sympys() -> None:
    """dz_j/dw_jk = a_k^(l-1), dz_j/db_j = 1, dz_j/da_k = w_jk^(l): what the dense layer carries
    is what SymPy finds by differentiating its weighted input Σ_k w_jk a_k + b_j."""
    from symbackprop.layers import dense
    from symbackprop.notation import Act, Weight, j, k, l_sym

    derived = dense.derived_local_partials()
    assert derived == dense.local_partials()
    assert derived == {"w": Act(l_sym - 1, k), "b": 1, "a_prev": Weight(l_sym, j, k)}
