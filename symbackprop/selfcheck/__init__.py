"""The symbolic self-check: E written out in every weight, differentiated directly by SymPy,
against the layered derivation instantiated for every weight and bias of a small network."""

from __future__ import annotations

import math

import sympy
from sympy import Expr, Integer, Sum

from ..errors import SymbackpropError
from ..ir import Derivation
from ..library import A, Y, Z
from ..notation import Act, Affine, Bias, Decay, E, Partial, Pre, Target, Weight, Width, j, k
from ..printing.text import text
from ..sampling import random_point
from ..spec import Network
from .result import DIGITS, RELATIVE_TOLERANCE, CheckResult

#: The self-check differentiates E written out in every weight: its terms multiply with every
#: layer's width, and its nesting deepens with every layer (Python's recursion limit). These
#: bound it to seconds (timed: 4 layers of 3 units, cost 1,323: 4 s; 6 layers of 3, 14,823:
#: 62 s; 4 layers of 7, 48,363: 92 s).
SELF_CHECK_MAX_LAYERS = 8
#: weights and biases times the product of the layers' widths.
SELF_CHECK_MAX_COST = 10_000


def self_check_cost(net: Network) -> int:
    """About how much work `self_check` does: parameters times the product of the widths."""
    sizes = net.sizes
    parameters = sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(sizes) - 1))
    return parameters * math.prod(sizes[1:])


def check_small(net: Network) -> None:
    """Refuse at once a network too large for `self_check` to finish in seconds (or at all)."""
    if not net.dense_only:
        from . import maps

        maps.check_small(net)
        return
    cost = self_check_cost(net)
    if net.depth > SELF_CHECK_MAX_LAYERS or cost > SELF_CHECK_MAX_COST:
        raise SymbackpropError(
            f"{net.source}: --self-check is for small networks: at most"
            f" {SELF_CHECK_MAX_LAYERS} layers and a cost of {SELF_CHECK_MAX_COST:,} (weights"
            f" and biases times the product of the layer widths); this one has {net.depth}"
            f" layer{'s' * (net.depth != 1)} and a cost of {cost:,}. Leave --self-check out,"
            " or compare the generated gradients with `symbackprop check`"
        )


def leaves(net: Network) -> dict[Expr, sympy.Symbol]:
    """A plain real SymPy symbol for every weight, bias, input and target of `net`."""
    table: dict[Expr, sympy.Symbol] = {}
    for number, layer in enumerate(net.layers, start=1):
        for unit in range(1, layer.units + 1):
            table[Bias(number, unit)] = sympy.Symbol(f"b{number}_{unit}", real=True)
            for m in range(1, net.sizes[number - 1] + 1):
                table[Weight(number, unit, m)] = sympy.Symbol(f"w{number}_{unit}_{m}", real=True)
    for m in range(1, net.inputs + 1):
        table[Act(0, m)] = sympy.Symbol(f"x{m}", real=True)
    for m in range(1, net.sizes[-1] + 1):
        table[Target(m)] = sympy.Symbol(f"y{m}", real=True)
    return table


def forward(net: Network) -> tuple[dict[tuple[int, int], Expr], dict[tuple[int, int], Expr], Expr]:
    """z and a of every unit as expressions in the weights, biases and inputs (the symbols of
    `leaves`); and E."""
    sizes = net.sizes
    leaf = leaves(net)
    a: dict[tuple[int, int], Expr] = {(0, m): leaf[Act(0, m)] for m in range(1, sizes[0] + 1)}
    z: dict[tuple[int, int], Expr] = {}
    for number, layer in enumerate(net.layers, start=1):
        for unit in range(1, layer.units + 1):
            z[number, unit] = leaf[Bias(number, unit)] + sum(
                leaf[Weight(number, unit, m)] * a[number - 1, m]
                for m in range(1, sizes[number - 1] + 1)
            )
        if layer.activation.expr is None:
            total = sum(sympy.exp(z[number, m]) for m in range(1, layer.units + 1))
            for unit in range(1, layer.units + 1):
                a[number, unit] = sympy.exp(z[number, unit]) / total
        else:
            for unit in range(1, layer.units + 1):
                a[number, unit] = layer.activation.expr.xreplace({Z: z[number, unit]})
    depth = net.depth
    loss = sum(
        net.loss.expr.xreplace({A: a[depth, unit], Y: leaf[Target(unit)]})
        for unit in range(1, sizes[depth] + 1)
    )
    for number in range(1, depth + 1):  # the regularisation: l2 Σ w² + l1 Σ |w| per layer (b too)
        reg = net.penalty(number)
        for unit in range(1, sizes[number] + 1):
            for m in range(1, sizes[number - 1] + 1):
                w = leaf[Weight(number, unit, m)]
                loss += reg.l2 * w**2 + reg.l1 * sympy.Abs(w)
            if reg.biases:
                b = leaf[Bias(number, unit)]
                loss += reg.l2 * b**2 + reg.l1 * sympy.Abs(b)
    return z, a, sympy.sympify(loss)


