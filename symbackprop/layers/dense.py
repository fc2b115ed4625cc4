"""The dense layer: z_j = Σ_k w_jk a_k + b_j, then a = σ(z) (or softmax), at symbolic layer l.

Its forward equations, the local partials of z (carried, and differentiated by SymPy from
the very expression the forward equation states in `derived_local_partials`, which the tests
compare) and its backward equations in the three views sit side by side here; derive.py's
chain rule only combines them with σ', the loss and ∂E/∂a^(l) as the layer above states it
(`upstream_vector`).
"""

from __future__ import annotations

from functools import lru_cache

import sympy
from sympy import Expr, Piecewise, Sum

from ..ir import ActivationRule, Equation, LayerDerivation, LossRule, View
from ..library import A, Y, Z
from ..lower.statements import N_BATCH, Assign, BatchSum, GradientName, Scale, Statement
from ..notation import (
    Act,
    Affine,
    Bias,
    Chain,
    Delta,
    E,
    Elementwise,
    Hadamard,
    MatProd,
    Partial,
    Pre,
    Sigma,
    SigmaPrime,
    Softmax,
    Target,
    Transposed,
    Weight,
    WeightMatrix,
    Width,
    i,
    j,
    k,
    l_sym,
)
from ..rewrite import stable
from ..tidy import chain, tidy

#: sgd_step's in-place schedule (lower/inplace.py) knows the dense layer's statements.
IN_PLACE = True

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


# ---------------------------------------------------------------- backward equations


def upstream_vector(layer: Expr) -> Expr:
    """∂E/∂a^(l-1) as dense layer `layer` hands it down, in the vectorised view: (W^(l))ᵀ δ^(l)."""
    return MatProd(Transposed(WeightMatrix(layer)), Delta(layer))


def equations(
    view: View,
    rule: ActivationRule | None,
    loss: LossRule | None,
    has_prev: bool,
    is_output: bool,
    upstream: Expr,
) -> tuple[Equation, ...]:
    """The layer's backward equations at symbolic layer l in one view; `rule` None gives only
    the generic steps; `upstream` is ∂E/∂a^(l) in the vectorised view as the layer above
    states it (unused at the output, where the loss gives it)."""
    if view == "vector":
        return _vector_template(rule, loss, is_output, upstream)
    eqs = _index_template(rule, loss, has_prev, lecture_chain=view == "chain")
    if view == "index":
        return eqs
    return tuple(
        Equation("chain", eq.kind, eq.layer, _strip(eq.lhs), tuple(_strip(r) for r in eq.rhs))
        for eq in eqs
    )


@lru_cache(maxsize=4)
def softmax_general(view: View) -> tuple[Equation, ...]:
    """The output rules of a softmax layer at symbolic layer l, through its Jacobian."""
    if view == "vector":
        a, z = Act(l_sym), Pre(l_sym)
        generic = MatProd(Transposed(Partial(a, z)), Partial(E, a))
        return (Equation("vector", "delta", l_sym, Delta(l_sym), (Partial(E, z), generic)),)
    a_i, z_j, n_l = Act(l_sym, i), Pre(l_sym, j), Width(l_sym)
    dE_dz = Partial(E, z_j)
    w = Weight(l_sym, j, k)
    delta = Sum(Chain(Partial(a_i, z_j), Partial(E, a_i)), (i, 1, n_l))
    dE_dw = (Chain(dE_dz, Partial(z_j, w)), chain(dE_dz, local_partials()["w"]))
    return (
        Equation(view, "delta", l_sym, dE_dz, (delta,)),
        Equation(view, "dE_dw", l_sym, Partial(E, w), dE_dw),
    )


def _strip(expr: Expr) -> Expr:
    """The one-neuron-per-layer form: drop unit indices and the sums over one unit."""
    expr = expr.replace(lambda e: isinstance(e, Sum), lambda e: e.function)
    return expr.replace(
        lambda e: isinstance(e, Act | Pre | Weight | Bias | Target) and len(e.args) > 0,
        lambda e: e.func(*e.args[:1]) if not isinstance(e, Target) else Target(),
    )


def _vec(expr: Expr) -> Expr:
    """A per-unit expression as the vectorised form's elementwise expression."""
    return Elementwise(_strip(expr))


