"""Normalisation layers: layer norm (over the units of one sample) and batch norm (each unit over
the samples of a batch), then a learnt scale and shift and an activation, at symbolic layer l:

    μ = mean of a^(l-1),  (σ)² = its variance,  x̂ = (a^(l-1) − μ) / √(σ² + ε),
    z_j^(l) = γ_j^(l) x̂_j^(l) + β_j^(l),  a^(l) = σ(z^(l)).

The backward equations go through the computational graph step by step (∂E/∂x̂, then ∂E/∂σ²
through every x̂, ∂E/∂μ through every x̂ and σ², then ∂E/∂a^(l-1) by its three paths) and end
in the compact form of the slides. Batch norm couples the samples of a batch: its E is the
batch's mean loss, its quantities carry the sample s, and its parameter gradients sum over s.
The local partials are carried (`local_partials`) and a test differentiates the forward
expressions with SymPy to check them (`derived_local_partials`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy
from sympy import Expr, Rational, Sum

from ..ir import ActivationRule, Equation, LayerDerivation, LossRule, View
from ..library import A, Z
from ..lower.statements import Assign, BatchSum, GradientName, Statement
from ..notation import (
    EPS,
    Act,
    Affine,
    Average,
    Chain,
    Delta,
    E,
    Elementwise,
    Gain,
    Hadamard,
    Mean,
    Normalized,
    Partial,
    Pre,
    Running,
    Shift,
    Sigma,
    SigmaPrime,
    Terms,
    Total,
    Variance,
    Width,
    j,
    k,
    l_sym,
    n_batch,
    r_sym,
    s_sym,
)
from ..rewrite import stable
from ..spec import Layer
from .unweighted import named_upstream

#: PyTorch's default momentum of batch norm's running statistics.
_MOMENTUM = Rational(1, 10)


@dataclass(frozen=True)
class Normalisation:
    """A normalisation layer's kind: `over` "units" (layer norm) or "batch" (batch norm), its ε
    (and batch norm's momentum, used by the generated module's running statistics)."""

    over: str
    eps: Rational
    momentum: Rational = _MOMENTUM

    @property
    def batch(self) -> bool:
        return self.over == "batch"

    # ------------------------------------------------------------ indices

    def _at(self, x: Expr) -> tuple[Expr, ...]:
        """The indices of entry x of a^(l-1) or x̂^(l): unit x of the sample (layer norm), or
        sample x of unit j (batch norm)."""
        return (x, j) if self.batch else (x,)

    @property
    def _stat(self) -> tuple[Expr, ...]:
        """The indices of μ and σ²: none (one per sample), or unit j's (batch norm)."""
        return (j,) if self.batch else ()

    @property
    def _count(self) -> Expr:
        """The number of values averaged: n^(l-1) units, or the batch's n samples."""
        return n_batch if self.batch else Width(l_sym - 1)

    @property
    def _axis(self) -> Expr:
        """The index the vectorised form sums over: k (the units) or s (the samples)."""
        return s_sym if self.batch else k

    def _over(self, x: Expr) -> tuple[Expr, Expr, Expr]:
        """Sum limits for index x over the averaged axis."""
        return (x, 1, self._count)

    def _std(self, indices: tuple[Expr, ...] = ()) -> Expr:
        """√((σ^(l))² + ε)."""
        return sympy.sqrt(Terms(Variance(l_sym, *indices), EPS))

    # ------------------------------------------------------------ forward

    def _forward_index(self, rule: ActivationRule) -> tuple[Equation, ...]:
        here, other = (s_sym, r_sym) if self.batch else (j, k)
        mu, var = Mean(l_sym, *self._stat), Variance(l_sym, *self._stat)
        a_other = Act(l_sym - 1, *self._at(other))
        xhat = Normalized(l_sym, *self._at(here))
        z, a = Pre(l_sym, *self._at(here)), Act(l_sym, *self._at(here))
        share = 1 / self._count
        assert rule.activation.expr is not None
        return (
            Equation("index", "mean", l_sym, mu, (share * Sum(a_other, self._over(other)),)),
            Equation(
                "index", "var", l_sym, var, (share * Sum((a_other - mu) ** 2, self._over(other)),)
            ),
            Equation(
                "index",
                "xhat",
                l_sym,
                xhat,
                ((Act(l_sym - 1, *self._at(here)) - mu) / self._std(self._stat),),
            ),
            Equation("index", "pre", l_sym, z, (Affine(Gain(l_sym, j) * xhat, Shift(l_sym, j)),)),
            Equation("index", "act", l_sym, a, (Sigma(z), rule.activation.expr.xreplace({Z: z}))),
        )

    def _forward_vector(self, rule: ActivationRule) -> tuple[Equation, ...]:
        a_prev, mu, var = Act(l_sym - 1), Mean(l_sym), Variance(l_sym)
        z, a = Pre(l_sym), Act(l_sym)
        assert rule.activation.expr is not None
        return (
            Equation("vector", "mean", l_sym, mu, (Average(a_prev, self._axis, self._count),)),
            Equation(
                "vector",
                "var",
                l_sym,
                var,
                (Average((a_prev - mu) ** 2, self._axis, self._count),),
            ),
            Equation("vector", "xhat", l_sym, Normalized(l_sym), ((a_prev - mu) / self._std(),)),
            Equation(
                "vector",
                "pre",
                l_sym,
                z,
                (Affine(Hadamard(Gain(l_sym), Normalized(l_sym)), Shift(l_sym)),),
            ),
            Equation(
                "vector",
                "act",
                l_sym,
                a,
                (Sigma(z), Elementwise(rule.activation.expr.xreplace({Z: z}))),
            ),
        )

    def forward(self, view: View, rule: ActivationRule) -> tuple[Equation, ...]:
        """μ, σ², x̂, then z = γ ⊙ x̂ + β and a = σ(z), at symbolic layer l."""
        return self._forward_vector(rule) if view == "vector" else self._forward_index(rule)

    def local_partials(self) -> dict[str, Expr]:
        """The local partials of the layer's graph, at entry x = s (batch norm) or k (layer
        norm) of a^(l-1), its x̂ and the sums' entry r or j: see `derived_local_partials`."""
        return _local_partials(self)

    # ------------------------------------------------------------ backward

    def upstream_vector(self, layer: Expr) -> Expr:
        """∂E/∂a^(l-1), which this layer computes and names."""
        return named_upstream(layer)

    def equations(
        self,
        view: View,
        rule: ActivationRule | None,
        loss: LossRule | None,
        has_prev: bool,
        is_output: bool,
        upstream: Expr,
    ) -> tuple[Equation, ...]:
        """The backward equations at symbolic layer l (never the output: that is dense)."""
        assert rule is not None and rule.derivative is not None and not is_output
        if view == "chain":
            return ()
        if view == "vector":
            return self._vector(rule, has_prev, upstream)
        return self._index(rule, has_prev)

    def _index(self, rule: ActivationRule, has_prev: bool) -> tuple[Equation, ...]:
        # The entry an equation is about (x), and the index its sums run over (y).
        x, y = (s_sym, r_sym) if self.batch else (k, j)
        unit = self._at(j if not self.batch else s_sym)  # unit j (of sample s)
        z, a, xhat = Pre(l_sym, *unit), Act(l_sym, *unit), Normalized(l_sym, *unit)
        gamma, beta = Gain(l_sym, j), Shift(l_sym, j)
        mu, var = Mean(l_sym, *self._stat), Variance(l_sym, *self._stat)
        dE_dz, dE_da, dE_dxhat = Partial(E, z), Partial(E, a), Partial(E, xhat)
        assert rule.derivative is not None
        sigma = rule.derivative.xreplace({A: a, Z: z})
        local = self.local_partials()

        def batch_sum(term: Expr) -> Expr:
            return Sum(term, self._over(s_sym)) if self.batch else term

        eqs = [
            Equation("index", "sigma_prime", l_sym, Partial(a, z), (SigmaPrime(z), sigma)),
            Equation(
                "index",
                "delta",
                l_sym,
                dE_dz,
                (Chain(dE_da, Partial(a, z)), Chain(dE_da, sigma), sigma * dE_da),
            ),
        ]
        for kind, wrt, part in (("dE_dgamma", gamma, "gamma"), ("dE_dbeta", beta, "beta")):
            both = (batch_sum(Chain(dE_dz, Partial(z, wrt))), batch_sum(dE_dz * local[part]))
            eqs.append(Equation("index", kind, l_sym, Partial(E, wrt), both))  # type: ignore[arg-type]
        eqs.append(
            Equation(
                "index",
                "dE_dxhat",
                l_sym,
                dE_dxhat,
                (Chain(dE_dz, Partial(z, xhat)), local["xhat"] * dE_dz),
            )
        )
        if not has_prev:
            return tuple(eqs)
        # The sums of ∂E/∂σ² and ∂E/∂μ run over every x̂ that the statistic feeds.
        at_y = {s_sym: y} if self.batch else {j: y}
        xhat_y = xhat.xreplace(at_y)
        dE_dxhat_y = Partial(E, xhat_y)
        over_y = self._over(y)
        dE_dvar, dE_dmu = Partial(E, var), Partial(E, mu)
        eqs.append(
            Equation(
                "index",
                "dE_dvar",
                l_sym,
                dE_dvar,
                (
                    Sum(Chain(dE_dxhat_y, Partial(xhat_y, var)), over_y),
                    Sum(Chain(dE_dxhat_y, local["xhat_var"].xreplace(at_y)), over_y),
                    -Sum(dE_dxhat_y * (Act(l_sym - 1, *self._at(y)) - mu), over_y)
                    / (2 * self._std(self._stat) ** 3),
                ),
            )
        )
        eqs.append(
            Equation(
                "index",
                "dE_dmean",
                l_sym,
                dE_dmu,
                (
                    Affine(
                        Sum(Chain(dE_dxhat_y, Partial(xhat_y, mu)), over_y),
                        Chain(dE_dvar, Partial(var, mu)),
                    ),
                    Affine(
                        Sum(Chain(dE_dxhat_y, local["xhat_mean"]), over_y),
                        Chain(dE_dvar, local["var_mean"]),
                    ),
                    local["xhat_mean"] * Sum(dE_dxhat_y, over_y),
                ),
            )
        )
        a_x = Act(l_sym - 1, *self._at(x))
        xhat_x = Normalized(l_sym, *self._at(x))
        dE_dxhat_x = Partial(E, xhat_x)
        paths = (
            Chain(dE_dxhat_x, Partial(xhat_x, a_x)),
            Chain(dE_dvar, Partial(var, a_x)),
            Chain(dE_dmu, Partial(mu, a_x)),
        )
        concrete = (
            Chain(dE_dxhat_x, local["xhat_a"]),
            Chain(dE_dvar, local["var_a"]),
            Chain(dE_dmu, local["mean_a"]),
        )
        count = self._count
        compact = (
            1
            / (count * self._std(self._stat))
            * Terms(
                count * dE_dxhat_x,
                -Sum(dE_dxhat_y, over_y),
                -xhat_x * Sum(dE_dxhat_y * xhat_y, over_y),
            )
        )
        steps: list[Expr] = [Terms(*paths), Terms(*concrete), compact]  # the three paths
        if self.batch:  # γ_j is the same for every sample: out of the sums, with δ
            d_x, d_y = Partial(E, Pre(l_sym, *self._at(x))), Partial(E, Pre(l_sym, *self._at(y)))
            steps.append(
                Gain(l_sym, j)
                / (count * self._std(self._stat))
                * Terms(count * d_x, -Sum(d_y, over_y), -xhat_x * Sum(d_y * xhat_y, over_y))
            )
        eqs.append(Equation("index", "dE_da_prev", l_sym, Partial(E, a_x), tuple(steps)))
        return tuple(eqs)

    def _vector(self, rule: ActivationRule, has_prev: bool, upstream: Expr) -> tuple[Equation, ...]:
        z, xhat, delta = Pre(l_sym), Normalized(l_sym), Delta(l_sym)
        assert rule.derivative is not None
        concrete = rule.derivative.xreplace({A: Act(l_sym), Z: z})
        rhs = [Partial(E, z), Hadamard(upstream, SigmaPrime(z))]
        rhs.append(upstream if concrete == 1 else Hadamard(upstream, Elementwise(concrete)))
        per_sample = Hadamard(delta, xhat)
        summed = (
            (Total(per_sample, s_sym), Total(delta, s_sym)) if self.batch else (per_sample, delta)
        )
        eqs = [
            Equation("vector", "delta", l_sym, delta, tuple(rhs)),
            Equation("vector", "dE_dgamma", l_sym, Partial(E, Gain(l_sym)), (summed[0],)),
            Equation("vector", "dE_dbeta", l_sym, Partial(E, Shift(l_sym)), (summed[1],)),
        ]
        if not self.batch:
            eqs.append(
                Equation(
                    "vector", "dE_dxhat", l_sym, Partial(E, xhat), (Hadamard(Gain(l_sym), delta),)
                )
            )
        if not has_prev:
            return tuple(eqs)
        axis, count = self._axis, self._count
        g = delta if self.batch else Partial(E, xhat)  # what the compact form centres
        compact = Terms(count * g, -Total(g, axis), -Hadamard(xhat, Total(g * xhat, axis)))
        centred = Terms(
            g, -Average(g, axis, count), -Hadamard(xhat, Average(g * xhat, axis, count))
        )
        scale = Gain(l_sym) if self.batch else sympy.S.One
        steps = (
            Hadamard(scale / (count * self._std()), compact)
            if self.batch
            else compact / (count * self._std()),
            Hadamard(scale, centred / self._std()) if self.batch else centred / self._std(),
        )
        lhs = Partial(E, Act(l_sym - 1))
        eqs.append(Equation("vector", "dE_da_prev", l_sym, lhs, steps))
        return tuple(eqs)

    # ------------------------------------------------------------ lowering

    def _values(self) -> dict[Expr, Expr]:
        return {EPS: sympy.Float(self.eps)}

    def lower_forward(self, ld: LayerDerivation) -> list[Statement]:
        """μ, σ², x̂, z and a, each a statement (ε as a number); batch norm's μ and σ² the
        running averages instead where the module is given them (inference)."""
        out: list[Statement] = []
        for role in ("mean", "var", "xhat", "pre", "act"):
            eq = ld.require("vector", role)
            value = stable(eq.final.xreplace(self._values()))
            if self.batch and role in ("mean", "var"):
                value = Running(
                    value, sympy.Symbol(f"{'mu' if role == 'mean' else 'var'}{ld.number}")
                )
            out.append(Assign(eq.lhs, value, eq))
        return out

    def lower_backward(
        self, ld: LayerDerivation, is_output: bool, values: dict[Expr, Expr]
    ) -> list[Statement]:
        """δ^(l), the batch sums of ∂E/∂γ and ∂E/∂β, then ∂E/∂x̂ (layer norm) and ∂E/∂a^(l-1)
        named for the layer below."""
        number = ld.number
        delta = ld.require("vector", "delta")
        out: list[Statement] = [Assign(Delta(number), stable(delta.final), delta)]
        for kind, name in (("dE_dgamma", "gamma"), ("dE_dbeta", "beta")):
            eq = ld.require("vector", kind)  # type: ignore[arg-type]
            rows = eq.final.args[0] if isinstance(eq.final, Total) else eq.final
            out.append(BatchSum(GradientName(number, sympy.Symbol(name)), rows, eq))
        xhat = ld.equation("vector", "dE_dxhat")
        if xhat is not None:
            out.append(Assign(Partial(E, Normalized(number)), xhat.final, xhat))
        handed = ld.equation("vector", "dE_da_prev")
        if handed is not None:
            out.append(Assign(handed.lhs, handed.final.xreplace(self._values()), handed))
        return out


