"""The derivation data model: frozen dataclasses holding SymPy expressions, never strings.

One `Derivation` feeds every printer (LaTeX, text, NumPy code); nothing downstream re-derives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sympy import Expr

from .library import Activation, Loss
from .spec import Network

View = Literal["chain", "index", "vector"]
VIEWS: tuple[View, ...] = ("chain", "index", "vector")

#: What an equation states; `naming.TAGS` gives each its citation tag.
Kind = Literal[
    "loss",  # E written out
    "dE_da_out",  # dE/da^(L) from the loss
    "sigma_prime",  # da/dz = sigma'(z)
    "jacobian",  # softmax: da_i/dz_j
    "delta",  # dE/dz (delta) of the layer
    "dE_dw",
    "dE_db",
    "dE_da_prev",  # dE/da^(l-1), passed back to the layer below
]


@dataclass(frozen=True)
class Equation:
    """`lhs = rhs[0] = rhs[1] = ...`: the chain rule first, then local partials, then concrete."""

    view: View
    kind: Kind
    layer: Expr  # a number, or the symbols l / L in the general rules
    lhs: Expr
    rhs: tuple[Expr, ...]

    @property
    def final(self) -> Expr:
        """The most concrete right-hand side."""
        return self.rhs[-1]


@dataclass(frozen=True)
class ActivationRule:
    """An activation's derivative, found once per distinct activation.

    `derivative` is sigma' in the output ``a`` when SymPy found that form simpler
    (`uses_output`), otherwise in ``z``.  For softmax, `jacobian` is da_i/dz_j in a_i, a_j.
    """

    activation: Activation
    derivative_z: Expr | None
    derivative: Expr | None
    uses_output: bool
    heaviside_at_zero: bool  # a Heaviside step whose value at 0 was fixed to 0
    jacobian: Expr | None = None


@dataclass(frozen=True)
class LossRule:
    """dE/da per output unit; `output_delta` is dE/dz^(L)_j after the output activation."""

    loss: Loss
    dE_da: Expr
    output_delta: Expr
    fused: bool  # output_delta is simpler than the product of its factors (e.g. a - y)
    targets_sum_to_one: bool  # the simplification used sum_j y_j = 1


@dataclass(frozen=True)
class LayerDerivation:
    """The equations of one layer in the three views."""

    number: int
    units: int
    fan_in: int
    rule: ActivationRule
    chain: tuple[Equation, ...]
    index: tuple[Equation, ...]
    vector: tuple[Equation, ...]

    def view(self, name: View) -> tuple[Equation, ...]:
        return {"chain": self.chain, "index": self.index, "vector": self.vector}[name]

    def equation(self, view: View, kind: Kind) -> Equation | None:
        """The layer's equation of that kind in that view, if it has one."""
        return next((eq for eq in self.view(view) if eq.kind == kind), None)


@dataclass(frozen=True, repr=False)
class Derivation:
    """Everything derived from one network: rules, general equations, per-layer equations.

    Shown as text by print(), and as rendered maths in Jupyter."""

    network: Network
    rules: tuple[ActivationRule, ...]
    loss: LossRule
    general: dict[View, tuple[Equation, ...]]
    layers: tuple[LayerDerivation, ...]  # layer 1 first
    has_chain_view: bool  # the one-neuron chain does not apply to a softmax output

    def rule_for(self, layer: int) -> ActivationRule:
        return self.layers[layer - 1].rule

    def all_equations(self) -> list[Equation]:
        """Every equation, in document order: each view's general rules, then layers L..1."""
        out: list[Equation] = []
        for view in self.views:
            out.extend(self.general[view])
            for layer in reversed(self.layers):
                out.extend(layer.view(view))
        return out

    @property
    def views(self) -> tuple[View, ...]:
        return VIEWS if self.has_chain_view else VIEWS[1:]

    def __repr__(self) -> str:
        net = self.network
        sizes = _elided([str(size) for size in net.sizes], "-")
        activations = _elided([layer.activation.name for layer in net.layers], "/")
        return (
            f"<Derivation of {net.name!r}: {net.depth} layer{'s' * (net.depth != 1)}, {sizes},"
            f" {activations}, {net.loss.name}, {len(self.all_equations())} equations>"
        )

    def __str__(self) -> str:
        """The plain-text rendering, as `symbackprop derive --format text` prints it."""
        from .render import render  # render imports this module

        return render(self, "text")

    def _repr_markdown_(self) -> str:
        """Jupyter: the Markdown rendering, with $$ blocks for MathJax."""
        from .render import render

        return render(self, "markdown")

    def _repr_latex_(self) -> str:
        """Jupyter and notebook exports: LaTeX that MathJax and LaTeX itself both read."""
        from .render import notebook_latex

        return notebook_latex(self)


def _elided(items: list[str], separator: str, keep: int = 6) -> str:
    """`items` joined by `separator`, the middle replaced by '...' when there are many."""
    if len(items) > keep:
        items = [*items[: keep // 2], "...", *items[-(keep // 2) :]]
    return separator.join(items)
