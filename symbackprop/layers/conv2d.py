"""The convolution layers: z_{c',i,j} = Σ_c Σ_u Σ_v w_{c',c,u,v} a_{c, s i+u-P, s j+v-P} + b_{c'}
(conv2d; conv1d has one spatial axis: z_{c',i} = Σ_c Σ_u w_{c',c,u} a_{c, s i+u-P} + b_{c'}),
then a = σ(z), at symbolic layer l; positions and channels counted from 0, as the textbooks
write convolutions, and a^(l-1) read as 0 outside its maps (the padding P).

Its forward equations, local partials (checked against SymPy's differentiation of the forward
expression in `derived_local_partials`) and backward equations sit side by side, as for the
dense layer; the kind is bound to one layer's window and shapes (`bind`), since its sums run
over them.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Expr, Integer, Sum, Tuple

from ..ir import ActivationRule, Equation, LayerDerivation, LossRule, View
from ..library import A, Z
from ..lower.statements import Assign, BatchSum, GradientName, Statement
from ..notation import (
    Act,
    Affine,
    Bias,
    Chain,
    Correlate,
    Delta,
    E,
    Elementwise,
    Hadamard,
    InputGradient,
    KernelGradient,
    MapSum,
    Partial,
    PerChannel,
    Pre,
    Sigma,
    SigmaPrime,
    Weight,
    WeightMatrix,
    l_sym,
)
from ..rewrite import stable
from ..spec import Layer

#: Indices of feature maps, from 0: channels c (input) and c' (output), kernel offsets u, v,
#: output positions i, j, input positions p, q.
c, cp, u, v, i, j, p, q = (
    sympy.Symbol(name, integer=True, nonnegative=True)
    for name in ("c", "c'", "u", "v", "i", "j", "p", "q")
)


def integers(values: tuple[int, ...]) -> Tuple:
    """A window's sizes, stride or padding as the Tuple of Integers an operator node holds."""
    return Tuple(*(Integer(x) for x in values))


