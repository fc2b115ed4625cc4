"""Spec -> Derivation: the lecture's chain rule, done by SymPy, layer by layer.

Lowering chain: activation/loss expressions -> local partials (SymPy `diff`, once per distinct
activation) -> equation templates at a symbolic layer ``l`` (cached) -> per-layer equations
(the template with ``l`` replaced by the layer's number).  Width never enters: sums run to
n^(l), so the cost depends on depth and on the number of distinct activations only.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from types import FrameType

import sympy
from sympy import Expr, Heaviside, Integer, Piecewise, Sum

from .errors import SpecError
from .ir import ActivationRule, Derivation, Equation, LayerDerivation, LossRule, View
from .layers import dense
from .layers.dense import local_partials
from .library import A, Activation, Loss, Y, Z
from .notation import (
    Act,
    Bias,
    Chain,
    Delta,
    E,
    Elementwise,
    Hadamard,
    LayerQuantity,
    MatProd,
    Partial,
    Pre,
    SigmaPrime,
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
from .printing.common import decimal
from .progress import Report
from .regularize import regularized
from .spec import Network

L_OUT = sympy.Symbol("L", integer=True, positive=True)
_PROBES = (-2.3, -0.71, 0.37, 1.13, 2.9)
_PIECEWISE_KINDS = (sympy.Abs, sympy.Max, sympy.Min, Piecewise, Heaviside, sympy.sign)
#: Seconds a derivation may take before it stops with a clear error: SymPy's simplification
#: has no bound of its own (the bundled examples take about 1 s, depth 128 about 1.5 s).
DERIVE_SECONDS = 60.0


class _OutOfTime(BaseException):
    """Raised inside SymPy by the alarm of _time_limit (not an Exception: SymPy catches those)."""


@contextmanager
def _time_limit(seconds: float, message: Callable[[], str]) -> Iterator[None]:
    """SpecError(message()) if the block runs longer than `seconds`.  Needs SIGALRM, so it
    guards only the main thread, and only when no other timer is set; elsewhere the block runs
    unbounded.  The result never depends on time: the block finishes, or the error is raised."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or signal.getitimer(signal.ITIMER_REAL)[0] > 0:  # the caller's timer runs
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _OutOfTime:
        raise SpecError(message()) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def derive(network: Network, *, progress: Report | None = None) -> Derivation:
    """Derive every layer's partial derivatives of E for `network`, in the three views;
    `progress`, if given, is called as progress("deriving layer", done, layers)."""
    stage = ["the activations"]

    def too_slow() -> str:
        return (
            f"{network.source}: SymPy did not finish {stage[0]} within {DERIVE_SECONDS:g} s;"
            " an expression is too involved to simplify: try a shorter equivalent one"
        )

    with _time_limit(DERIVE_SECONDS, too_slow):
        return _derive(network, progress, stage)


def _derive(network: Network, progress: Report | None, stage: list[str]) -> Derivation:
    """derive(), reporting in stage[0] what it is working on."""
    if progress is not None:
        progress("deriving layer", 0, network.depth)
    rules: dict[Activation, ActivationRule] = {}
    for number, layer in enumerate(network.layers, start=1):
        if layer.activation not in rules:
            stage[0] = f"the activation {layer.activation.name!r} (layer {number})"
            rules[layer.activation] = activation_rule(layer.activation)
    output_rule = rules[network.layers[-1].activation]
    stage[0] = f"the loss {network.loss.name!r}"
    loss = loss_rule(network.loss, output_rule)
    chain_view = not output_rule.activation.is_softmax
    depth = network.depth
    layers = []
    for number, layer in enumerate(network.layers, start=1):
        stage[0] = f"the equations of layer {number}"
        rule = rules[layer.activation]
        out = loss if number == depth else None
        has_prev = number > 1
        views = {
            view: _at_layer(_layer_template(view, rule, out, has_prev, out is not None), number)
            for view in ("chain", "index", "vector")
            if view != "chain" or chain_view
        }
        forward = tuple(
            eq for view in ("index", "vector") for eq in _at_layer(_forward(view, rule), number)
        )
        layers.append(
            LayerDerivation(
                number=number,
                units=layer.units,
                fan_in=network.sizes[number - 1],
                rule=rule,
                chain=views.get("chain", ()),
                index=views["index"],
                vector=views["vector"],
                forward=forward,
            )
        )
        if progress is not None:
            progress("deriving layer", number, depth)
    stage[0] = "the general equations"
    general: dict[View, tuple[Equation, ...]] = {
        view: _general(view, softmax_output=not chain_view, hidden=depth > 1)
        for view in ("chain", "index", "vector")
    }
    if network.regularized:
        layers, general = regularized(network, layers, general)
    return Derivation(
        network=network,
        rules=tuple(rules.values()),
        loss=loss,
        general=general,
        layers=tuple(layers),
        has_chain_view=chain_view,
    )


