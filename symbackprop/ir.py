"""The derivation data model: frozen dataclasses holding SymPy expressions, never strings.

One `Derivation` feeds every printer (LaTeX, text, NumPy code); nothing downstream re-derives.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from sympy import Expr, Integer

from . import notation as nt
from .library import Activation, Loss
from .spec import Network

View = Literal["chain", "index", "vector"]
VIEWS: tuple[View, ...] = ("chain", "index", "vector")

#: What an equation states; `naming.KIND_CODES` gives each its letter of the citation tag.
Kind = Literal[
    "loss",  # E written out
    "dE_da_out",  # dE/da^(L) from the loss
    "sigma_prime",  # da/dz = sigma'(z)
    "jacobian",  # softmax: da_i/dz_j
    "delta",  # dE/dz (delta) of the layer
    "dE_dw",
    "dE_db",
    "dE_da_prev",  # dE/da^(l-1), passed back to the layer below
    "pre",  # forward: z = W a + b
    "act",  # forward: a = sigma(z), or softmax
    "mean",  # normalisation, forward: the mean mu
    "var",  # normalisation, forward: the variance sigma^2
    "xhat",  # normalisation, forward: the normalised input x-hat
    "dE_dgamma",  # normalisation: dE/dgamma, the scale's gradient
    "dE_dbeta",  # normalisation: dE/dbeta, the shift's gradient
    "dE_dxhat",  # normalisation: dE/dx-hat
    "dE_dvar",  # normalisation: dE/dsigma^2 (through every x-hat)
    "dE_dmean",  # normalisation: dE/dmu (through every x-hat and sigma^2)
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
    #: The forward pass (kinds "pre" and "act") in the index and vector views; documents show
    #: the backward equations, generated code cites both.
    forward: tuple[Equation, ...] = ()
    #: Whether documents show the forward equations too: a convolution's or pooling layer's
    #: sums over its window are what its slide is about (a dense layer's are the lecture's).
    shows_forward: bool = False

    def view(self, name: View) -> tuple[Equation, ...]:
        return {"chain": self.chain, "index": self.index, "vector": self.vector}[name]

    def shown(self, name: View) -> tuple[Equation, ...]:
        """The equations documents show in a view: the forward ones first where the layer
        `shows_forward`, then the backward ones."""
        if not self.shows_forward:
            return self.view(name)
        return (*(eq for eq in self.forward if eq.view == name), *self.view(name))

    def equation(self, view: View, kind: Kind) -> Equation | None:
        """The layer's equation of that kind in that view, if it has one."""
        return next(
            (eq for eq in (*self.view(view), *self.forward) if eq.view == view and eq.kind == kind),
            None,
        )

    def require(self, view: View, kind: Kind) -> Equation:
        """The layer's equation of that kind in that view; a KeyError names what is missing."""
        eq = self.equation(view, kind)
        if eq is None:
            raise KeyError(f"layer {self.number} has no {view} equation of kind {kind!r}")
        return eq


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
                out.extend(layer.shown(view))
        return out

    @property
    def views(self) -> tuple[View, ...]:
        return VIEWS if self.has_chain_view else VIEWS[1:]

    def __repr__(self) -> str:
        net = self.network
        sizes = _elided(net.layout, "-")
        activations = _elided(
            [layer.activation.name if layer.has_parameters else layer.kind for layer in net.layers],
            "/",
        )
        return (
            f"<Derivation of {net.name!r}: {net.depth} layer{'s' * (net.depth != 1)}, {sizes},"
            f" {activations}, {net.loss.name}, {len(self.all_equations())} equations>"
        )

    def __str__(self) -> str:
        """The plain-text rendering, as `symbackprop derive --format text` prints it."""
        from .render import render  # here, not above: ir needs no printer to be imported

        return render(self, "text")

    def _repr_markdown_(self) -> str:
        """Jupyter: the Markdown rendering, with $$ blocks for MathJax."""
        from .render import render

        return render(self, "markdown")

    def _repr_html_(self) -> str:
        """Jupyter: the HTML page's fragment (MathML, SVG diagrams), as `--format html` shows."""
        from .render import html_fragment

        return html_fragment(self)

    def _repr_latex_(self) -> str:
        """Jupyter and notebook exports: LaTeX that MathJax and LaTeX itself both read."""
        from .render import notebook_latex

        return notebook_latex(self)

    def general_rule(self, view: View, kind: Kind, layer: Expr) -> Equation | None:
        """The general rule of `kind` in `view` stated at `layer` (the symbol L or l), if any."""
        rules = self.general.get(view, ())
        return next((eq for eq in rules if eq.kind == kind and eq.layer == layer), None)

    def rule(self, view: View, kind: Kind, layer: int | Expr) -> Equation | None:
        """The equation stating `kind` for `layer` in `view`, with one right-hand side, or None:
        how `verify` quotes the derivation's form of a left-hand side the user wrote.

        `layer` is the layer the left-hand side names, as written: a number, L + k or l + k (in
        notation's L_sym and l_sym); for dE_da_prev that of a^(layer), one below the layer the
        equation belongs to (so dE_da_prev at L is dE_da_out).  A number, and L + k when the
        output has a Jacobian (softmax), read that layer's own equation (its second form, the
        local partials filled in), relabeled from the output for L + k.  Otherwise L reads the
        general rule at L when there is one, and L + k (k != 0) or l + k the general rule at l
        moved to that layer (its last form)."""
        depth = self.network.depth
        expr = Integer(layer) if isinstance(layer, int) else layer
        base = nt.L_sym if expr.has(nt.L_sym) else nt.l_sym if expr.has(nt.l_sym) else None
        offset = expr - base if base is not None else expr
        if not offset.is_Integer:
            raise ValueError(f"a layer is a number, L + k or l + k, not {expr}")
        at_output = (base is None and offset == depth) or (base is nt.L_sym and offset == 0)
        if kind == "dE_da_prev" and at_output:
            kind = "dE_da_out"
        output = self.layers[-1]
        if base is None or (base is nt.L_sym and output.rule.jacobian is not None):
            number = int(offset) + (0 if base is None else depth)
            owner = number + 1 if kind == "dE_da_prev" else number
            if kind in ("loss", "dE_da_out", "jacobian"):
                owner = depth
            if not 1 <= owner <= depth:
                return None
            eq = self.layers[owner - 1].equation(view, kind)
            return None if eq is None else _second_form(eq if base is None else self.relabeled(eq))
        if base is nt.L_sym and offset == 0:
            at_l = self.general_rule(view, kind, nt.L_sym)
            if at_l is not None:
                return replace(at_l, rhs=(at_l.final,))
        hidden = self.general_rule(view, kind, nt.l_sym)
        if hidden is not None:
            own = expr + 1 if kind == "dE_da_prev" else expr
            moved = self.shifted(hidden, own)
            return replace(moved, rhs=(moved.final,))
        eq = output.equation(view, kind)
        if eq is not None and base is nt.L_sym:
            return _second_form(self.relabeled(eq))
        return None

    def relabeled(self, eq: Equation) -> Equation:
        """`eq` with layer numbers counted from the output: 2 -> L, 1 -> L-1 (when L = 2), as
        the general rules write them."""
        depth = self.network.depth

        def relabel(expr: Expr) -> Expr:
            return expr.replace(
                lambda e: isinstance(e, nt.LayerQuantity) and e.args[0].is_Integer,
                lambda e: e.func(nt.L_sym + (int(e.args[0]) - depth), *e.args[1:]),
            )

        layer = nt.L_sym + (int(eq.layer) - depth) if eq.layer.is_Integer else eq.layer
        return replace(
            eq, layer=layer, lhs=relabel(eq.lhs), rhs=tuple(relabel(side) for side in eq.rhs)
        )

    @staticmethod
    def shifted(eq: Equation, layer: Expr) -> Equation:
        """A general rule at l moved to `layer` (l + k, L + k or a number): l replaced there."""
        swap = {nt.l_sym: layer}
        return replace(
            eq,
            layer=eq.layer.xreplace(swap),
            lhs=eq.lhs.xreplace(swap),
            rhs=tuple(side.xreplace(swap) for side in eq.rhs),
        )


def _elided(items: list[str], separator: str, keep: int = 6) -> str:
    """`items` joined by `separator`, the middle replaced by '...' when there are many."""
    if len(items) > keep:
        items = [*items[: keep // 2], "...", *items[-(keep // 2) :]]
    return separator.join(items)


def _second_form(eq: Equation) -> Equation:
    """`eq` with its second right-hand side only (the local partials filled in), if it has one."""
    return replace(eq, rhs=(eq.rhs[1] if len(eq.rhs) > 1 else eq.rhs[0],))
