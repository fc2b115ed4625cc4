"""The stable-form rewrite pass: SymPy expression -> SymPy expression, before any code printing.

The one place that knows which formulas overflow or lose precision in floating point and what
to compute instead, for built-in and custom expressions alike (in the style of
sympy.codegen.rewriting).  The printers only translate the nodes it leaves:

- log(1 + e^u) -> Softplus(u)                    (np.logaddexp(0, u): no overflow)
- 1 / (1 + e^w)^k times e^(m w), m <= k -> Logistic(w)^m Logistic(-w)^(k-m)
                                                  (the logistic function through tanh)
- c + k e^u with k = -c -> k expm1(u); log(1 + x) -> log1p(x)   (exact near 0)
- c (1 + erf(u)) -> c erfc(-u), c (1 - erf(u)) -> c erfc(u)      (no 1 - 1 in the tail)
- log(cosh(u)) -> LogCosh(u)                     (log-sum-exp: no overflow)
- sinh(u)^m / cosh(u)^k, m <= k -> tanh(u)^m / cosh(u)^(k-m)     (no inf / inf)
- sqrt(c + k u^2) -> Hypot(sqrt(k) u, sqrt(c))   (np.hypot: no overflow of u^2)
- F H(g), F (1 - H(g)) -> F where g > 0 (g <= 0), else 0   (no inf * 0 where F overflows
                                                  on the side the step switches off)
- F (1 - tanh(u)^2) -> that product where 1 - tanh(u)^2 != 0, else 0   (sech^2 underflows
                                                  to 0 long before a polynomial F overflows)
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy import Expr, Function
from sympy.codegen.cfunctions import expm1, log1p

from .notation import Elementwise, Hadamard, MatProd

__all__ = [
    "Hypot",
    "LogCosh",
    "LogSigmoid",
    "LogSoftmax",
    "Logistic",
    "Softplus",
    "expm1",
    "log1p",
    "stable",
]


class _Stable(Function):
    """A function node of the pass: kept as it is (no evaluation), real for real arguments."""

    is_real = True

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class Logistic(_Stable):
    """1 / (1 + e^(-u)), computed as 0.5 + 0.5 tanh(u / 2)."""

    nargs = 1


class Softplus(_Stable):
    """log(1 + e^u), computed as logaddexp(0, u)."""

    nargs = 1


class LogCosh(_Stable):
    """log(cosh(u)), computed as logaddexp(u, -u) - log(2)."""

    nargs = 1


class Hypot(_Stable):
    """sqrt(x^2 + y^2), computed as np.hypot(x, y)."""

    nargs = 2


class LogSigmoid(_Stable):
    """log σ(u) = -log(1 + e^(-u)), finite for every u (the log of a logistic output)."""

    nargs = 1


class LogSoftmax(_Stable):
    """log softmax(u) of a row vector u, by log-sum-exp of the shifted u (finite for every u)."""

    nargs = 1


def stable(expr: Expr) -> Expr:
    """`expr` with every overflow-prone or imprecise form replaced by its stable one."""
    return _guard_sech2(_stable(expr)) if isinstance(expr, sympy.Basic) else expr


def _stable(expr: Expr) -> Expr:
    """stable() without its final pass over sech² products."""
    if not isinstance(expr, sympy.Basic) or expr.is_Atom:
        return expr
    if isinstance(expr, Hadamard):  # its elementwise factors are one product to rewrite
        products = [arg for arg in expr.args if isinstance(arg, MatProd)]
        factors = [arg.args[0] if isinstance(arg, Elementwise) else arg for arg in expr.args]
        rest = [f for f in factors if not isinstance(f, MatProd)]
        if len(rest) > 1:
            return Hadamard(*products, Elementwise(_stable(sympy.Mul(*rest))))
    if isinstance(expr, sympy.Mul | sympy.Pow):  # a whole product before its factors
        replaced = _logistic(expr)
        if replaced is not None and replaced != expr:
            return _stable(replaced)
    args = [_stable(arg) for arg in expr.args]
    node = expr.func(*args) if args != list(expr.args) else expr
    for rule in _RULES:
        replaced = rule(node)
        if replaced is not None and replaced != node:
            return _stable(replaced)
    return node


def _one_plus_exp(base: Expr) -> Expr | None:
    """w when `base` is 1 + e^w, else None."""
    if isinstance(base, sympy.Add) and len(base.args) == 2 and sympy.S.One in base.args:
        rest = base - 1
        if isinstance(rest, sympy.exp):
            return rest.args[0]
    return None


def _log(expr: Expr) -> Expr | None:
    if not isinstance(expr, sympy.log):
        return None
    arg = expr.args[0]
    if isinstance(arg, sympy.cosh):
        return LogCosh(arg.args[0])
    w = _one_plus_exp(arg)
    if w is not None:
        return Softplus(w)
    if isinstance(arg, sympy.Add) and sympy.S.One in arg.args:
        return log1p(arg - 1)
    return None


def _logistic(expr: Expr) -> Expr | None:
    """Products with powers of 1 / (1 + e^w), and such a power alone."""
    factors = list(sympy.Mul.make_args(expr)) if isinstance(expr, sympy.Mul | sympy.Pow) else []
    bases = [w for f in factors if (w := _reciprocal_one_plus_exp(f)) is not None]
    for index, factor in enumerate(factors):
        if bases and isinstance(factor, sympy.Add) and any(_exp_multiple(factor, w) for w in bases):
            # (1 + e^w + z) e^w / (1 + e^w)^2: the terms one by one, each then rewritten
            others = sympy.Mul(*(f for i, f in enumerate(factors) if i != index))
            return sympy.Add(*(term * others for term in factor.args), evaluate=False)
    changed = False
    for index, factor in enumerate(factors):
        if not (isinstance(factor, sympy.Pow) and factor.exp.is_Integer and factor.exp < 0):
            continue
        w = _one_plus_exp(factor.base)
        if w is None:
            continue
        power = int(-factor.exp)
        result: Expr = sympy.S.One
        for other, candidate in enumerate(factors):
            if other == index or not isinstance(candidate, sympy.exp) or power == 0:
                continue
            ratio = candidate.args[0] / w
            if ratio.is_Integer and 0 < ratio <= power:
                result *= Logistic(w) ** ratio
                power -= int(ratio)
                factors[other] = sympy.S.One
        factors[index] = result * Logistic(-w) ** power
        changed = True
    return sympy.Mul(*factors) if changed else None


def _reciprocal_one_plus_exp(factor: Expr) -> Expr | None:
    """w when `factor` is (1 + e^w)^-k for a positive integer k."""
    if isinstance(factor, sympy.Pow) and factor.exp.is_Integer and factor.exp < 0:
        return _one_plus_exp(factor.base)
    return None


def _exp_multiple(add: sympy.Add, w: Expr) -> bool:
    """Whether a term of the sum has a factor e^(m w), m a positive integer."""
    for term in add.args:
        for f in sympy.Mul.make_args(term):
            if isinstance(f, sympy.exp) and (ratio := f.args[0] / w).is_Integer and ratio > 0:
                return True
    return False


def _expm1(expr: Expr) -> Expr | None:
    if not isinstance(expr, sympy.Add):
        return None
    constant, rest = expr.as_coeff_Add()
    if constant == 0:
        return None
    for term in sympy.Add.make_args(rest):
        coeff, factor = term.as_coeff_Mul()
        if isinstance(factor, sympy.exp) and coeff == -constant:
            return rest - term + coeff * expm1(factor.args[0])
    return None


def _erfc(expr: Expr) -> Expr | None:
    """c + k erf(u) with k = +-c as c erfc(-+u): exact GELU's 1 + erf(z / sqrt 2) is 0 in
    floating point for z below -8.3, while erfc keeps its relative precision far below."""
    if not isinstance(expr, sympy.Add):
        return None
    constant, rest = expr.as_coeff_Add()
    if constant == 0:
        return None
    for term in sympy.Add.make_args(rest):
        coeff, factor = term.as_coeff_Mul()
        if isinstance(factor, sympy.erf) and abs(coeff) == abs(constant):
            u = factor.args[0]
            return (
                rest - term + constant * sympy.erfc(-u if coeff == constant else u, evaluate=False)
            )
    return None


def _step(expr: Expr) -> Expr | None:
    """A product with a step H(g) (H(0) = 0) or 1 - H(g) as a selection: the other factors
    where the step is 1, else 0.  ELU written as min(0, exp(z) - 1) has σ' = e^z (1 - H(...)),
    and e^z overflows at z = 710 exactly where the step makes it 0."""
    if not isinstance(expr, sympy.Mul):
        return None
    for factor in expr.args:
        if isinstance(factor, sympy.Heaviside) and factor.args[1:] == (0,):
            on = factor.args[0] > 0
        elif isinstance(factor, sympy.Add) and isinstance(1 - factor, sympy.Heaviside):
            step = 1 - factor
            if step.args[1:] != (0,):
                continue
            on = step.args[0] <= 0
        else:
            continue
        rest = expr / factor
        if rest.is_number:  # -H(g) in 1 - H(g), or 2 H(g): nothing to overflow
            return None
        return sympy.Piecewise((rest, on), (0, True))
    return None


def _sech2_factor(expr: Expr) -> Expr | None:
    """The factor 1 - tanh(u)^2 of a product that has other, non-numeric factors, else None."""
    if not isinstance(expr, sympy.Mul):
        return None
    for factor in expr.args:
        if not (isinstance(factor, sympy.Add) and len(factor.args) == 2):
            continue
        square = 1 - factor
        tanh_squared = isinstance(square, sympy.Pow) and square.exp == 2
        if tanh_squared and isinstance(square.base, sympy.tanh) and not (expr / factor).is_number:
            return factor
    return None


def _guard_sech2(expr: Expr) -> Expr:
    """Each product with 1 - tanh(u)^2 as a selection: the product where that factor is not 0,
    else 0.  In floating point the factor is exactly 0 once |u| passes 19 (float64); GELU's
    tanh form multiplies it by a polynomial in z that overflows at |z| = 1e103, and inf * 0
    would be NaN where the true value is 0 to every digit.  One bottom-up pass (SymPy's
    replace does not revisit what it put in)."""
    return expr.replace(
        lambda e: _sech2_factor(e) is not None,
        lambda e: sympy.Piecewise((e, sympy.Ne(_sech2_factor(e), 0)), (0, True)),
    )


def _tanh(expr: Expr) -> Expr | None:
    """sinh(u)^m cosh(u)^-k with 0 < m <= k as tanh(u)^m cosh(u)^(m-k)."""
    if not isinstance(expr, sympy.Mul):
        return None
    powers = [f.as_base_exp() for f in expr.args]
    for i, (base, exponent) in enumerate(powers):
        if not isinstance(base, sympy.sinh) or not (exponent.is_Integer and exponent > 0):
            continue
        for j, (other, k) in enumerate(powers):
            same = isinstance(other, sympy.cosh) and other.args == base.args
            if same and k.is_Integer and -k >= exponent:
                rest = [f for n, f in enumerate(expr.args) if n not in (i, j)]
                u = base.args[0]
                return sympy.Mul(*rest, sympy.tanh(u) ** exponent, sympy.cosh(u) ** (k + exponent))
    return None


def _hypot(expr: Expr) -> Expr | None:
    """sqrt(c + k u^2), or its reciprocal, with c and k positive numbers."""
    if not (isinstance(expr, sympy.Pow) and abs(expr.exp) == sympy.S.Half):
        return None
    base = expr.base
    if not isinstance(base, sympy.Add) or len(base.args) != 2:
        return None
    constant, term = base.as_coeff_Add()
    coeff, square = term.as_coeff_Mul()
    if not (constant.is_positive and coeff.is_positive and isinstance(square, sympy.Pow)):
        return None
    if square.exp != 2:
        return None
    root = Hypot(sympy.sqrt(coeff) * square.base, sympy.sqrt(constant))
    return root if expr.exp > 0 else 1 / root


_RULES = (_log, _logistic, _expm1, _erfc, _step, _tanh, _hypot)