# ---------------------------------------------------------------- activation and loss rules


@lru_cache(maxsize=256)
def activation_rule(activation: Activation) -> ActivationRule:
    """sigma' of one activation, expressed through its output a when SymPy finds that simpler."""
    if activation.expr is None:
        return ActivationRule(activation, None, None, False, False, jacobian=SOFTMAX_JACOBIAN)
    if activation.derivative is not None:  # a built-in one: its rule is carried beside it
        return ActivationRule(
            activation=activation,
            derivative_z=activation.derivative,
            derivative=activation.derivative_a or activation.derivative,
            uses_output=activation.derivative_a is not None,
            heaviside_at_zero=activation.derivative.has(Heaviside),
        )
    return derived_activation_rule(activation)


def derived_activation_rule(activation: Activation) -> ActivationRule:
    """σ' found by SymPy: differentiated, tidied, and written in a where that is simpler."""
    assert activation.expr is not None
    derivative = sympy.diff(activation.expr, Z)
    if derivative.has(sympy.Derivative) or derivative.has(sympy.nan):
        raise SpecError(f"activation {activation.name!r}: SymPy cannot differentiate it")
    heaviside = derivative.has(Heaviside)
    if heaviside:
        derivative = derivative.replace(lambda e: isinstance(e, Heaviside), _from_below)
    derivative = _tidy(derivative)
    in_a = _through_output(activation.expr, derivative)
    return ActivationRule(
        activation=activation,
        derivative_z=derivative,
        derivative=in_a if in_a is not None else derivative,
        uses_output=in_a is not None,
        heaviside_at_zero=heaviside,
    )


def _from_below(step: Heaviside) -> Expr:
    """H(g(z)) with H(0) = 0 throughout, valued at a kink as its limit from below (z -> c-).

    So sigma' at a kink is the left derivative, which lies between the one-sided ones: relu'(0)
    = 0 and leaky_relu'(0) = slope as in the frameworks, and ELU'(0) = 1 where it is smooth.  For
    g decreasing in z, H(g) from below is 1 at the kink: written 1 - H(-g) with H(0) = 0.
    Arguments whose slope SymPy cannot sign keep H(0) = 0."""
    argument = step.args[0]
    slope = sympy.diff(argument, Z)
    if slope.is_negative or (slope.is_number and slope < 0):
        return 1 - Heaviside(-argument, 0)
    return Heaviside(argument, 0)


#: The largest inverse z = σ⁻¹(a) tried (sympy.count_ops); builtins' inverses have at most 8.
_SOLUTION_OPS = 20
#: ... and the largest σ'(σ⁻¹(a)) simplified (z / sqrt(1 + z^2) gives 24).
_RAW_OPS = 30


def _through_output(forward: Expr, derivative: Expr) -> Expr | None:
    """g with sigma'(z) = g(sigma(z)), if SymPy finds one that is simpler than sigma'(z)."""
    if derivative.is_number or forward.has(*_PIECEWISE_KINDS) or _occurrences(forward, Z) != 1:
        return None
    try:
        solutions = sympy.solve(sympy.Eq(A, forward), Z, check=False, simplify=False)
    except (NotImplementedError, ValueError, TypeError):
        return None
    candidates = []
    for solution in solutions:
        if sympy.count_ops(solution) > _SOLUTION_OPS:
            continue  # e.g. Cardano's formula: simplifying through it can take minutes
        raw = derivative.subs(Z, solution)
        if sympy.count_ops(raw) > _RAW_OPS:
            continue
        for form in (sympy.simplify(raw), sympy.simplify(raw.rewrite(sympy.exp))):
            if Z not in form.free_symbols and not form.has(sympy.nan, sympy.zoo):
                candidates.append(_tidy(form))
    good = [c for c in candidates if _same_function(c.subs(A, forward), derivative)]
    if not good:
        return None
    best = min(good, key=_cost)
    return best if _cost(best) < _cost(derivative) else None


def _occurrences(expr: Expr, symbol: sympy.Symbol) -> int:
    """How often `symbol` appears in the expression tree.  Only a single occurrence has an
    inverse found by undoing one operation after another; with two or more (swish, GELU, mish)
    SymPy's solve tries Lambert W and polynomial systems for minutes, and an inverse it finds
    is never simpler than sigma' in z."""
    return sum(1 for node in sympy.preorder_traversal(expr) if node == symbol)


def _same_function(left: Expr, right: Expr) -> bool:
    for probe in _PROBES:
        try:
            lv = complex(left.subs(Z, probe).evalf(30))
            rv = complex(right.subs(Z, probe).evalf(30))
        except (TypeError, ValueError):
            return False
        if not (math.isfinite(lv.real) and abs(lv - rv) <= 1e-12 * (1 + abs(rv))):
            return False
    return True


