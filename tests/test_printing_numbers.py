"""Constants a user wrote as decimals print as exact decimals, not 30-digit fractions."""

from __future__ import annotations

import random
from decimal import Decimal

import sympy

from symbackprop import custom_activation
from symbackprop.derive import activation_rule
from symbackprop.printing.common import decimal
from symbackprop.printing.text import text


def test_decimal_is_exact_for_denominators_of_twos_and_fives() -> None:
    rng = random.Random(5)
    for _ in range(300):
        q = 2 ** rng.randrange(0, 40) * 5 ** rng.randrange(0, 40)
        p = rng.randrange(-(10**20), 10**20)
        r = sympy.Rational(p, q)
        shown = decimal(r)
        if shown is None:  # small denominators (1/2, 3/8) stay fractions
            assert int(r.q) <= 1000
            continue
        assert Decimal(shown) * int(r.q) == int(r.p)  # exact: Decimal multiplies exactly


def test_a_third_is_no_decimal() -> None:
    assert decimal(sympy.Rational(1, 3)) is None
    assert decimal(sympy.Rational(1, 2)) is None
    assert decimal(sympy.Rational(1, 100)) == "0.01"


def test_selu_prints_its_constants_as_decimals() -> None:
    selu = "1.0507009873554805*(max(0, z) + min(0, 1.6732632423543772*(exp(z) - 1)))"
    shown = text(activation_rule(custom_activation(selu, "selu")).derivative)
    assert "1.6732632423543772" in shown
    assert "/" not in shown, shown
