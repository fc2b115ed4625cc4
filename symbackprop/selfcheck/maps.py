"""The symbolic self-check of a network with feature maps (conv2d, pooling, flatten): E of a
small instance written out in every weight from each layer's index-form forward equations,
differentiated directly by SymPy, against each layer's index-form ∂E/∂w and ∂E/∂b
instantiated at every weight and bias, through the ∂E/∂a and ∂E/∂z the other layers state."""

from __future__ import annotations

import itertools
import math

import numpy as np
import sympy
from sympy import Expr, Integer, Sum

from ..errors import SymbackpropError
from ..ir import Derivation, Equation
from ..layers.conv2d import c, cp, i, j
from ..notation import (
    EPS,
    Act,
    Affine,
    Bias,
    Chain,
    E,
    Gain,
    InWindow,
    IsArgmax,
    Mean,
    Normalized,
    Partial,
    Pre,
    Shift,
    Target,
    Terms,
    Variance,
    Weight,
    Width,
    WindowMax,
)
from ..notation import j as unit_j
from ..printing.text import text
from ..sampling import random_point
from ..shapes import CONV_KINDS, NORM_KINDS, parameters
from ..spec import Layer, Network
from .result import DIGITS, RELATIVE_TOLERANCE, CheckResult

#: The quantities E is written out in: leaves, and values written out in the leaves.
_QUANTITIES = (Act, Pre, Weight, Bias, Target, Gain, Shift, Mean, Variance, Normalized)
#: The equation of each kind of parameter's gradient.
_GRADIENT_KINDS = {Weight: "dE_dw", Bias: "dE_db", Gain: "dE_dgamma", Shift: "dE_dbeta"}

#: A network small enough to write E out in every weight: parameters and values in all.
MAX_PARAMETERS = 200
MAX_VALUES = 400


def check_small(net: Network) -> None:
    """Refuse at once a network too large to write E out in every weight in seconds."""
    if any(layer.kind == "batchnorm" for layer in net.layers):
        raise SymbackpropError(
            f"{net.source}: --self-check writes E out for one sample, and batch norm couples"
            " the samples of a batch: compare the generated gradients with `symbackprop check`"
        )
    count = sum(math.prod(shape) for layer in net.layers for _, shape in parameters(layer))
    values = net.inputs + sum(net.sizes[1:])
    if count > MAX_PARAMETERS or values > MAX_VALUES:
        raise SymbackpropError(
            f"{net.source}: --self-check is for small networks: with feature maps at most"
            f" {MAX_PARAMETERS} weights and biases and {MAX_VALUES} inputs and layer outputs;"
            f" this one has {count:,} and {values:,}. Leave --self-check out, or compare"
            " the generated gradients with `symbackprop check`"
        )


def _units(layer: Layer) -> list[dict[Expr, Expr]]:
    """Every assignment of the free indices of a layer's index-form forward equations."""
    if layer.kind in ("dense", *NORM_KINDS):
        return [{unit_j: Integer(m)} for m in range(1, layer.units + 1)]
    shape = layer.shape_in if layer.kind == "flatten" else layer.shape_out
    names = ((cp if layer.kind in CONV_KINDS else c), i, j)[: len(shape)]
    return [
        {name: Integer(x) for name, x in zip(names, index, strict=True)}
        for index in itertools.product(*(range(s) for s in shape))
    ]