@lru_cache(maxsize=8)
def _local_partials(kind: Normalisation) -> dict[str, Expr]:
    x, y = (s_sym, r_sym) if kind.batch else (k, j)
    stat = kind._stat
    mu = Mean(l_sym, *stat)
    here = kind._at(s_sym if kind.batch else j)
    std = kind._std(stat)
    count = kind._count
    return {
        "gamma": Normalized(l_sym, *here),  # ∂z/∂γ
        "beta": sympy.S.One,  # ∂z/∂β
        "xhat": Gain(l_sym, j),  # ∂z/∂x̂
        "xhat_var": -(Act(l_sym - 1, *here) - mu) / (2 * std**3),  # ∂x̂/∂σ² at the entry
        "xhat_mean": -1 / std,  # ∂x̂/∂μ
        "var_mean": -2 / count * Sum(Act(l_sym - 1, *kind._at(y)) - mu, kind._over(y)),
        "xhat_a": 1 / std,  # ∂x̂_x/∂a_x, μ and σ² held
        "var_a": 2 * (Act(l_sym - 1, *kind._at(x)) - mu) / count,
        "mean_a": 1 / count,
    }


def bind(layer: Layer) -> Normalisation:
    """The kind of one layernorm or batchnorm layer of a network."""
    assert layer.norm is not None
    over = "batch" if layer.kind == "batchnorm" else "units"
    return Normalisation(over, layer.norm.eps, layer.norm.momentum)