@dataclass(frozen=True)
class Conv2d:
    """A convolution layer's kind, bound to its window and shapes: (C, H, W) in, (F, OH, OW)
    out for conv2d; (C, W) in, (F, OW) out for conv1d (one spatial axis)."""

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    shape_in: tuple[int, ...]
    shape_out: tuple[int, ...]

    @property
    def _dims(self) -> int:
        return len(self.kernel)

    @property
    def _positions(self) -> tuple[sympy.Symbol, ...]:
        """The output positions i, j (i alone in 1-D)."""
        return (i, j)[: self._dims]

    @property
    def _offsets(self) -> tuple[sympy.Symbol, ...]:
        """The kernel offsets u, v (u alone in 1-D)."""
        return (u, v)[: self._dims]

    # ------------------------------------------------------------ forward

    def _input_at(self, layer: Expr) -> Expr:
        """a^(l-1)_{c, s_h i + u - P_h, s_w j + v - P_w}: the input a kernel entry meets."""
        at = zip(self.stride, self._positions, self._offsets, self.padding, strict=True)
        return Act(layer - 1, c, *(s * x + off - pad for s, x, off, pad in at))

    def _limits(self) -> tuple[tuple[Expr, int, int], ...]:
        """Σ_c Σ_u Σ_v, the outermost first (SymPy's last limit)."""
        ranges = (
            (c, 0, self.shape_in[0] - 1),
            *((o, 0, k - 1) for o, k in zip(self._offsets, self.kernel, strict=True)),
        )
        return tuple(reversed(ranges))

    def _over_maps(self) -> tuple[tuple[Expr, int, int], ...]:
        """Σ_i Σ_j over the output positions, the outermost first."""
        return tuple(
            reversed(
                [(x, 0, n - 1) for x, n in zip(self._positions, self.shape_out[1:], strict=True)]
            )
        )

    def weighted_input(self) -> Expr:
        """z_{c',i,j}^(l) = Σ_c Σ_u Σ_v w_{c',c,u,v}^(l) a_{c,s i+u-P,s j+v-P}^(l-1)
        + b_{c'}^(l)."""
        product = Chain(Weight(l_sym, cp, c, *self._offsets), self._input_at(l_sym))
        return Affine(Sum(product, *self._limits()), Bias(l_sym, cp))

    def forward(self, view: View, rule: ActivationRule) -> tuple[Equation, ...]:
        """The layer's weighted input, then its output, at symbolic layer l."""
        assert rule.activation.expr is not None
        if view == "vector":
            z, a = Pre(l_sym), Act(l_sym)
            window = (integers(self.stride), integers(self.padding))
            bias = PerChannel(Bias(l_sym), Integer(self._dims))
            pre = Affine(Correlate(WeightMatrix(l_sym), Act(l_sym - 1), *window), bias)
            out = (Sigma(z), Elementwise(rule.activation.expr.xreplace({Z: z})))
            return (Equation(view, "pre", l_sym, z, (pre,)), Equation(view, "act", l_sym, a, out))
        z_, a_ = Pre(l_sym, cp, *self._positions), Act(l_sym, cp, *self._positions)
        out = (Sigma(z_), rule.activation.expr.xreplace({Z: z_}))
        return (
            Equation(view, "pre", l_sym, z_, (self.weighted_input(),)),
            Equation(view, "act", l_sym, a_, out),
        )

    def local_partials(self) -> dict[str, Expr]:
        """dz_{c',i,j}/dw_{c',c,u,v}, dz_{c',i,j}/db_{c'}; dz/da of the input is a sum over the
        kernel entries that meet it (the backward equation of a^(l-1) states it)."""
        return {"w": self._input_at(l_sym), "b": sympy.S.One}

    def derived_local_partials(self, channel: int, *offsets: int) -> dict[str, Expr]:
        """dz_{c',i,j}/dw_{c',channel,u,v} (u, v the given `offsets`) and dz/db_{c'} of
        `weighted_input`, the sums written out and differentiated by SymPy (the tests compare
        them with `local_partials`)."""
        z = self.weighted_input().doit()
        weight = Weight(l_sym, cp, Integer(channel), *(Integer(x) for x in offsets))
        return {"w": sympy.diff(z, weight), "b": sympy.diff(z, Bias(l_sym, cp))}

    # ------------------------------------------------------------ backward

    def upstream_vector(self, layer: Expr) -> Expr:
        """∂E/∂a^(l-1) as this layer hands it down: δ^(l) ⋆full rot180(W^(l))."""
        settings = (integers(self.shape_in[1:]), integers(self.stride), integers(self.padding))
        return InputGradient(Delta(layer), WeightMatrix(layer), *settings)

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
        if view == "vector":
            return self._vector(rule, upstream)
        if view == "chain":
            return ()
        return self._index(rule, has_prev)

    def _index(self, rule: ActivationRule, has_prev: bool) -> tuple[Equation, ...]:
        out_channels = self.shape_out[0]
        z_, a_ = Pre(l_sym, cp, *self._positions), Act(l_sym, cp, *self._positions)
        dE_dz, dE_da = Partial(E, z_), Partial(E, a_)
        positions = self._over_maps()
        assert rule.derivative is not None
        sigma = rule.derivative.xreplace({A: a_, Z: z_})
        eqs = [
            Equation("index", "sigma_prime", l_sym, Partial(a_, z_), (SigmaPrime(z_), sigma)),
            Equation(
                "index",
                "delta",
                l_sym,
                dE_dz,
                (Chain(dE_da, Partial(a_, z_)), Chain(dE_da, sigma), sigma * dE_da),
            ),
        ]
        weight, bias = Weight(l_sym, cp, c, *self._offsets), Bias(l_sym, cp)
        local = self.local_partials()
        for kind, wrt in (("dE_dw", weight), ("dE_db", bias)):
            steps = (
                Sum(Chain(dE_dz, Partial(z_, wrt)), *positions),
                Sum(dE_dz * local[kind[-1]], *positions),
            )
            eqs.append(Equation("index", kind, l_sym, Partial(E, wrt), steps))  # type: ignore[arg-type]
        if has_prev:
            inputs = (p, q)[: self._dims]
            a_in = Act(l_sym - 1, c, *inputs)
            generic = Sum(Chain(dE_dz, Partial(z_, a_in)), *positions, (cp, 0, out_channels - 1))
            at = zip(inputs, self.padding, self._offsets, self.stride, strict=True)
            met = Partial(E, Pre(l_sym, cp, *((x + pad - off) / s for x, pad, off, s in at)))
            kernel = zip(self._offsets, self.kernel, strict=True)
            limits = (*reversed([(off, 0, k - 1) for off, k in kernel]), (cp, 0, out_channels - 1))
            concrete = Sum(Chain(Weight(l_sym, cp, c, *self._offsets), met), *limits)
            eqs.append(
                Equation("index", "dE_da_prev", l_sym, Partial(E, a_in), (generic, concrete))
            )
        return tuple(eqs)

    def _vector(self, rule: ActivationRule, upstream: Expr) -> tuple[Equation, ...]:
        assert rule.derivative is not None
        z, a_prev, delta = Pre(l_sym), Act(l_sym - 1), Delta(l_sym)
        concrete = rule.derivative.xreplace({A: Act(l_sym), Z: z})
        rhs = [Partial(E, z), Hadamard(upstream, SigmaPrime(z))]
        rhs.append(upstream if concrete == 1 else Hadamard(upstream, Elementwise(concrete)))
        window = (integers(self.kernel), integers(self.stride), integers(self.padding))
        return (
            Equation("vector", "delta", l_sym, delta, tuple(rhs)),
            Equation(
                "vector",
                "dE_dw",
                l_sym,
                Partial(E, WeightMatrix(l_sym)),
                (KernelGradient(a_prev, delta, *window),),
            ),
            Equation(
                "vector",
                "dE_db",
                l_sym,
                Partial(E, Bias(l_sym)),
                (MapSum(delta, Integer(self._dims)),),
            ),
        )

    # ------------------------------------------------------------ lowering

    def lower_forward(self, ld: LayerDerivation) -> list[Statement]:
        """z^(l) = W^(l) ⋆ a^(l-1) + b^(l), then a^(l) = σ(z^(l)), each in its stable form."""
        return [
            Assign(eq.lhs, stable(eq.final), eq)
            for eq in (ld.require("vector", "pre"), ld.require("vector", "act"))
        ]

    def lower_backward(
        self, ld: LayerDerivation, is_output: bool, values: dict[Expr, Expr]
    ) -> list[Statement]:
        """δ^(l), ∂E/∂W^(l) (a correlation over the batch) and ∂E/∂b^(l) (the sum of δ over
        every position and sample)."""
        number = ld.number
        delta, dW, db = (ld.require("vector", kind) for kind in ("delta", "dE_dw", "dE_db"))
        return [
            Assign(Delta(number), stable(delta.final), delta),
            Assign(GradientName(number, sympy.Symbol("W")), dW.final, dW),
            BatchSum(GradientName(number, sympy.Symbol("b")), db.final, db),
        ]


def bind(layer: Layer) -> Conv2d:
    """The kind of one conv2d layer of a network (its window and shapes set)."""
    assert layer.grid is not None
    grid = layer.grid
    return Conv2d(grid.kernel, grid.stride, grid.padding, layer.shape_in, layer.shape_out)