def _index_template(
    rule: ActivationRule | None, loss: LossRule | None, has_prev: bool, lecture_chain: bool
) -> tuple[Equation, ...]:
    view: View = "chain" if lecture_chain else "index"
    partials = local_partials()
    a_j, z_j, n_l = Act(l_sym, j), Pre(l_sym, j), Width(l_sym)
    dE_da = Partial(E, a_j)
    eqs: list[Equation] = []

    def eq(kind: str, lhs: Expr, *rhs: Expr) -> None:
        steps = [r for n, r in enumerate(rhs) if n == 0 or r != rhs[n - 1]]
        eqs.append(Equation(view, kind, l_sym, lhs, tuple(steps)))  # type: ignore[arg-type]

    if loss is not None:
        eq("loss", E, Sum(loss.loss.expr.xreplace({A: a_j, Y: Target(j)}), (j, 1, n_l)))
        eq("dE_da_out", dE_da, loss.dE_da)
    if rule is not None and rule.jacobian is not None:
        assert loss is not None
        a_i = Act(l_sym, i)
        dE_dz = Partial(E, z_j)
        eq("jacobian", Partial(a_i, z_j), rule.jacobian)
        generic = Sum(Chain(Partial(a_i, z_j), Partial(E, a_i)), (i, 1, n_l))
        concrete = Sum(Chain(rule.jacobian, loss.dE_da.xreplace({j: i})), (i, 1, n_l))
        eq("delta", dE_dz, generic, concrete, loss.output_delta)
        delta = loss.output_delta
        for kind, wrt, local in (
            ("dE_dw", Weight(l_sym, j, k), partials["w"]),
            ("dE_db", Bias(l_sym, j), partials["b"]),
        ):
            eq(
                kind,
                Partial(E, wrt),
                Chain(dE_dz, Partial(z_j, wrt)),
                chain(delta, local),
                tidy(delta * local),
            )
        if has_prev:
            a_k = Act(l_sym - 1, k)
            eq(
                "dE_da_prev",
                Partial(E, a_k),
                Sum(Chain(Partial(z_j, a_k), dE_dz), (j, 1, n_l)),
                Sum(Chain(partials["a_prev"], delta), (j, 1, n_l)),
                Sum(tidy(partials["a_prev"] * delta), (j, 1, n_l)),
            )
        return tuple(eqs)

    sigma = SigmaPrime(z_j)
    if rule is not None:
        assert rule.derivative is not None
        concrete_sigma = rule.derivative.xreplace({A: a_j, Z: z_j})
        eq("sigma_prime", Partial(a_j, z_j), sigma, concrete_sigma)
    upstream = loss.dE_da if loss is not None else dE_da
    if rule is not None:
        # dE/dz_j, simplified once: the loss rule fused sigma' into the output's; a hidden
        # layer's sigma' is already tidy and multiplies a symbol, so nothing more simplifies.
        tidy_delta = loss.output_delta if loss is not None else concrete_sigma * dE_da

    def steps(local: Expr, wrt: Expr) -> tuple[Expr, ...]:
        generic = Chain(dE_da, Partial(a_j, z_j), Partial(z_j, wrt))
        factors = [f for f in (local, sigma, upstream) if f != 1]
        if lecture_chain:
            factors.reverse()
        lecture = chain(*factors)
        if rule is None:
            return (generic, lecture)
        concrete = chain(*[concrete_sigma if f == sigma else f for f in factors])
        return (generic, lecture, concrete, local * tidy_delta)

    eq("dE_dw", Partial(E, Weight(l_sym, j, k)), *steps(partials["w"], Weight(l_sym, j, k)))
    eq("dE_db", Partial(E, Bias(l_sym, j)), *steps(partials["b"], Bias(l_sym, j)))
    if has_prev:
        a_k = Act(l_sym - 1, k)
        generic = Sum(Chain(Partial(z_j, a_k), Partial(a_j, z_j), dE_da), (j, 1, n_l))
        lecture = Sum(Chain(partials["a_prev"], sigma, upstream), (j, 1, n_l))
        rhs: tuple[Expr, ...] = (generic, lecture)
        if rule is not None:
            concrete = Chain(partials["a_prev"], concrete_sigma, upstream)
            rhs += (Sum(concrete, (j, 1, n_l)), Sum(partials["a_prev"] * tidy_delta, (j, 1, n_l)))
        eq("dE_da_prev", Partial(E, a_k), *rhs)
    return tuple(eqs)


