"""Every equation symbackprop prints (general rules and per layer, in every view) holds at
concrete layers and units, checked against JAX's derivatives of the same network."""

from __future__ import annotations

import dataclasses

import pytest
import sympy

pytest.importorskip("jax")

from symbackprop import Layer, Network, Regularization, activation, custom_activation, derive, loss
from symbackprop.ir import Equation
from symbackprop.notation import L_sym, i, j, k, l_sym
from symbackprop.spec import load_spec

from .oracle import Evaluator, close, index_values, sample
from .zoo import ZOO

BUNDLED = ["seed_chain", "single_neuron", "multi_node", "xor", "classifier"]


def _net(name: str, inputs: int, layers: list[tuple[int, object]], loss_name: str) -> Network:
    built = [
        Layer(units, act if not isinstance(act, str) else activation(act)) for units, act in layers
    ]
    return Network(name, inputs, tuple(built), loss(loss_name))  # type: ignore[arg-type]


def _zoo(name: str) -> object:
    member = next(m for m in ZOO if m.name == name)
    return custom_activation(member.expr, member.name)


def _regularized(
    net: Network, l1: float, l2: float, first: float | None = None, biases: bool = False
) -> Network:
    """`net` with the penalty l1 Σ |w| + l2 Σ w² (layer 1's l2 `first` when given), the
    biases' too when `biases`."""
    layers = list(net.layers)
    if first is not None:
        own = Regularization(l1, first, biases)
        layers[0] = dataclasses.replace(layers[0], regularization=own)
    name = f"{net.name}_reg"
    return dataclasses.replace(
        net, name=name, layers=tuple(layers), regularization=Regularization(l1, l2, biases)
    )


NETWORKS: dict[str, Network] = {
    **{name: load_spec(name) for name in BUNDLED},
    "softmax_deep": _net(
        "softmax_deep", 3, [(4, "tanh"), (3, "relu"), (3, "softmax")], "cross_entropy"
    ),
    "identity_half": _net(
        "identity_half", 2, [(3, "softplus"), (2, "identity")], "half_squared_error"
    ),
    "leaky_bce": _net("leaky_bce", 2, [(3, "leaky_relu"), (2, "sigmoid")], "binary_cross_entropy"),
    "xor_l2": _regularized(load_spec("xor"), 0.0, 0.01),
    "classifier_l1_l2": _regularized(load_spec("classifier"), 0.02, 0.05),
    "multi_node_per_layer": _regularized(load_spec("multi_node"), 0.0, 0.03, first=0.3),
    "xor_biases": _regularized(load_spec("xor"), 0.01, 0.04, biases=True),
    "classifier_biases_per_layer": _regularized(
        load_spec("classifier"), 0.0, 0.05, first=0.2, biases=True
    ),
    "custom_mix": _net(
        "custom_mix",
        2,
        [(3, _zoo("silu")), (2, _zoo("softsign")), (2, _zoo("gelu"))],
        "squared_error",
    ),
}


def _layers_for(eq: Equation, depth: int, softmax_output: bool) -> list[int]:
    """The concrete layers a general rule speaks of: L the output, l every hidden layer."""
    if eq.layer == L_sym:
        return [depth]
    if eq.layer == l_sym:
        return list(range(1, depth))
    return [int(eq.layer)]


def _check(eq: Equation, number: int, s: object) -> list[str]:
    """Each step of `eq` at layer `number`, for every binding of its free unit indices."""
    at = {l_sym: sympy.Integer(number), L_sym: sympy.Integer(s.net.depth)}  # type: ignore[attr-defined]
    lhs = eq.lhs.xreplace(at)
    steps = [r.xreplace(at) for r in eq.rhs]
    free = set().union(*(e.free_symbols for e in [lhs, *steps])) & {i, j, k}
    failures = []
    for binding in index_values(free, s, number):  # type: ignore[arg-type]
        ev = Evaluator(s, binding)  # type: ignore[arg-type]
        want = ev(lhs)
        for position, step in enumerate(steps):
            got = ev(step)
            if not close(got, want):
                failures.append(f"step {position} at {binding}: {got} != {want}")
    return failures


def _one_unit(net: Network) -> Network:
    """The same layers with one unit each: where the one-neuron chain view is exact."""
    layers = tuple(dataclasses.replace(layer, units=1) for layer in net.layers)
    return dataclasses.replace(net, inputs=1, layers=layers)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_printed_equation_holds(name: str) -> None:
    net = NETWORKS[name]
    derivation = derive(net)
    softmax_output = net.layers[-1].activation.is_softmax
    samples = {view: [sample(net, seed) for seed in (1, 2)] for view in ("index", "vector")}
    if derivation.has_chain_view:
        chain_net = _one_unit(net)
        samples["chain"] = [sample(chain_net, seed) for seed in (1, 2)]
    checked = 0
    failures = []
    for view in derivation.views:
        equations = list(derivation.general[view])
        for ld in derivation.layers:
            equations.extend(ld.view(view))
            equations.extend(eq for eq in ld.forward if eq.view == view)
        for eq in equations:
            for number in _layers_for(eq, net.depth, softmax_output):
                for s in samples[view]:
                    problems = _check(eq, number, s)
                    checked += 1
                    failures.extend(f"({view} {eq.kind} layer {number}) {p}" for p in problems)
    assert checked > 20
    assert not failures, "\n".join(failures[:10])


def test_the_oracle_catches_a_false_rule() -> None:
    """The old general softmax rule, delta = dE/da (.) sigma'(z), is false, and caught."""
    from symbackprop.notation import Act, Delta, E, Hadamard, Partial, Pre, SigmaPrime

    net = NETWORKS["classifier"]
    wrong = Equation(
        "vector",
        "delta",
        L_sym,
        Delta(L_sym),
        (Hadamard(Partial(E, Act(L_sym)), SigmaPrime(Pre(L_sym))),),
    )
    assert _check(wrong, net.depth, sample(net, 1))


def test_forward_equations_are_checked_too() -> None:
    """Each layer's forward equations are among those checked, and a wrong one is caught."""
    from symbackprop.notation import Act, Pre, Softmax

    net = NETWORKS["classifier"]
    derivation = derive(net)
    kinds = {(eq.view, eq.kind) for ld in derivation.layers for eq in ld.forward}
    assert kinds == {(v, k) for v in ("index", "vector") for k in ("pre", "act")}
    s = sample(net, 1)
    right = derivation.layers[-1].require("vector", "act")
    assert not _check(right, net.depth, s)
    wrong = Equation("vector", "act", L_sym, Act(L_sym), (Softmax(2 * Pre(L_sym)),))
    assert _check(wrong, net.depth, s)
