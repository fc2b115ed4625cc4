"""Where an equation applies: the values of l at which every quantity it names exists, why
none does, and which of them it leaves out because it reads a softmax layer's derivative unit by
unit (a rule for elementwise layers)."""

from __future__ import annotations

from ..spec import Network
from .reader import LatexError
from .tree import (
    Call,
    LayerRef,
    Mul,
    Node,
    Part,
    Qty,
    Tr,
    children,
    layers_used,
    show,
    sigma_layer,
    walk,
)

_LAYER_RANGE = {"a": 0, "n": 0, "z": 1, "w": 1, "b": 1, "delta": 1}


def layer_domain(sides: list[Node], depth: int) -> tuple[list[int | None], str | None]:
    """The values of l for which every quantity exists (None stands for an equation without l),
    or why a fixed layer does not exist.  An empty list with no reason: no layer l fits."""
    qtys = [n for side in sides for n in walk(side) if isinstance(n, Qty) and n.layer is not None]
    for q in qtys:
        assert q.layer is not None
        if q.layer.base == "l":
            continue
        m = q.layer.value(None, depth)
        lowest = _LAYER_RANGE.get(q.kind, 0)
        if not lowest <= m <= depth:
            what = "the input layer has no " + q.kind if m == 0 else f"layer {m} does not exist"
            return [], f"{show(q)} does not exist: {what} (the network has layers 1 to {depth})"
    if "l" not in layers_used(sides):
        return [None], None
    values = []
    for v in range(0, depth + 1):
        ok = True
        for q in qtys:
            assert q.layer is not None
            if q.layer.base == "l":
                m = v + q.layer.offset
                ok = ok and _LAYER_RANGE.get(q.kind, 0) <= m <= depth
        if ok:
            values.append(v)
    return list(values), None


def no_layer(sides: list[Node], depth: int) -> str:
    """Why no value of l fits: the quantity asking the most of l from below, and from above."""
    low: tuple[int, str] | None = None
    high: tuple[int, str] | None = None
    for q in (n for side in sides for n in walk(side) if isinstance(n, Qty)):
        if q.layer is None or q.layer.base != "l":
            continue
        least = _LAYER_RANGE.get(q.kind, 0) - q.layer.offset
        most = depth - q.layer.offset
        if low is None or least > low[0]:
            low = (least, show(q))
        if high is None or most < high[0]:
            high = (most, show(q))
    assert low is not None and high is not None
    return (
        f"no layer l of this network (L = {depth}) has every quantity of it: "
        f"{low[1]} needs l ≥ {low[0]} and {high[1]} needs l ≤ {high[0]}"
    )


def _elementwise_uses(sides: list[Node]) -> list[LayerRef]:
    """The layers l + k (written with the symbolic l) whose derivative the equation reads unit by
    unit: σ'(z_j^{(l)}), σ'(z^{(l)}) (but not transposed), ∂a_j^{(l)}/∂z_j^{(l)} with one unit on
    both, and ∂a^{(l)}/∂z^{(l)} as a factor of ⊙ or a whole side.  Such a rule presupposes an
    elementwise activation at that layer; the Jacobian ∂a_i/∂z_j and (∂a/∂z)^T do not."""
    found: list[LayerRef] = []

    def visit(node: Node, parent: Node | None) -> None:
        ref: LayerRef | None = None
        if isinstance(node, Call) and node.fn == "sigma_prime":
            layer = sigma_layer(node)
            indexed = any(isinstance(n, Qty) and n.indices for n in walk(node.arg))
            if indexed or not isinstance(parent, Tr):
                ref = layer
        elif (
            isinstance(node, Part)
            and (node.num.kind, node.den.kind) == ("a", "z")
            and node.num.layer == node.den.layer
        ):
            if node.num.indices:
                if len(node.num.indices) == 1 and node.num.indices == node.den.indices:
                    ref = node.num.layer
            elif not node.den.indices:
                in_odot = isinstance(parent, Mul) and any(op == "odot" for op, _ in parent.factors)
                if parent is None or in_odot:
                    ref = node.num.layer
        if ref is not None and ref.base == "l":
            found.append(ref)
        for child in children(node):
            visit(child, node)

    for side in sides:
        visit(side, None)
    return found


def softmax_layers(net: Network) -> set[int]:
    """The numbers of the network's softmax layers."""
    return {m for m, layer in enumerate(net.layers, start=1) if layer.activation.is_softmax}


def split_domain(
    sides: list[Node], net: Network, domain: list[int | None]
) -> tuple[list[int | None], list[tuple[int, int]]]:
    """The values of l where the equation's elementwise derivatives are at elementwise layers,
    and the (l, softmax layer) pairs left out because one of them is at a softmax layer."""
    uses = _elementwise_uses(sides)
    softmax = softmax_layers(net)
    if not uses or not softmax:
        return domain, []
    kept: list[int | None] = []
    left_out: list[tuple[int, int]] = []
    for v in domain:
        hits = [] if v is None else [u.value(v, net.depth) for u in uses]
        hits = [m for m in hits if m in softmax]
        if v is not None and hits:
            left_out.append((v, hits[0]))
        else:
            kept.append(v)
    return kept, left_out


def check_sigmas(sides: list[Node], net: Network, text: str) -> None:
    """Reject a σ whose layer cannot be told, where the layers' activations differ."""
    kinds = {layer.activation for layer in net.layers}
    for side in sides:
        for node in walk(side):
            if (
                isinstance(node, Call)
                and node.fn.startswith("sigma")
                and sigma_layer(node) is None
                and len(kinds) != 1
            ):
                raise LatexError(
                    "cannot tell which layer's \\sigma this is: apply it to z of one layer",
                    text,
                    node.pos,
                )
