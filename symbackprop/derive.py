"""Spec -> Derivation: the lecture's chain rule, done by SymPy, layer by layer.

Lowering chain: activation/loss expressions -> local partials (SymPy `diff`, once per distinct
activation) -> equation templates at a symbolic layer ``l`` (cached) -> per-layer equations
(the template with ``l`` replaced by the layer's number).  Width never enters: sums run to
n^(l), so the cost depends on depth and on the number of distinct activations only.
"""

from __future__ import annotations

import dataclasses
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
from .layers import DENSE, LayerKind, dense, kind_of
from .layers.dense import local_partials
from .layers.residual import skip_path
from .library import A, Activation, Loss, Y, Z
from .notation import (
    Act,
    Delta,
    Partial,
    Pre,
    Target,
    Terms,
    Width,
    i,
    j,
    k,
    l_sym,
)
from .progress import Report
from .regularize import regularized
from .spec import Network
from .tidy import cost, in_range, tidy, tidy_sums

L_OUT = sympy.Symbol("L", integer=True, positive=True)
_PROBES = (-2.3, -0.71, 0.37, 1.13, 2.9)
_PIECEWISE_KINDS = (sympy.Abs, sympy.Max, sympy.Min, Piecewise, Heaviside, sympy.sign)
#: Seconds a derivation may take before it stops with a clear error: SymPy's simplification
#: has no bound of its own (the bundled examples take about 1 s, depth 128 about 1.5 s).
DERIVE_SECONDS = 60.0


#: How often the derivation's alarm fires again once its time is up (seconds).
REARM_SECONDS = 0.05


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
    # It fires again every REARM seconds after the limit: an alarm that lands in a callback
    # whose exceptions Python ignores (a weakref's, during garbage collection) is not lost.
    signal.setitimer(signal.ITIMER_REAL, seconds, REARM_SECONDS)
    try:
        yield
    except _OutOfTime:
        signal.setitimer(signal.ITIMER_REAL, 0)
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
    # One neuron per layer: the lecture's chain, for dense layers without softmax's coupling.
    chain_view = not output_rule.activation.is_softmax and network.dense_only
    depth = network.depth
    layers = []
    for number, layer in enumerate(network.layers, start=1):
        stage[0] = f"the equations of layer {number}"
        rule = rules[layer.activation]
        out = loss if number == depth else None
        has_prev = number > 1
        kind = kind_of(layer)
        above = kind_of(network.layers[number]) if number < depth else DENSE
        skips = tuple(r - number for r in network.receivers(number))
        views = {
            view: _at_layer(
                _layer_template(view, rule, out, has_prev, out is not None, kind, above, skips),
                number,
            )
            for view in ("chain", "index", "vector")
            if view != "chain" or chain_view
        }
        forward = tuple(
            eq
            for view in ("index", "vector")
            for eq in _at_layer(_forward(view, rule, kind), number)
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
                shows_forward=layer.kind != "dense" or layer.residual is not None,
            )
        )
        if progress is not None:
            progress("deriving layer", number, depth)
    stage[0] = "the general equations"
    # The general hidden-layer rules are a dense layer's: stated only where every layer is.
    general: dict[View, tuple[Equation, ...]] = {
        view: _general(view, softmax_output=not chain_view, hidden=depth > 1 and network.dense_only)
        for view in ("chain", "index", "vector")
    }
    layers = _second_paths(network, layers)
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
    derivative = tidy(derivative)
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
                candidates.append(tidy(form))
    good = [c for c in candidates if _same_function(c.subs(A, forward), derivative)]
    if not good:
        return None
    best = min(good, key=cost)
    return best if cost(best) < cost(derivative) else None


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
    raw = in_range(sympy.diff(sympy.exp(z[i]) / total, z[j]).doit())
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
    dE_da = tidy(dE_da).xreplace(at_output)
    if output.jacobian is not None:
        per_unit = output.jacobian.xreplace({i: k}) * dE_da.xreplace({j: k})
        delta, summed = _contract(per_unit.xreplace({k: i}))
        targets_sum_to_one = loss.builtin and loss.name == "cross_entropy"
        if targets_sum_to_one:
            delta = tidy(delta.xreplace({Sum(Target(i), (i, 1, Width(l_sym))): Integer(1)}))
        fused = summed != delta
    else:
        sigma = output.derivative
        assert sigma is not None
        product = dE_da * sigma.xreplace({A: Act(l_sym, j), Z: Pre(l_sym, j)})
        # Only sigma' written in a can fuse with dE/da (sigmoid and cross-entropy give a - y);
        # one in z shares no symbol with it, and simplifying the product only costs seconds.
        delta = tidy(product) if output.uses_output else product
        targets_sum_to_one = False
        fused = cost(delta) < cost(product)
    return LossRule(loss, dE_da, delta, fused, targets_sum_to_one)