#: da_i/dz_j of softmax, carried here so that a softmax network derives without simplifying
#: anything; tests/test_derive.py checks it is what `softmax_jacobian()` derives.
SOFTMAX_JACOBIAN = Act(l_sym, i) * (sympy.KroneckerDelta(i, j) - Act(l_sym, j))


@lru_cache(maxsize=1)
def softmax_jacobian() -> Expr:
    """da_i/dz_j of softmax, differentiated from a_i = exp(z_i) / sum_m exp(z_m)."""
    z, a = sympy.IndexedBase("z"), sympy.IndexedBase("a")
    m = sympy.Symbol("m", integer=True, positive=True)
    n = sympy.Symbol("n", integer=True, positive=True)
    total = Sum(sympy.exp(z[m]), (m, 1, n))
    raw = _in_range(sympy.diff(sympy.exp(z[i]) / total, z[j]).doit())
    s = sympy.Symbol("S", positive=True)
    raw = sympy.expand(raw.xreplace({total: s}))
    raw = raw.subs({sympy.exp(z[i]): a[i] * s, sympy.exp(z[j]): a[j] * s})
    jac = sympy.factor(sympy.simplify(raw))
    return jac.xreplace({a[i]: Act(l_sym, i), a[j]: Act(l_sym, j)})


@lru_cache(maxsize=256)
def loss_rule(loss: Loss, output: ActivationRule) -> LossRule:
    """dE/da_j^(L) from the loss, and dE/dz_j^(L) after the output activation."""
    at_output = {A: Act(l_sym, j), Y: Target(j)}
    dE_da = sympy.diff(loss.expr, A)
    if dE_da.has(sympy.Derivative) or dE_da.has(sympy.nan):
        raise SpecError(f"loss {loss.name!r}: SymPy cannot differentiate it")
    dE_da = _tidy(dE_da).xreplace(at_output)
    if output.jacobian is not None:
        per_unit = output.jacobian.xreplace({i: k}) * dE_da.xreplace({j: k})
        delta, summed = _contract(per_unit.xreplace({k: i}))
        targets_sum_to_one = loss.builtin and loss.name == "cross_entropy"
        if targets_sum_to_one:
            delta = _tidy(delta.xreplace({Sum(Target(i), (i, 1, Width(l_sym))): Integer(1)}))
        fused = summed != delta
    else:
        sigma = output.derivative
        assert sigma is not None
        product = dE_da * sigma.xreplace({A: Act(l_sym, j), Z: Pre(l_sym, j)})
        # Only sigma' written in a can fuse with dE/da (sigmoid and cross-entropy give a - y);
        # one in z shares no symbol with it, and simplifying the product only costs seconds.
        delta = _tidy(product) if output.uses_output else product
        targets_sum_to_one = False
        fused = _cost(delta) < _cost(product)
    return LossRule(loss, dE_da, delta, fused, targets_sum_to_one)


def _contract(summand: Expr) -> tuple[Expr, Expr]:
    """sum_i summand with the Kronecker deltas summed out; returns (tidy result, raw result)."""
    total = _in_range(Sum(sympy.expand(summand), (i, 1, Width(l_sym))).doit())
    pieces = []
    for term in sympy.Add.make_args(total):
        if isinstance(term, Sum):
            term = sympy.factor_terms(Sum(term.function, *term.limits))
            term = _pull_out_of_sums(term)
        pieces.append(term)
    raw = sympy.Add(*pieces)
    return _tidy_sums(raw), raw


def _pull_out_of_sums(expr: Expr) -> Expr:
    """Move factors that do not depend on the summation index out of each Sum."""

    def pull(s: Sum) -> Expr:
        index = s.limits[0][0]
        inside: list[Expr] = []
        outside: list[Expr] = []
        for factor in sympy.Mul.make_args(s.function):
            (inside if factor.has(index) else outside).append(factor)
        return sympy.Mul(*outside) * Sum(sympy.Mul(*inside), *s.limits)

    return expr.replace(lambda e: isinstance(e, Sum), pull)


def _in_range(expr: Expr) -> Expr:
    """Keep the first branch of each Piecewise SymPy adds for indices possibly out of range."""
    return expr.replace(
        lambda e: isinstance(e, Piecewise) and e.args[0].cond.has(i, j, k),
        lambda e: e.args[0].expr,
    )


def _tidy_sums(expr: Expr) -> Expr:
    """`_tidy` for an expression, or for the summands of the sums it contains."""
    sums = {s: Sum(_tidy(s.function), *s.limits) for s in expr.atoms(Sum)}
    return expr.xreplace(sums) if sums else _tidy(expr)


def _cost(expr: Expr) -> tuple[int, int, int, int, int]:
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