class _Instance:
    """One small instance of the network: its leaves (a symbol per weight, bias, input and
    target), their values at a random point, and every unit's z and a written out in them."""

    def __init__(self, derivation: Derivation, seed: int) -> None:
        self.derivation = derivation
        net = self.net = derivation.network
        drawn = random_point(net, batch=1, seed=seed)
        self.leaf: dict[Expr, sympy.Symbol] = {}
        self.point: dict[sympy.Symbol, Expr] = {}
        self.parameters: list[Expr] = []
        for number, layer in enumerate(net.layers, start=1):
            if layer.kind in NORM_KINDS:  # γ_j, β_j, j from 1
                for name, cls in (("beta", Shift), ("gamma", Gain)):
                    for m, value in enumerate(drawn.params[f"{name}{number}"], start=1):
                        self._add(cls(number, m), float(value), True)
                continue
            if not layer.has_parameters:
                continue
            base = 1 if layer.kind == "dense" else 0
            weights, biases = drawn.params[f"W{number}"], drawn.params[f"b{number}"]
            for index in np.ndindex(biases.shape):
                self._add(Bias(number, *(x + base for x in index)), float(biases[index]), True)
            for index in np.ndindex(weights.shape):
                self._add(Weight(number, *(x + base for x in index)), float(weights[index]), True)
        shape = net.input_shape
        for m in range(net.inputs):
            key = Act(0, *np.unravel_index(m, shape)) if shape else Act(0, m + 1)
            self._add(key, drawn.X[0, m], False)
        for m in range(net.sizes[-1]):
            self._add(Target(m + 1), drawn.Y[0, m], False)
        self.values: dict[Expr, Expr] = {}
        self.numbers: dict[Expr, Expr] = {}
        for ld, layer in zip(derivation.layers, net.layers, strict=True):
            for kind in ("mean", "var", "xhat", "pre", "act"):
                eq = ld.equation("index", kind)
                if eq is None:
                    continue
                final = self._with_eps(eq.final, ld.number)
                for units in _units(layer):
                    self.values[eq.lhs.xreplace(units)] = self._written(final.xreplace(units))
        top = derivation.layers[-1].require("index", "loss")
        self.loss = self._written(top.final)

    def _with_eps(self, expr: Expr, number: int) -> Expr:
        """ε of layer `number` as its number (a normalisation layer's; others have none)."""
        norm = self.net.layers[number - 1].norm
        return expr if norm is None else expr.xreplace({EPS: norm.eps})

    def _add(self, key: Expr, value: float, parameter: bool) -> None:
        symbol = sympy.Symbol(f"x{len(self.leaf)}", real=True)
        self.leaf[key] = symbol
        self.point[symbol] = sympy.Float(float(value), DIGITS)
        if parameter:
            self.parameters.append(key)

    def _expanded(self, expr: Expr) -> Expr:
        """Widths as numbers, sums written out, the notation's products as SymPy's."""
        widths = {Width(Integer(m)): Integer(s) for m, s in enumerate(self.net.sizes)}
        expr = expr.xreplace(widths)
        expr = expr.replace(lambda e: isinstance(e, Sum), lambda e: e.doit())
        expr = expr.replace(lambda e: isinstance(e, WindowMax), _window_max)
        expr = expr.replace(lambda e: isinstance(e, Affine | Terms), lambda e: sympy.Add(*e.args))
        return expr.replace(lambda e: isinstance(e, Chain), lambda e: sympy.Mul(*e.args))

    def _written(self, expr: Expr) -> Expr:
        """An expression in the leaves: every a and z by its own expression, an input outside
        the maps (the padding) as 0."""
        return self._expanded(expr).replace(
            lambda e: isinstance(e, _QUANTITIES),
            self._lookup,
        )

    def _lookup(self, quantity: Expr) -> Expr:
        if quantity in self.leaf:
            return self.leaf[quantity]
        if quantity in self.values:
            return self.values[quantity]
        if isinstance(quantity, Act):  # outside the maps: the zero padding
            return sympy.S.Zero
        raise KeyError(f"no value for {text(quantity)}")

    # ------------------------------------------------------------ the layered side

    def gradient(self, parameter: Expr) -> Expr:
        """The layer's index-form ∂E/∂w or ∂E/∂b at one parameter, in the leaves."""
        number = int(parameter.args[0])
        kind = _GRADIENT_KINDS[type(parameter)]
        eq = self.derivation.layers[number - 1].require("index", kind)  # type: ignore[arg-type]
        return self._resolved(_at(eq, parameter))

    def _resolved(self, expr: Expr) -> Expr:
        expr = self._expanded(expr)
        expr = expr.replace(lambda e: isinstance(e, Partial) and e.args[0] == E, self._partial)
        expr = expr.replace(lambda e: isinstance(e, IsArgmax), self._argmax)
        expr = expr.replace(lambda e: isinstance(e, InWindow), _in_window)
        return self._written(expr)

    def _partial(self, partial: Partial) -> Expr:
        """∂E/∂z or ∂E/∂a of one unit, by the equation that states it; 0 for an index outside
        the layer (or not a whole number: no kernel entry meets it)."""
        quantity = partial.args[1]
        if quantity in self.numbers:
            return self.numbers[quantity]
        if not all(x.is_Integer for x in quantity.args) or quantity not in self.values:
            return sympy.S.Zero
        number = int(quantity.args[0])
        layers = self.derivation.layers
        if isinstance(quantity, Pre) and layers[number - 1].equation("index", "delta") is None:
            # a dense layer's δ: ∂a/∂z · ∂E/∂a (its equations name no δ of its own)
            slope = layers[number - 1].require("index", "sigma_prime")
            unit = Act(number, *quantity.args[1:])
            value = self._resolved(_at(slope, unit) * Partial(E, unit))
            self.numbers[quantity] = value
            return value
        if isinstance(quantity, Pre):
            eq = layers[number - 1].require("index", "delta")
        elif isinstance(quantity, Normalized):
            eq = layers[number - 1].require("index", "dE_dxhat")
        elif number == len(layers):
            eq = layers[-1].require("index", "dE_da_out")
        else:
            eq = layers[number].require("index", "dE_da_prev")
        value = self._resolved(self._with_eps(_at(eq, quantity), int(eq.layer)))
        self.numbers[quantity] = value
        return value

    def _argmax(self, indicator: IsArgmax) -> Expr:
        """1 where (p, q) is the first maximum of window (i, j) at the random point, else 0."""
        layer, channel, row, col, p, q = (int(x) for x in indicator.args)
        grid = self.net.layers[layer - 1].grid
        assert grid is not None
        (sh, sw), (kh, kw) = grid.stride, grid.kernel
        positions = [(sh * row + u, sw * col + v) for u in range(kh) for v in range(kw)]
        at = [self._written(Act(layer - 1, channel, *pq)).xreplace(self.point) for pq in positions]
        first = max(range(len(at)), key=lambda m: (at[m], -m))
        return sympy.S.One if positions[first] == (p, q) else sympy.S.Zero


