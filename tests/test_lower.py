"""The lowering stage and the readable schedule: statements come from the IR's equations and
nothing else, batch means are statements, and the training step computes what the readable
functions compute, for random networks."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop import Layer, Network, activation, custom_activation, derive, load_spec, loss
from symbackprop.codegen import generate
from symbackprop.gradcheck import load_module
from symbackprop.lower import readable
from symbackprop.lower.program import N_BATCH, Assign, BatchSum, Scale, lower
from symbackprop.notation import Delta
from symbackprop.rewrite import stable


@pytest.mark.parametrize("name", ["seed_chain", "xor", "classifier"])
def test_every_statement_implements_an_equation_of_the_ir(name: str) -> None:
    derivation = derive(load_spec(name))
    program = lower(derivation)
    depth = derivation.network.depth
    assert [s.equation.kind for s in program.forward if isinstance(s, Assign)] == [
        "pre",
        "act",
    ] * depth
    for statement in (*program.forward, *program.backward):
        if isinstance(statement, Scale):
            continue
        eq = statement.equation
        assert eq is not None and eq.view == "vector"
        assert statement.value in (eq.final, stable(eq.final))
        assert int(statement.target.args[0]) == int(eq.layer)
    kinds = [type(s).__name__ for s in program.backward]
    assert kinds[:4] == ["Assign", "Scale", "Assign", "BatchSum"]  # the output layer
    assert kinds[4:] == ["Assign", "Assign", "BatchSum"] * (depth - 1)


def test_the_batch_mean_is_one_statement_at_the_output_only() -> None:
    program = lower(derive(load_spec("classifier")))
    scales = [s for s in program.backward if isinstance(s, Scale)]
    assert len(scales) == 1
    assert scales[0].target == Delta(2) and scales[0].factor == 1 / N_BATCH
    sums = [s for s in program.backward if isinstance(s, BatchSum)]
    assert [int(s.target.args[0]) for s in sums] == [2, 1]


def test_the_mean_folds_into_a_short_line_and_stands_alone_after_a_long_one() -> None:
    short = readable.backward(lower(derive(load_spec("xor"))))
    first = short[0].groups[0]
    assert first.statements == [("delta2", "=", "(a2 - Y) / n")]
    assert first.comment[-1] == "# averaged over the n samples of the batch"
    mish = custom_activation("z*tanh(log(1 + exp(z)))", "mish")
    net = Network("m", 2, (Layer(3, activation("tanh")), Layer(2, mish)), loss("squared_error"))
    long = readable.backward(lower(derive(net)))[0].groups[0].statements
    assert len(long) > 2 and long[-1] == ("delta2", "/=", "n")


def test_each_layer_fetches_what_it_reads_once() -> None:
    steps = readable.backward(lower(derive(load_spec("seed_chain"))))
    fetched = [name for step in steps for name in step.cache + step.params]
    assert len(fetched) == len(set(fetched))
    assert steps[0].cache == ["a2", "a3"] and steps[0].params == []
    assert steps[1].params == ["W3"]


ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]


@st.composite
def networks(draw: st.DrawFn) -> Network:
    depth = draw(st.integers(1, 3))
    hidden = [
        Layer(draw(st.integers(1, 4)), activation(draw(st.sampled_from(ACTIVATIONS))))
        for _ in range(depth - 1)
    ]
    kind = draw(st.sampled_from(["softmax", "sigmoid", "other"]))
    if kind == "softmax":
        out, lss = Layer(draw(st.integers(2, 4)), activation("softmax")), "cross_entropy"
    elif kind == "sigmoid":
        out = Layer(draw(st.integers(1, 3)), activation("sigmoid"))
        lss = draw(st.sampled_from(["binary_cross_entropy", "squared_error"]))
    else:
        out = Layer(draw(st.integers(1, 3)), activation(draw(st.sampled_from(ACTIVATIONS))))
        lss = draw(st.sampled_from(["squared_error", "half_squared_error"]))
    return Network("rand", draw(st.integers(1, 4)), (*hidden, out), loss(lss))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(), st.integers(1, 6), st.integers(0, 2**16))
def test_the_training_step_computes_what_the_readable_functions_do(
    net: Network, batch: int, seed: int
) -> None:
    """sgd_step (the in-place schedule) against loss() and gradients() (the readable one)."""
    module = load_module(generate(net).source, "rand")
    rng = np.random.default_rng(seed)
    params = module.init_params(seed=seed % 100)
    params = {k: v + rng.normal(0, 0.1, v.shape) for k, v in params.items()}
    X = rng.normal(0, 1.5, (batch, net.inputs))
    if net.layers[-1].activation.is_softmax:
        Y = rng.dirichlet(np.ones(net.layers[-1].units), size=batch)
    else:
        Y = rng.uniform(0.05, 0.95, (batch, net.layers[-1].units))
    value = module.loss(params, X, Y)
    grads = module.gradients(params, X, Y)
    stepped = {k: v.copy() for k, v in params.items()}
    lr = 0.5
    assert module.sgd_step(stepped, X, Y, lr) == pytest.approx(value, rel=1e-12, abs=1e-15)
    for key, grad in grads.items():
        moved = (params[key] - stepped[key]) / lr
        scale = max(1.0, float(np.max(np.abs(grad))))
        slack = 8 * np.finfo(float).eps * (1 + np.abs(params[key])) / lr
        assert np.all(np.abs(moved - grad) <= 1e-12 * scale + slack), key


def test_in_place_statements_say_which_arrays_they_read() -> None:
    """Liveness comes from the statements' operands: σ' = 1 - a² computed into a's own buffer
    reads a only in its first statement, so it may; e^z (1 - e^z) computed into z reads z
    again after overwriting it, so scale_code refuses."""
    from symbackprop.notation import Act, Pre
    from symbackprop.printing.inplace import inplace_code, reading, scale_code

    a1, z1 = Act(1), Pre(1)
    lines, _ = inplace_code(1 - a1**2, "a1", "s1_")
    assert reading("a1", lines) == [0]
    assert all(isinstance(line, str) for line in lines)
    assert scale_code(1 - a1**2, "delta1", "a1", "s1_") is not None
    expz = sympy.exp(z1)
    assert scale_code(expz * (1 - expz) + z1, "delta1", "z1", "s1_") is None


def _run(code: str, arrays: dict[str, np.ndarray]) -> None:
    """Execute one printed in-place statement (our own printer's output) on arrays."""
    exec(code, {"np": np}, arrays)  # noqa: S102 - a statement the package printed


def test_in_place_products_are_printed_from_the_program_statements() -> None:
    """sgd_step's matrix products come from the lowered statements' MatProd nodes: each printed
    np.matmul(..., out=) leaves what the readable printer's expression computes."""
    from symbackprop.lower import inplace
    from symbackprop.printing.inplace import batch_sum_code, product_code, single_sample_code
    from symbackprop.printing.numpy import UnsupportedInCode, numpy_code

    program = lower(derive(load_spec("multi_node")))
    plans = {plan.n: plan for plan in inplace.layers(program, (2, 3, 2), [], False)}
    rng = np.random.default_rng(0)
    arrays = {
        "a0": rng.normal(size=(5, 2)), "a1": rng.normal(size=(5, 3)),
        "W1": rng.normal(size=(3, 2)), "W2": rng.normal(size=(2, 3)),
        "delta1": rng.normal(size=(5, 3)), "delta2": rng.normal(size=(5, 2)),
        "ones": np.ones(5), "out": np.empty(0), "_product": lambda a, W: a @ W.T,
    }  # fmt: skip
    expressions = [
        plans[2].pre.value.args[0],  # W^(2) a^(1)
        next(f for f in plans[1].delta.value.args if f.func.__name__ == "MatProd"),
        plans[2].dW.value,  # δ^(2) (a^(1))ᵀ
    ]
    for expr in expressions:
        expected = eval(numpy_code(expr), {"np": np}, arrays)  # noqa: S307 - our printer's code
        arrays["out"] = np.empty_like(expected)
        _run(product_code(expr, "out"), arrays)
        np.testing.assert_allclose(arrays["out"], expected, rtol=1e-13)
    one = {**arrays, "delta2": arrays["delta2"][:1], "a1": arrays["a1"][:1]}
    one["out"] = np.empty((2, 3))
    _run(single_sample_code(plans[2].dW.value, "out"), one)
    np.testing.assert_allclose(one["out"], one["delta2"].T @ one["a1"], rtol=1e-13)
    arrays["out"] = np.empty(2)
    _run(f"out[...] = {batch_sum_code(plans[2].db.value, 'out')}", arrays)
    np.testing.assert_allclose(arrays["out"], arrays["delta2"].sum(axis=0), rtol=1e-13)
    with pytest.raises(UnsupportedInCode):
        product_code(plans[2].pre.value, "out")  # a sum, not a product


def test_the_output_delta_folds_its_number_into_lr_over_n() -> None:
    """Squared error: δ^(L) = 2 (a - y) ⊙ σ'(z): the 2 goes into the scale, not into the
    buffer, so the buffer holds a - y times σ' only."""
    from symbackprop.lower import inplace

    net = Network("sq", 2, (Layer(2, activation("tanh")),), loss("squared_error"))
    plan = inplace.layers(lower(derive(net)), (2, 2), [], False)[0]
    assert plan.scale == "2 * lr / n"
    assert not any("2" in line.split("out=")[0] for line in plan.delta_lines), plan.delta_lines


@pytest.mark.parametrize("seed", range(6))
def test_in_place_statements_with_scalar_names_compute_the_expression(seed: int) -> None:
    """With scalar names (an optimiser's hyper-parameters), every emitted statement sequence
    leaves in `out` what NumPy computes from the expression directly, for random expressions
    mixing arrays, numbers and scalar sub-expressions."""
    import random

    import sympy

    from symbackprop.printing.inplace import InPlace

    a, b, c = sympy.symbols("a b c", positive=True)
    lr, beta, eps = sympy.symbols("lr beta eps", positive=True)
    rng = random.Random(seed)
    leaves: list[sympy.Expr] = [a, b, c, lr, beta, eps, sympy.Integer(2), 1 - beta]

    def build(depth: int) -> sympy.Expr:
        if depth == 0:
            return rng.choice(leaves)
        left, right = build(depth - 1), build(depth - 1)
        op = rng.choice(["add", "sub", "mul", "div", "sqrt", "square"])
        if op == "add":
            return left + right
        if op == "sub":
            return left - right
        if op == "mul":
            return left * right
        if op == "div":
            return left / (right + 1)
        if op == "sqrt":
            return sympy.sqrt(left**2 + 1)
        return left**2

    values = np.random.default_rng(seed).random((3, 4, 5)) + 0.5
    scalars = {"lr": 0.3, "beta": 0.9, "eps": 1e-3}
    for _ in range(25):
        expr = build(3)
        if not expr.free_symbols & {a, b, c}:
            continue
        program = InPlace("work", scalars=frozenset({lr, beta, eps}))
        program.emit(expr, "out")
        space: dict = {"np": np, "a": values[0].copy(), "b": values[1].copy()}
        space.update(c=values[2].copy(), out=np.zeros((4, 5)), **scalars)
        for index in range(1, program.scratch_used + 1):
            space[f"work{index}"] = np.zeros((4, 5))
        exec("\n".join(program.lines), space)  # noqa: S102 - the emitter's own statements
        expected = sympy.lambdify([a, b, c, lr, beta, eps], expr, "numpy")(
            *values, *scalars.values()
        )
        np.testing.assert_allclose(space["out"], expected, rtol=1e-12, err_msg=str(expr))
        for name, value in zip("abc", values, strict=True):
            np.testing.assert_array_equal(space[name], value)  # inputs are never written