def _tidy(expr: Expr) -> Expr:
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
    return min((f for f in forms if _function_kinds(f) <= allowed), key=_cost)


def _function_kinds(expr: Expr) -> set[type]:
    return {type(f) for f in expr.atoms(sympy.Function)} | (
        {sympy.exp} if expr.has(sympy.E) else set()
    )


# ---------------------------------------------------------------- equation templates


def _at_layer(template: tuple[Equation, ...], layer: int | Expr) -> tuple[Equation, ...]:
    """A template at symbolic layer l, with l replaced by a layer number (or the symbol L)."""
    value = Integer(layer) if isinstance(layer, int) else layer
    return tuple(
        Equation(
            eq.view,
            eq.kind,
            value,
            eq.lhs.xreplace({l_sym: value}),
            tuple(r.xreplace({l_sym: value}) for r in eq.rhs),
        )
        for eq in template
    )


@lru_cache(maxsize=512)
def _forward(view: View, rule: ActivationRule) -> tuple[Equation, ...]:
    """The dense layer's forward equations at symbolic layer l (cached like the templates)."""
    return dense.forward(view, rule)


def _general(view: View, *, softmax_output: bool, hidden: bool) -> tuple[Equation, ...]:
    """The lecture's general rules with symbolic layers: output L, and hidden l (1 <= l < L)
    where the network has hidden layers.  A softmax output couples its units, so its rules go
    through the Jacobian da_i/dz_j instead of sigma'."""
    if softmax_output:
        output = _at_layer(_softmax_general(view), L_OUT)
    else:
        output = _at_layer(_layer_template(view, None, None, True, True), L_OUT)[:1]
    if not hidden:
        return output
    return (*output, *_layer_template(view, None, None, True, False))


@lru_cache(maxsize=4)
def _softmax_general(view: View) -> tuple[Equation, ...]:
    """The output rules of a softmax layer at symbolic layer l, through its Jacobian."""
    if view == "vector":
        a, z = Act(l_sym), Pre(l_sym)
        generic = MatProd(Transposed(Partial(a, z)), Partial(E, a))
        return (Equation("vector", "delta", l_sym, Delta(l_sym), (Partial(E, z), generic)),)
    a_i, z_j, n_l = Act(l_sym, i), Pre(l_sym, j), Width(l_sym)
    dE_dz = Partial(E, z_j)
    w = Weight(l_sym, j, k)
    delta = Sum(Chain(Partial(a_i, z_j), Partial(E, a_i)), (i, 1, n_l))
    dE_dw = (Chain(dE_dz, Partial(z_j, w)), _chain(dE_dz, local_partials()["w"]))
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


@lru_cache(maxsize=1024)
def _layer_template(
    view: View,
    rule: ActivationRule | None,
    loss: LossRule | None,
    has_prev: bool,
    is_output: bool,
) -> tuple[Equation, ...]:
    """The equations of one layer at symbolic layer l; `rule` None gives only generic steps."""
    if view == "vector":
        return _vector_template(rule, loss, is_output)
    eqs = _index_template(rule, loss, has_prev, lecture_chain=view == "chain")
    if view == "index":
        return eqs
    return tuple(
        Equation("chain", eq.kind, eq.layer, _strip(eq.lhs), tuple(_strip(r) for r in eq.rhs))
        for eq in eqs
    )


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
                _chain(delta, local),
                _tidy(delta * local),
            )
        if has_prev:
            a_k = Act(l_sym - 1, k)
            eq(
                "dE_da_prev",
                Partial(E, a_k),
                Sum(Chain(Partial(z_j, a_k), dE_dz), (j, 1, n_l)),
                Sum(Chain(partials["a_prev"], delta), (j, 1, n_l)),
                Sum(_tidy(partials["a_prev"] * delta), (j, 1, n_l)),
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
        lecture = _chain(*factors)
        if rule is None:
            return (generic, lecture)
        concrete = _chain(*[concrete_sigma if f == sigma else f for f in factors])
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


def _chain(*factors: Expr) -> Expr:
    """The lecture's ordered product, without factors of 1; a single factor stands alone."""
    kept = [f for f in factors if f != 1]
    return kept[0] if len(kept) == 1 else Chain(*kept)


def _vector_template(
    rule: ActivationRule | None, loss: LossRule | None, is_output: bool
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
        back = MatProd(Transposed(WeightMatrix(l_sym + 1)), Delta(l_sym + 1))
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


def clear_caches() -> None:
    """Forget every cached rule and template (for benchmarks that time a cold derivation)."""
    for cached in (
        activation_rule,
        loss_rule,
        local_partials,
        softmax_jacobian,
        _layer_template,
        _forward,
    ):
        cached.cache_clear()
    sympy.core.cache.clear_cache()