def _contract(summand: Expr) -> tuple[Expr, Expr]:
    """sum_i summand with the Kronecker deltas summed out; returns (tidy result, raw result)."""
    total = in_range(Sum(sympy.expand(summand), (i, 1, Width(l_sym))).doit())
    pieces = []
    for term in sympy.Add.make_args(total):
        if isinstance(term, Sum):
            term = sympy.factor_terms(Sum(term.function, *term.limits))
            term = _pull_out_of_sums(term)
        pieces.append(term)
    raw = sympy.Add(*pieces)
    return tidy_sums(raw), raw


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
def _forward(view: View, rule: ActivationRule, kind: LayerKind = DENSE) -> tuple[Equation, ...]:
    """A layer's forward equations at symbolic layer l (cached like the templates)."""
    return kind.forward(view, rule)


def _general(view: View, *, softmax_output: bool, hidden: bool) -> tuple[Equation, ...]:
    """The lecture's general rules with symbolic layers: output L, and hidden l (1 <= l < L)
    where the network has hidden layers.  A softmax output couples its units, so its rules go
    through the Jacobian da_i/dz_j instead of sigma'."""
    if softmax_output:
        output = _at_layer(dense.softmax_general(view), L_OUT)
    else:
        output = _at_layer(_layer_template(view, None, None, True, True), L_OUT)[:1]
    if not hidden:
        return output
    return (*output, *_layer_template(view, None, None, True, False))


@lru_cache(maxsize=1024)
def _layer_template(
    view: View,
    rule: ActivationRule | None,
    loss: LossRule | None,
    has_prev: bool,
    is_output: bool,
    kind: LayerKind = DENSE,
    above: LayerKind = DENSE,
    skips: tuple[int, ...] = (),
) -> tuple[Equation, ...]:
    """The equations of one layer of `kind` at symbolic layer l, the layer above of kind
    `above` (which states ∂E/∂a^(l) in the vectorised view); `rule` None gives only generic
    steps. `skips`: the spans of the residual connections that add a^(l) to later layers'
    weighted inputs: each adds its δ to ∂E/∂a^(l) (where the layer above names ∂E/∂a^(l), the
    second paths are in its equation, `_second_paths`)."""
    upstream = above.upstream_vector(l_sym + 1)
    if skips and not isinstance(upstream, Partial):
        upstream = Terms(upstream, *(Delta(l_sym + d) for d in skips))
    return kind.equations(view, rule, loss, has_prev, is_output, upstream)


def _second_paths(network: Network, layers: list[LayerDerivation]) -> list[LayerDerivation]:
    """∂E/∂a^(m) where layer m's output also feeds a later layer r by a residual connection:
    the equation of the layer above gains the second path, ∂z_k^(r)/∂a_k^(m) ∂E/∂z_k^(r)
    (its index view; its vectorised one where it names ∂E/∂a^(m) as an array of its own)."""
    out = list(layers)
    for source in range(1, network.depth):
        receivers = network.receivers(source)
        if not receivers:
            continue
        above = out[source]  # layer source + 1
        named = isinstance(
            kind_of(network.layers[source]).upstream_vector(Integer(source + 1)), Partial
        )

        def widened(
            eq: Equation,
            named: bool = named,
            source: int = source,
            receivers: tuple[int, ...] = receivers,
        ) -> Equation:
            if eq.kind != "dE_da_prev" or (eq.view == "vector" and not named):
                return eq
            paths = [skip_path(Integer(r), Integer(source), eq.view) for r in receivers]
            steps = tuple(
                Terms(
                    *(step.args if isinstance(step, Terms) else (step,)),
                    *(p[0 if n == 0 else 1] for p in paths),
                )
                for n, step in enumerate(eq.rhs)
            )
            return Equation(eq.view, eq.kind, eq.layer, eq.lhs, steps)

        out[source] = dataclasses.replace(
            above,
            index=tuple(widened(eq) for eq in above.index),
            vector=tuple(widened(eq) for eq in above.vector),
        )
    return out


def clear_caches() -> None:
    """Forget every cached rule and template (for benchmarks that time a cold derivation)."""
    for cached in (
        activation_rule,
        loss_rule,
        local_partials,
        softmax_jacobian,
        _layer_template,
        _forward,
        dense.softmax_general,
    ):
        cached.cache_clear()
    sympy.core.cache.clear_cache()