def _vector_template(
    rule: ActivationRule | None, loss: LossRule | None, is_output: bool, upstream: Expr
) -> tuple[Equation, ...]:
    a, z, a_prev = Act(l_sym), Pre(l_sym), Act(l_sym - 1)
    delta = Delta(l_sym)
    eqs: list[Equation] = []

    def eq(kind: str, lhs: Expr, *rhs: Expr) -> None:
        steps = [r for n, r in enumerate(rhs) if n == 0 or r != rhs[n - 1]]
        eqs.append(Equation("vector", kind, l_sym, lhs, tuple(steps)))  # type: ignore[arg-type]

    sigma = SigmaPrime(z)
    if is_output:
        dE_da = Partial(E, a)
        if rule is not None and rule.jacobian is not None and loss is not None:
            generic = MatProd(Transposed(Partial(a, z)), dE_da)
            eq("delta", delta, Partial(E, z), generic, _vectorize_delta(loss.output_delta))
        else:
            generic = Hadamard(dE_da, sigma)
            rhs: list[Expr] = [Partial(E, z), generic]
            if rule is not None and rule.derivative is not None and loss is not None:
                concrete_sigma = rule.derivative.xreplace({A: Act(l_sym, j), Z: Pre(l_sym, j)})
                if concrete_sigma != 1:  # no "⊙ 1" step for an identity output
                    rhs.append(Hadamard(_vec(loss.dE_da), _vec(concrete_sigma)))
                rhs.append(_vec(loss.output_delta))
            eq("delta", delta, *rhs)
    else:
        back = upstream
        rhs = [Partial(E, z), Hadamard(back, sigma)]
        if rule is not None and rule.derivative is not None:
            concrete_sigma = rule.derivative.xreplace({A: Act(l_sym, j), Z: Pre(l_sym, j)})
            rhs.append(back if concrete_sigma == 1 else Hadamard(back, _vec(concrete_sigma)))
        eq("delta", delta, *rhs)
    eq("dE_dw", Partial(E, WeightMatrix(l_sym)), MatProd(delta, Transposed(a_prev)))
    eq("dE_db", Partial(E, Bias(l_sym)), delta)
    return tuple(eqs)


def _vectorize_delta(delta: Expr) -> Expr:
    """The softmax output delta in vector form: inner products for the sums over units."""

    def inner(s: Sum) -> Expr:
        factors = sympy.Mul.make_args(s.function)
        first, rest = factors[0], sympy.Mul(*factors[1:])
        return MatProd(Transposed(_vec(first.xreplace({i: j}))), _vec(rest.xreplace({i: j})))

    return _vec(delta.replace(lambda e: isinstance(e, Sum), inner))


def lower_forward(ld: LayerDerivation) -> list[Statement]:
    """z^(l) = W^(l) a^(l-1) + b^(l), then a^(l) = σ(z^(l)), each in its stable form."""
    statements: list[Statement] = []
    for role in ("pre", "act"):
        eq = ld.require("vector", role)
        statements.append(Assign(eq.lhs, stable(eq.final), eq))
    return statements


def lower_backward(
    ld: LayerDerivation, is_output: bool, values: dict[Expr, Expr]
) -> list[Statement]:
    """δ^(l) (averaged over the batch at the output layer), ∂E/∂W^(l) and the batch sum of
    ∂E/∂b^(l), the penalty's strengths as numbers (`values`)."""
    number = ld.number
    delta = ld.require("vector", "delta")
    statements: list[Statement] = [Assign(Delta(number), stable(delta.final), delta)]
    if is_output:
        statements.append(Scale(Delta(number), 1 / N_BATCH, "averaged over the n samples"))
    dW = ld.require("vector", "dE_dw")
    statements.append(
        Assign(GradientName(number, sympy.Symbol("W")), dW.final.xreplace(values), dW)
    )
    db = ld.require("vector", "dE_db")
    rows, decay = db.final.args if isinstance(db.final, Affine) else (db.final, None)
    decay = None if decay is None else decay.xreplace(values)
    statements.append(BatchSum(GradientName(number, sympy.Symbol("b")), rows, db, decay))
    return statements
