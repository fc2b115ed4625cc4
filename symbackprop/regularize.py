"""Regularisation in the derivation: E gains R = Σ λ w² + λ₁ |w| (over the biases too where the
spec asks), and ∂E/∂w (∂E/∂b) gains ∂R/∂w (∂R/∂b) in every view and the general rules; the
strengths as symbols (λ, λ^(l)) and as numbers."""

from __future__ import annotations

import dataclasses

import sympy
from sympy import Expr, Integer, Sum

from .ir import Equation, LayerDerivation, View
from .layers import dense
from .notation import Affine, Bias, Decay, Weight, Width, j, k
from .spec import Network, Regularization


def strengths(network: Network, layer: int | Expr) -> tuple[Expr, Expr]:
    """(λ₁, λ) of `layer` as the equations write them: Decay(1), Decay(2) when every layer has
    the same strength, else Decay(order, layer); 0 for an order no layer uses."""
    found = [network.penalty(n) for n in range(1, network.depth + 1)]
    picked: list[Expr] = []
    for order, key in ((1, "l1"), (2, "l2")):
        values = {getattr(r, key) for r in found}
        if values == {0}:
            picked.append(Integer(0))
        elif len(values) == 1:
            picked.append(Decay(order))
        else:
            picked.append(Decay(order, layer))
    return picked[0], picked[1]


def strength_values(network: Network) -> dict[Expr, Expr]:
    """Each Decay symbol the equations of `network` use, and its number."""
    table: dict[Expr, Expr] = {}
    for number in range(1, network.depth + 1):
        reg: Regularization = network.penalty(number)
        l1, l2 = strengths(network, number)
        for symbol, value in ((l1, reg.l1), (l2, reg.l2)):
            if isinstance(symbol, Decay):
                table[symbol] = value
    return table


def penalizes_biases(network: Network, number: int | None) -> bool:
    """Whether layer `number`'s biases carry the penalty; None: every layer's (a general rule)."""
    numbers = range(1, network.depth + 1) if number is None else (number,)
    return all(network.penalty(n).biases and bool(network.penalty(n)) for n in numbers)


def _penalized(network: Network, eq: Equation, layer: Expr, number: int | None) -> Equation:
    """`eq` (a dE_dw or dE_db equation) with ∂R/∂w (∂R/∂b) added to every step; `number`
    the concrete layer, whose strengths of 0 drop out, or None for a general rule."""
    if eq.kind == "dE_db" and not penalizes_biases(network, number):
        return eq
    l1, l2 = strengths(network, layer)
    if number is not None:
        reg = network.penalty(number)
        l1, l2 = (l1 if reg.l1 else Integer(0)), (l2 if reg.l2 else Integer(0))
    parameter = eq.lhs.args[1]  # ∂E/∂w: the weight (or bias) it differentiates by
    term = dense.penalty_partial(parameter, l1, l2)
    if term == 0:
        return eq
    return Equation(eq.view, eq.kind, eq.layer, eq.lhs, tuple(Affine(r, term) for r in eq.rhs))


def _penalty_sum(network: Network, chain: bool) -> Expr:
    """R = Σ_l Σ_j Σ_k (λ (w_jk^(l))² + λ₁ |w_jk^(l)|), plus Σ_l Σ_j of the same in b_j^(l)
    where the biases are penalised, in index form or, for the one-neuron chain, without
    indices."""
    terms = []
    for number in range(1, network.depth + 1):
        reg = network.penalty(number)
        l1, l2 = strengths(network, number)
        l1, l2 = (l1 if reg.l1 else Integer(0)), (l2 if reg.l2 else Integer(0))
        biases = penalizes_biases(network, number)
        if chain:
            terms.append(dense.penalty(Weight(number), l1, l2))
            if biases:
                terms.append(dense.penalty(Bias(number), l1, l2))
            continue
        limits = ((k, 1, Width(number - 1)), (j, 1, Width(number)))
        terms.append(Sum(Sum(dense.penalty(Weight(number, j, k), l1, l2), limits[0]), limits[1]))
        if biases:
            terms.append(Sum(dense.penalty(Bias(number, j), l1, l2), limits[1]))
    return sympy.Add(*terms)


def regularized(
    network: Network,
    layers: list[LayerDerivation],
    general: dict[View, tuple[Equation, ...]],
) -> tuple[list[LayerDerivation], dict[View, tuple[Equation, ...]]]:
    """The equations of a regularised network: E gains R, and ∂E/∂w gains ∂R/∂w in every view,
    general rules included (∂E/∂b likewise where the biases are penalised); δ and ∂E/∂a do not
    change: R depends on no z or a."""
    kinds = ("dE_dw", "dE_db")
    values = strength_values(network)

    def layer_eqs(eqs: tuple[Equation, ...], number: int) -> tuple[Equation, ...]:
        out = []
        for eq in eqs:
            if eq.kind in kinds:
                eq = _penalized(network, eq, Integer(number), number)
            elif eq.kind == "loss":
                extra = _penalty_sum(network, chain=eq.view == "chain")
                first = Affine(eq.rhs[-1], extra)  # printed in this order: loss + R
                numbers = first.xreplace(values)
                steps = (first, numbers) if numbers != first else (first,)
                eq = Equation(eq.view, eq.kind, eq.layer, eq.lhs, steps)
            out.append(eq)
        return tuple(out)

    new_layers = [
        dataclasses.replace(
            ld,
            chain=layer_eqs(ld.chain, ld.number),
            index=layer_eqs(ld.index, ld.number),
            vector=layer_eqs(ld.vector, ld.number),
        )
        for ld in layers
    ]
    new_general = {
        view: tuple(
            _penalized(network, eq, eq.layer, None) if eq.kind in kinds else eq for eq in eqs
        )
        for view, eqs in general.items()
    }
    return new_layers, new_general
