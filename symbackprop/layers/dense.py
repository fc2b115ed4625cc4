"""The dense layer: z_j = Σ_k w_jk a_k + b_j, then a = σ(z) (or softmax), at symbolic layer l.

Its forward equations and the local partials of z (carried, and differentiated by SymPy from
the very expression the forward equation states in `derived_local_partials`, which the tests
compare) sit side by side here; derive.py's chain rule only combines them with σ' and the loss.
"""

from __future__ import annotations

from functools import lru_cache

import sympy
from sympy import Expr, Piecewise, Sum

from ..ir import ActivationRule, Equation, View
from ..library import Z
from ..notation import (
    Act,
    Affine,
    Bias,
    Chain,
    Elementwise,
    MatProd,
    Pre,
    Sigma,
    Softmax,
    Weight,
    WeightMatrix,
    Width,
    j,
    k,
    l_sym,
)

_M = sympy.Symbol("m", integer=True, positive=True)


def weighted_input() -> Expr:
    """z_j^(l) = Σ_k w_jk^(l) a_k^(l-1) + b_j^(l), summed over the units of layer l - 1."""
    product = Chain(Weight(l_sym, j, k), Act(l_sym - 1, k))
    return Affine(Sum(product, (k, 1, Width(l_sym - 1))), Bias(l_sym, j))


@lru_cache(maxsize=1)
def local_partials() -> dict[str, Expr]:
    """dz_j/dw_jk = a_k^(l-1), dz_j/db_j = 1, dz_j/da_k = w_jk^(l) of the weighted input, as
    `derived_local_partials` finds them from `weighted_input` (a test checks that the two agree):
    carried here so that deriving a network solves nothing for its dense layers."""
    return {"w": Act(l_sym - 1, k), "b": sympy.S.One, "a_prev": Weight(l_sym, j, k)}


def derived_local_partials() -> dict[str, Expr]:
    """dz_j/dw_jk, dz_j/db_j, dz_j/da_k of the weighted input, by SymPy.

    Differentiated with plain indexed symbols (SymPy's Kronecker deltas), then written in the
    lecture's notation."""
    w, a, b = sympy.IndexedBase("w"), sympy.IndexedBase("a"), sympy.IndexedBase("b")
    n = sympy.Symbol("n", integer=True, positive=True)
    plain = {Weight(l_sym, j, _M): w[j, _M], Act(l_sym - 1, _M): a[_M], Bias(l_sym, j): b[j]}
    z_j = weighted_input().doit().xreplace({k: _M, Width(l_sym - 1): n}).xreplace(plain)
    notation = {w[j, k]: Weight(l_sym, j, k), a[k]: Act(l_sym - 1, k), b[j]: Bias(l_sym, j)}

    def partial(wrt: Expr) -> Expr:
        return _in_range(sympy.diff(z_j, wrt).doit()).xreplace(notation)

    return {"w": partial(w[j, k]), "b": partial(b[j]), "a_prev": partial(a[k])}


def _in_range(expr: Expr) -> Expr:
    """The first branch of each Piecewise SymPy adds for an index possibly out of range."""
    return expr.replace(
        lambda e: isinstance(e, Piecewise) and e.args[0].cond.has(j, k),
        lambda e: e.args[0].expr,
    )


def forward(view: View, rule: ActivationRule) -> tuple[Equation, ...]:
    """The layer's forward equations at symbolic layer l: its weighted input, then its output."""
    if view == "vector":
        z, a = Pre(l_sym), Act(l_sym)
        pre = Affine(MatProd(WeightMatrix(l_sym), Act(l_sym - 1)), Bias(l_sym))
        if rule.activation.expr is None:
            out: tuple[Expr, ...] = (Softmax(z),)
        else:
            out = (Sigma(z), Elementwise(rule.activation.expr.xreplace({Z: z})))
        return (Equation(view, "pre", l_sym, z, (pre,)), Equation(view, "act", l_sym, a, out))
    z_j, a_j = Pre(l_sym, j), Act(l_sym, j)
    if rule.activation.expr is None:
        total = Sum(sympy.exp(Pre(l_sym, _M)), (_M, 1, Width(l_sym)))
        out = (sympy.exp(z_j) / total,)
    else:
        out = (Sigma(z_j), rule.activation.expr.xreplace({Z: z_j}))
    return (
        Equation(view, "pre", l_sym, z_j, (weighted_input(),)),
        Equation(view, "act", l_sym, a_j, out),
    )


def penalty(parameter: Expr, l1: Expr, l2: Expr) -> Expr:
    """The regularisation of one weight (or bias) x: l2 · x² + l1 · |x|."""
    return l2 * parameter**2 + l1 * sympy.Abs(parameter)


def penalty_partial(parameter: Expr, l1: Expr, l2: Expr) -> Expr:
    """d/dx of `penalty`, by SymPy: 2 l2 x + l1 sign(x), the subgradient sign(0) = 0 at 0
    (differentiated in a plain real symbol, then written in the parameter)."""
    x = sympy.Symbol("x", real=True)
    return sympy.diff(penalty(x, l1, l2), x).xreplace({x: parameter})