def _at(eq: Equation, quantity: Expr) -> Expr:
    """An equation's last step at the indices of `quantity`, matched against its left side's
    ∂E/∂x (the symbols there take the quantity's numbers)."""
    target = eq.lhs.args[1] if isinstance(eq.lhs, Partial) else eq.lhs
    names = dict(zip(target.args[1:], quantity.args[1:], strict=True))
    return eq.final.xreplace(names)


def _window_max(expr: WindowMax) -> Expr:
    body, *limits = expr.args
    ranges = [range(int(low), int(high) + 1) for _, low, high in limits]
    symbols = [index for index, _, _ in limits]
    return sympy.Max(
        *(
            body.xreplace(dict(zip(symbols, map(Integer, at), strict=True)))
            for at in itertools.product(*ranges)
        )
    )


def _in_window(expr: InWindow) -> Expr:
    p, q, row, col, stride, window = expr.args
    (sh, sw), (kh, kw) = (tuple(int(x) for x in t.args) for t in (stride, window))
    inside = (
        sh * int(row) <= int(p) < sh * int(row) + kh
        and sw * int(col) <= int(q) < sw * int(col) + kw
    )
    return sympy.S.One if inside else sympy.S.Zero


def self_check(derivation: Derivation, seed: int = 0) -> list[CheckResult]:
    """Compare the index-form ∂E/∂w and ∂E/∂b of every parameter with direct differentiation of
    E written out, at one random point (sampling.random_point)."""
    check_small(derivation.network)
    instance = _Instance(derivation, seed)
    results = []
    for parameter in instance.parameters:
        symbol = instance.leaf[parameter]
        mine = instance.gradient(parameter).xreplace(instance.point).evalf(DIGITS)
        others = {s: v for s, v in instance.point.items() if s != symbol}
        at_point = sympy.diff(instance.loss.xreplace(others), symbol).subs(
            symbol, instance.point[symbol]
        )
        direct = at_point.evalf(DIGITS)
        ok = abs(mine - direct) <= RELATIVE_TOLERANCE * (1 + abs(direct))
        results.append(CheckResult(text(Partial(E, parameter)), float(mine), float(direct), ok))
    return results
