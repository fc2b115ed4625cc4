"""What the derivation says: its form of the left-hand side the user wrote (the "the derivation
has:" line, found through `Derivation.rule`), and the rule that a softmax layer left out has."""

from __future__ import annotations

from functools import lru_cache

from .. import notation as nt
from ..derive import derive
from ..ir import Derivation, Kind, View
from ..naming import tag
from ..printing.latex import latex
from ..spec import Network
from .domain import softmax_layers
from .tree import Call, Index, LayerRef, Mode, Node, Part, Qty


@lru_cache(maxsize=16)
def derivation_of(network: Network) -> Derivation:
    """The network's derivation, derived once for all the equations checked on it."""
    return derive(network)


def _kind(side: Node) -> tuple[Kind, Qty] | None:
    """What a left-hand side states, and the quantity whose layer places it."""
    if isinstance(side, Qty) and side.kind == "E":
        return "loss", side
    if isinstance(side, Qty) and side.kind == "delta":
        return "delta", side
    if isinstance(side, Qty) and side.kind in ("z", "a") and side.layer is not None:
        return ("pre" if side.kind == "z" else "act"), side  # the forward pass
    if (  # σ'(z_j^{(l)}): the layer's derivative, ∂a_j/∂z_j
        isinstance(side, Call)
        and side.fn == "sigma_prime"
        and isinstance(side.arg, Qty)
        and side.arg.kind == "z"
    ):
        return "sigma_prime", side.arg
    if not isinstance(side, Part):
        return None
    num, den = side.num, side.den
    if num.kind == "E":
        kinds: dict[str, Kind] = {"w": "dE_dw", "b": "dE_db", "z": "delta", "a": "dE_da_prev"}
        kind = kinds.get(den.kind)
        return (kind, den) if kind else None
    if num.kind == "a" and den.kind == "z":
        return ("sigma_prime" if num.indices == den.indices else "jacobian"), den
    return None


def correct_form(
    net: Network, sides: list[Node], mode: Mode, l_value: int | None = None
) -> str | None:
    """The derivation's form of the equation's left-hand side, in the lecture's notation: from
    the view the equation is written in, else from another view.  `l_value`: the layer l where
    the equation failed; where that puts the left side at a softmax output, the rule quoted is
    the output's (through the Jacobian), not the general hidden-layer rule."""
    derivation = derivation_of(net)
    depth = net.depth
    softmax_output = depth in softmax_layers(net)
    own: dict[Mode, View] = {"index": "index", "vector": "vector", "neuron": "chain"}
    order: tuple[View, ...] = ("index", "vector", "chain")
    views = [own[mode], *(v for v in order if v != own[mode])]
    for view in views:
        if view == "chain" and not derivation.has_chain_view:
            continue
        for side in (sides[0], sides[-1]):
            found = _kind(side)
            if found is None:
                continue
            kind, qty = found
            layer = qty.layer or LayerRef("L", 0)
            if l_value is not None and layer.base == "l" and softmax_output:
                m = layer.value(l_value, depth)
                if (m + 1 if kind == "dE_da_prev" else m) == depth:
                    layer = LayerRef("L", m - depth)
                    kind = "jacobian" if kind == "sigma_prime" else kind
            eq = derivation.rule(view, kind, layer.expr())
            if eq is not None:
                if isinstance(side, Call) and kind == "sigma_prime":  # as written: σ'(z) = ...
                    return f"{latex(nt.SigmaPrime(eq.lhs.args[1]))} = {latex(eq.final)}"
                return f"{latex(eq.lhs)} = {latex(eq.final)}"
    return None


def sigma_prime_form(net: Network, layer: LayerRef, index: Index | None, mode: Mode) -> str | None:
    r"""The derivation's concrete σ' of an elementwise layer, as written for unit `index` (None:
    the vector or one-neuron form): 1 - \left(a_{j}^{(1)}\right)^{2} for tanh; None for softmax
    or where the derivation has no such rule."""
    depth = net.depth
    if layer.base != "l":
        m = layer.value(None, depth)
        if not 1 <= m <= depth or net.layers[m - 1].activation.is_softmax:
            return None
    view: View = {"index": "index", "vector": "vector", "neuron": "chain"}[mode]  # type: ignore[assignment]
    derivation = derivation_of(net)
    if view == "chain" and not derivation.has_chain_view:
        return None
    eq = derivation.rule(view, "sigma_prime", layer.expr())
    if eq is None:
        return None
    text = latex(eq.final)
    if "\\sigma" in text or "\\partial" in text:
        return None
    if index is not None and index != "j":
        text = text.replace("_{j}", f"_{{{index}}}")
    return text


def _softmax_rule_tag(net: Network, mode: Mode, sides: list[Node], layer: int) -> str:
    """The tag of the derivation's rule for softmax layer `layer` through its Jacobian: the
    output's general rule of the same kind (else its delta), in the view the equation uses."""
    derivation = derivation_of(net)
    view: View = "vector" if mode == "vector" else "index"
    found = _kind(sides[0])
    kinds: list[Kind] = [found[0], "delta"] if found else ["delta"]
    if layer == net.depth:
        for kind in kinds:
            rule = derivation.general_rule(view, kind, nt.L_sym)
            if rule is not None:
                return tag(rule)
    jacobian = derivation.layers[layer - 1].equation(view, "jacobian")
    return tag(jacobian) if jacobian is not None else ""


def skipped_note(
    net: Network, mode: Mode, sides: list[Node], left_out: list[tuple[int, int]]
) -> str:
    """'the softmax output l = 2, where σ' is the Jacobian ∂a_i/∂z_j, ...: see (IL.d)'."""
    places = []
    for v, m in left_out:
        what = "the softmax output" if m == net.depth else f"softmax layer {m}"
        places.append(f"{what} l = {v}" if v == m else f"l = {v} (layer {m} is {what})")
    layers = sorted({m for _, m in left_out})
    tags = [t for t in (_softmax_rule_tag(net, mode, sides, m) for m in layers) if t]
    see = f": see ({', '.join(tags)})" if tags else ""
    return f"{' or '.join(places)}, where σ' is the Jacobian ∂a_i/∂z_j, not unit by unit{see}"
