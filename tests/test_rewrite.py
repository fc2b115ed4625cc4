"""The stable-form rewrite pass (symbackprop.rewrite) and a custom loss that needs it."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from symbackprop import Layer, Network, activation, custom_activation, custom_loss
from symbackprop.codegen import generate
from symbackprop.gradcheck import load_module
from symbackprop.rewrite import Hypot, LogCosh, Logistic, Softplus, expm1, log1p, stable

z = sympy.Symbol("z", real=True)


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        (sympy.log(1 + sympy.exp(2 * z)), Softplus(2 * z)),
        (1 / (1 + sympy.exp(-z)), Logistic(z)),
        (sympy.exp(z) / (sympy.exp(z) + 1) ** 2, Logistic(z) * Logistic(-z)),
        (sympy.exp(z) - 1, expm1(z)),
        (3 - 3 * sympy.exp(z), -3 * expm1(z)),
        (sympy.log(1 + z**2), log1p(z**2)),
        (sympy.log(sympy.cosh(z)), LogCosh(z)),
        (1 + sympy.erf(z / 2), sympy.erfc(-z / 2, evaluate=False)),
        (3 - 3 * sympy.erf(z), 3 * sympy.erfc(z)),
        (sympy.sinh(z) / sympy.cosh(z), sympy.tanh(z)),
        (sympy.sqrt(z**2 + 1), Hypot(z, 1)),
        (z / sympy.sqrt(z**2 + 1), z / Hypot(z, 1)),
        (
            (z + sympy.exp(z) + 1) * sympy.exp(z) / (sympy.exp(z) + 1) ** 2,
            Logistic(z) ** 2 + (z + 1) * Logistic(z) * Logistic(-z),
        ),
    ],
)
def test_rewrites(expr: sympy.Expr, want: sympy.Expr) -> None:
    got = stable(expr)
    assert sympy.expand(got - want) == 0, got
    assert stable(got) == got  # a fixed point


def test_plain_expressions_are_left_alone() -> None:
    for expr in (z**2, sympy.tanh(z), sympy.exp(z), sympy.log(z), sympy.Max(z, 0)):
        assert stable(expr) == expr


def test_log_cosh_loss_is_finite_at_800() -> None:
    net = Network("lc", 1, (Layer(1, activation("identity")),), custom_loss("log(cosh(a - y))"))
    module = load_module(generate(net).source, "lc")
    params = {"W1": np.array([[1.0]]), "b1": np.array([0.0])}
    X = np.array([[800.0], [-800.0], [0.5]])
    Y = np.zeros((3, 1))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = module.loss(params, X, Y)
        grads = module.gradients(params, X, Y)
        stepped = {k: v.copy() for k, v in params.items()}
        module.sgd_step(stepped, X, Y, 1.0)
    want = (2 * (800 - np.log(2)) + np.log(np.cosh(0.5))) / 3
    assert value == pytest.approx(want, rel=1e-12)
    # d/dW of mean log cosh(W x): mean tanh(W x) x
    assert grads["W1"][0, 0] == pytest.approx((800 + 800 + np.tanh(0.5) * 0.5) / 3, rel=1e-12)
    assert grads["b1"][0] == pytest.approx(np.tanh(0.5) / 3, rel=1e-12)
    assert params["W1"] - stepped["W1"] == pytest.approx(grads["W1"], rel=1e-12)


def test_exact_gelu_keeps_its_precision_far_in_the_negative_tail() -> None:
    """0.5 z (1 + erf(z/sqrt 2)) is 0 in floating point below z = -8.3 (1 - 1); written with
    erfc it keeps its relative precision: forward and gradient against mpmath at z = -25."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    gelu = custom_activation("0.5*z*(1 + erf(z/sqrt(2)))", "gelu")
    net = Network("g", 1, (Layer(1, gelu), Layer(1, activation("identity"))), custom_loss("a"))
    module = load_module(generate(net).source, "g")
    params = {
        "W1": np.array([[1.0]]),
        "b1": np.array([0.0]),
        "W2": np.array([[1.0]]),
        "b2": np.array([0.0]),
    }
    X = np.array([[-25.0]])
    Y = np.zeros((1, 1))
    x = mpmath.mpf(-25)
    a1 = x * mpmath.erfc(-x / mpmath.sqrt(2)) / 2
    slope = mpmath.erfc(-x / mpmath.sqrt(2)) / 2 + x * mpmath.exp(-(x**2) / 2) / mpmath.sqrt(
        2 * mpmath.pi
    )
    out, _ = module.forward(params, X)
    assert float(a1) != 0.0 and out[0, 0] == pytest.approx(float(a1), rel=1e-12)
    grads = module.gradients(params, X, Y)
    assert grads["W1"][0, 0] == pytest.approx(float(slope * x), rel=1e-12)
    assert grads["W2"][0, 0] == pytest.approx(float(a1), rel=1e-12)


def test_gelu_tanh_gradient_is_its_limit_at_huge_z() -> None:
    """GELU's tanh form has σ' -> 1 as z -> +inf and -> 0 as z -> -inf; at |z| = 1e300 the
    polynomial beside sech² overflows while sech² is 0, which used to give NaN (inf * 0)."""
    gelu = custom_activation("0.5*z*(1 + tanh(0.7978845608*(z + 0.044715*z**3)))", "gelu_tanh")
    net = Network("gt", 1, (Layer(1, gelu), Layer(1, activation("identity"))), custom_loss("a"))
    module = load_module(generate(net).source, "gt")
    for x, slope in ((1.0, 1.0), (-1.0, 0.0)):
        params = {
            "W1": np.array([[1e300]]),
            "b1": np.array([0.0]),
            "W2": np.array([[0.5]]),
            "b2": np.array([0.0]),
        }
        X, Y = np.array([[x]]), np.zeros((1, 1))
        with np.errstate(all="ignore"):
            grads = module.gradients(params, X, Y)
            stepped = {k: v.copy() for k, v in params.items()}
            module.sgd_step(stepped, X, Y, 1.0)
        # dE/dW1 = W2 σ'(z1) x and dE/db1 = W2 σ'(z1), z1 = 1e300 x
        assert grads["W1"][0, 0] == 0.5 * slope * x
        assert grads["b1"][0] == 0.5 * slope
        assert params["b1"][0] - stepped["b1"][0] == 0.5 * slope
