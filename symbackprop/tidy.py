"""The tidy forms of SymPy expressions that derivation steps are written in: the shortest of
a few standard forms a person would write, the lecture's ordered product, and the first branch
of SymPy's out-of-range Piecewise.  Shared by the chain rule and the layer kinds."""

from __future__ import annotations

import sympy
from sympy import Expr, Piecewise, Sum

from .notation import Chain, LayerQuantity, Target, i, j, k
from .printing.common import decimal


def in_range(expr: Expr) -> Expr:
    """Keep the first branch of each Piecewise SymPy adds for indices possibly out of range."""
    return expr.replace(
        lambda e: isinstance(e, Piecewise) and e.args[0].cond.has(i, j, k),
        lambda e: e.args[0].expr,
    )


def tidy_sums(expr: Expr) -> Expr:
    """`_tidy` for an expression, or for the summands of the sums it contains."""
    sums = {s: Sum(tidy(s.function), *s.limits) for s in expr.atoms(Sum)}
    return expr.xreplace(sums) if sums else tidy(expr)


def cost(expr: Expr) -> tuple[int, int, int, int, int]:
    """Long constants first (factoring decimals such as SELU's 1.0507... makes 30-digit
    fractions), then operations, a leading minus, sums written with a leading minus
    ((-a + y) rather than (a - y)), and length."""
    negative = 1 if sympy.Mul.make_args(expr)[0] == -1 else 0
    shown = [decimal(r) or str(abs(r)) for r in expr.atoms(sympy.Rational)]
    digits = sum(len(text) for text in shown if len(text) > 6)
    minuses = sum(1 for add in expr.atoms(sympy.Add) if str(add).startswith("-"))
    return (digits, int(sympy.count_ops(expr)), negative, minuses, len(sympy.srepr(expr)))


def _sign_flipped(expr: Expr) -> Expr | None:
    """n/d written (-n)/(-d), the minus taken into one sum of the denominator: (-a + y)/(a(a - 1))
    as (a - y)/(a(1 - a)); None when d has no sum to take it."""
    num, den = sympy.fraction(expr)
    sums = [f for f in sympy.Mul.make_args(den) if isinstance(f, sympy.Add)]
    if den == 1 or not sums:
        return None
    return sympy.expand(-num) / (den / sums[0] * -sums[0])


def tidy(expr: Expr) -> Expr:
    """The shortest of a few standard SymPy forms that brings in no new functions (so exp stays
    exp rather than turning into cosh): what a person would write.  Deterministic."""
    if isinstance(expr, sympy.Number):
        return expr
    forms = [expr, sympy.factor_terms(expr), sympy.factor(expr)]
    quantities = (LayerQuantity, Target)
    functions = [f for f in expr.atoms(sympy.Function) if not isinstance(f, quantities)]
    if functions or expr.has(sympy.E):  # a rational function of the quantities: done by now
        forms.append(sympy.simplify(expr))
        forms.append(sympy.factor_terms(forms[-1]))
    forms += [f for f in map(_sign_flipped, forms[2:]) if f is not None]
    signs = {s.args[0] * s: sympy.Abs(s.args[0]) for s in expr.atoms(sympy.sign)}
    if signs:  # x sign(x) = |x| for real x, which SymPy does not apply by itself
        forms.append(sympy.factor(sympy.simplify(expr.subs(signs))))
    allowed = _function_kinds(expr)
    if {sympy.sinh, sympy.cosh} <= allowed:  # sinh(u)/cosh(u) may become tanh(u)
        allowed.add(sympy.tanh)
    return min((f for f in forms if _function_kinds(f) <= allowed), key=cost)


def _function_kinds(expr: Expr) -> set[type]:
    return {type(f) for f in expr.atoms(sympy.Function)} | (
        {sympy.exp} if expr.has(sympy.E) else set()
    )


def chain(*factors: Expr) -> Expr:
    """The lecture's ordered product, without factors of 1; a single factor stands alone."""
    kept = [f for f in factors if f != 1]
    return kept[0] if len(kept) == 1 else Chain(*kept)
