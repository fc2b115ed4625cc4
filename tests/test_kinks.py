"""σ' at a kink lies between the one-sided derivatives (symbackprop takes the left one), and
common activations derive without searching for long inverses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

pytest.importorskip("jax")

from symbackprop import custom_activation
from symbackprop.derive import activation_rule
from symbackprop.library import Z

from .zoo import ZOO

KINKED = [(member, kink) for member in ZOO for kink in member.kinks]


@pytest.mark.parametrize(("member", "kink"), KINKED, ids=lambda v: getattr(v, "name", str(v)))
def test_sigma_prime_at_a_kink_is_the_left_derivative(member: object, kink: float) -> None:
    rule = activation_rule(custom_activation(member.expr, member.name))  # type: ignore[attr-defined]
    at_kink = float(rule.derivative_z.subs(Z, kink))
    f = member.fn  # type: ignore[attr-defined]
    h = 1e-6
    left = float((f(kink) - f(kink - h)) / h)
    right = float((f(kink + h) - f(kink)) / h)
    assert at_kink == pytest.approx(left, abs=1e-5)
    assert min(left, right) - 1e-5 <= at_kink <= max(left, right) + 1e-5


def test_elu_is_smooth_at_zero_and_relu_like_kinks_follow_the_frameworks() -> None:
    elu = activation_rule(custom_activation("max(z, 0) + exp(min(z, 0)) - 1", "elu"))
    assert elu.derivative_z.subs(Z, 0) == 1
    leaky = activation_rule(custom_activation("max(z, 0.1*z)", "leaky"))
    assert float(leaky.derivative_z.subs(Z, 0)) == pytest.approx(0.1)
    relu = activation_rule(custom_activation("max(z, 0)", "my_relu"))
    assert relu.derivative_z.subs(Z, 0) == 0


@pytest.mark.parametrize("member", ZOO, ids=lambda m: m.name)
def test_sigma_prime_matches_jax(member: object) -> None:
    """σ' in z, and in a where derive found that form, against JAX's derivative."""
    import jax

    rule = activation_rule(custom_activation(member.expr, member.name))  # type: ignore[attr-defined]
    grad = jax.vmap(jax.grad(member.fn))  # type: ignore[attr-defined]
    points = np.array([-2.7, -0.9, -0.2, 0.3, 1.1, 2.4])
    want = np.asarray(grad(points))
    modules = [{"erf": np.vectorize(math.erf)}, "numpy"]
    in_z = sympy.lambdify(Z, rule.derivative_z, modules)
    np.testing.assert_allclose(np.broadcast_to(in_z(points), points.shape), want, rtol=1e-7)
    if rule.uses_output:
        in_a = sympy.lambdify(sympy.Symbol("a", real=True), rule.derivative, modules)
        forward = np.asarray(jax.vmap(member.fn)(points))  # type: ignore[attr-defined]
        np.testing.assert_allclose(in_a(forward), want, rtol=1e-7)