def self_check(derivation: Derivation, seed: int = 0) -> list[CheckResult]:
    """Compare the index-form dE/dw and dE/db of every parameter with direct differentiation,
    at one random point (sampling.random_point)."""
    net = derivation.network
    if not net.dense_only:  # feature maps: E written out from each kind's forward equations
        from . import maps

        return maps.self_check(derivation, seed)
    check_small(net)
    z, a, loss = forward(net)
    leaf = leaves(net)
    point = {leaf[key]: value for key, value in _random_point(net, seed).items()}
    layered = _Instantiator(derivation, z, a)
    results = []
    for number, layer in enumerate(net.layers, start=1):
        for unit in range(1, layer.units + 1):
            params: list[tuple[Expr, str, dict[Expr, Expr]]] = [
                (Bias(number, unit), "dE_db", {j: Integer(unit)})
            ]
            for m in range(1, net.sizes[number - 1] + 1):
                params.append((Weight(number, unit, m), "dE_dw", {j: Integer(unit), k: Integer(m)}))
            for param, kind, indices in params:
                mine = layered.gradient(number, kind, indices).xreplace(leaf).xreplace(point)
                mine = mine.evalf(DIGITS)
                symbol = leaf[param]
                others = {s: v for s, v in point.items() if s != symbol}
                at_point = sympy.diff(loss.xreplace(others), symbol).subs(symbol, point[symbol])
                direct = at_point.evalf(DIGITS)
                ok = abs(mine - direct) <= RELATIVE_TOLERANCE * (1 + abs(direct))
                results.append(CheckResult(text(Partial(E, param)), float(mine), float(direct), ok))
    return results


def report(results: list[CheckResult]) -> str:
    """A table of the self-check, one parameter a line."""
    width = max(len(r.parameter) for r in results)
    lines = [f"{'parameter':<{width}}  {'layered':>14}  {'direct':>14}  result"]
    for r in results:
        verdict = "ok" if r.ok else "MISMATCH"
        lines.append(f"{r.parameter:<{width}}  {r.layered:>14.7g}  {r.direct:>14.7g}  {verdict}")
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results) - failed} of {len(results)} parameters agree to 20 digits")
    return "\n".join(lines)


class _Instantiator:
    """Turns the layered equations into expressions in the parameters, for given indices."""

    def __init__(
        self, derivation: Derivation, z: dict[tuple[int, int], Expr], a: dict[tuple[int, int], Expr]
    ) -> None:
        self.derivation = derivation
        self.z, self.a = z, a
        self.upstream: dict[tuple[int, int], Expr] = {}

    def gradient(self, number: int, kind: str, indices: dict[Expr, Expr]) -> Expr:
        eq = self.derivation.layers[number - 1].equation("index", kind)  # type: ignore[arg-type]
        assert eq is not None
        return self._resolve(eq.final.xreplace(indices))

    def _resolve(self, expr: Expr) -> Expr:
        net = self.derivation.network
        widths = {Width(Integer(m)): Integer(n) for m, n in enumerate(net.sizes)}
        expr = expr.xreplace(widths)
        expr = expr.replace(  # λ and λ₁ from the spec, for all layers or the one named
            lambda e: isinstance(e, Decay),
            lambda e: getattr(net.penalty(int(e.layer or 1)), "l2" if e.order == 2 else "l1"),
        )
        expr = expr.replace(lambda e: isinstance(e, Affine), lambda e: sympy.Add(*e.args))
        expr = expr.replace(lambda e: isinstance(e, Sum), lambda e: e.doit())
        expr = expr.replace(
            lambda e: isinstance(e, Partial) and isinstance(e.args[1], Act),
            lambda e: self._dE_da(int(e.args[1].args[0]), int(e.args[1].args[1])),
        )
        return expr.replace(
            lambda e: isinstance(e, Act | Pre) and int(e.args[0]) > 0,
            lambda e: (self.a if isinstance(e, Act) else self.z)[int(e.args[0]), int(e.args[1])],
        )

    def _dE_da(self, number: int, unit: int) -> Expr:
        key = (number, unit)
        if key not in self.upstream:
            layers = self.derivation.layers
            if number == len(layers):
                eq = layers[-1].equation("index", "dE_da_out")
                assert eq is not None
                value = eq.final.xreplace({j: Integer(unit)})
            else:
                eq = layers[number].equation("index", "dE_da_prev")
                assert eq is not None
                value = eq.final.xreplace({k: Integer(unit)})
            self.upstream[key] = self._resolve(value)
        return self.upstream[key]


def _random_point(net: Network, seed: int) -> dict[Expr, Expr]:
    """sampling.random_point for one sample, keyed by the lecture's symbols, each value a
    DIGITS-digit Float (exactly the float64 drawn)."""
    drawn = random_point(net, batch=1, seed=seed)

    def exact(value: float) -> Expr:
        return sympy.Float(float(value), DIGITS)

    point: dict[Expr, Expr] = {}
    for number, layer in enumerate(net.layers, start=1):
        weights, biases = drawn.params[f"W{number}"], drawn.params[f"b{number}"]
        for unit in range(1, layer.units + 1):
            point[Bias(number, unit)] = exact(biases[unit - 1])
            for m in range(1, net.sizes[number - 1] + 1):
                point[Weight(number, unit, m)] = exact(weights[unit - 1, m - 1])
    for m in range(1, net.inputs + 1):
        point[Act(0, m)] = exact(drawn.X[0, m - 1])
    for unit in range(1, net.sizes[-1] + 1):
        point[Target(unit)] = exact(drawn.Y[0, unit - 1])
    return point
