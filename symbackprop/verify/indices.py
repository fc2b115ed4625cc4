"""Index analysis: the unit indices each side leaves free and those it sums, the form the
equation is written in (unit indices, one neuron per layer, vectors), and the problems with
its indices that make it wrong whatever the numbers (an index free on one side only, a sum
over the wrong range)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .tree import (
    Index,
    Kron,
    LayerRef,
    Mode,
    Mul,
    Node,
    Num,
    Pow,
    Qty,
    SumOver,
    Tr,
    children,
    show,
    walk,
)


@dataclass
class Use:
    """One place a unit index appears: the layer whose units it numbers (None: Kronecker)."""

    layer: LayerRef | None
    node: Node


def index_uses(qty: Qty) -> list[tuple[Index, LayerRef | None]]:
    """Each unit index of a quantity with the layer whose units it numbers."""
    if qty.kind == "y":
        return [(x, LayerRef("L", 0)) for x in qty.indices]
    assert qty.layer is not None or not qty.indices
    layer = qty.layer or LayerRef("", 0)
    if qty.kind == "w" and len(qty.indices) == 2:
        below = LayerRef(layer.base, layer.offset - 1)
        return [(qty.indices[0], layer), (qty.indices[1], below)]
    return [(x, layer) for x in qty.indices]


@dataclass
class Scope:
    """Free index uses of one side, and its sums (index, node, uses in the body)."""

    free: dict[str, list[Use]] = field(default_factory=dict)
    sums: list[tuple[SumOver, list[Use]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def index_scope(node: Node, depth: int, scope: Scope | None = None) -> Scope:
    """The free and summed index uses below `node`, added to `scope` when given."""
    scope = scope if scope is not None else Scope()

    def use(letter: Index, layer: LayerRef | None, where: Node) -> None:
        if isinstance(letter, str):
            scope.free.setdefault(letter, []).append(Use(layer, where))

    if isinstance(node, Qty):
        for letter, layer in index_uses(node):
            use(letter, layer, node)
    elif isinstance(node, Kron):
        use(node.first, None, node)
        use(node.second, None, node)
    elif isinstance(node, SumOver):
        inner = index_scope(node.body, depth)
        uses = inner.free.pop(node.index, [])
        if any(s.index == node.index for s, _ in inner.sums):
            scope.problems.append(f"index {node.index} is summed twice, one sum inside the other")
        scope.problems.extend(inner.problems)
        for letter, found in inner.free.items():
            scope.free.setdefault(letter, []).extend(found)
        scope.sums.extend(inner.sums)
        scope.sums.append((node, uses))
        for limit in (node.lower, node.upper):
            if limit is not None:
                index_scope(limit, depth, scope)
    else:
        for child in children(node):
            index_scope(child, depth, scope)
    return scope


def written_form(sides: list[Node]) -> tuple[Mode, str | None]:
    """The form the equation is written in, and why it mixes forms (None when it does not)."""
    nodes = [n for side in sides for n in walk(side)]
    indexed = [n for n in nodes if isinstance(n, Qty) and n.indices]
    sums = [n for n in nodes if isinstance(n, SumOver)]
    markers = [
        n
        for n in nodes
        if (isinstance(n, Qty) and (n.matrix or (n.kind == "delta" and not n.indices)))
        or isinstance(n, Tr)
        or (isinstance(n, Pow) and n.elementwise)
        or (isinstance(n, Mul) and any(op == "odot" for op, _ in n.factors))
    ]
    plain = [
        n
        for n in nodes
        if isinstance(n, Qty)
        and not n.indices
        and n.kind not in ("E", "n", "lambda", "lambda1")  # scalars in every form
        and not n.matrix
    ]
    if indexed or sums:
        if markers:
            return "index", "it mixes unit indices with the vectorised form (W, δ, ⊙, transposes)"
        if plain:
            return "index", f"{show(plain[0])} has no unit index, but the equation uses indices"
        return "index", None
    return ("vector" if markers else "neuron"), None


def index_problems(left: Node, right: Node, depth: int, domain: list[int | None]) -> str | None:
    """Free indices on one side only, indices both free and summed, sums over the wrong range."""
    sides = [index_scope(left, depth), index_scope(right, depth)]
    names = ("left", "right")
    problems: list[str] = [*sides[0].problems, *sides[1].problems]
    summed: dict[str, str] = {}
    for name, scope in zip(names, sides, strict=True):
        for node, _ in scope.sums:
            summed.setdefault(node.index, name)
    reported: set[str] = set()
    for letter, where in summed.items():
        free_on = [n for n, s in zip(names, sides, strict=True) if letter in s.free]
        if free_on:
            sides_text = " and ".join(free_on)
            problems.append(
                f"index {letter} is both free ({sides_text} side) and summed ({where} side)"
            )
            reported.add(letter)
    for letter in sides[1].free:  # free on the left only: the right is the same for each value
        if letter not in sides[0].free and letter not in reported:
            problems.append(f"index {letter} is free on the right side only")
            reported.add(letter)
    for letter in {**sides[0].free, **sides[1].free}:
        uses = sides[0].free.get(letter, []) + sides[1].free.get(letter, [])
        if letter not in reported and all(u.layer is None for u in uses):
            problems.append(f"index {letter} numbers no unit (it appears only in δ_{{ij}})")
    for scope in sides:
        for node, uses in scope.sums:
            problem = _sum_problem(node, uses, depth, domain)
            if problem:
                problems.append(problem)
    return "; ".join(problems) if problems else None


def _sum_problem(
    node: SumOver, uses: list[Use], depth: int, domain: list[int | None]
) -> str | None:
    if node.lower is not None and not (isinstance(node.lower, Num) and node.lower.value == 1):
        return f"the sum over {node.index} must start at 1 (units are numbered from 1)"
    layered = [u for u in uses if u.layer is not None]
    if node.upper is None:
        return None if layered else f"the sum over {node.index} has no upper limit"
    upper = node.upper
    if isinstance(upper, Num):
        return None
    if not (isinstance(upper, Qty) and upper.kind == "n" and upper.layer is not None):
        return f"the sum over {node.index} runs to a number or to a width n^{{(l)}}"
    for use in layered:
        assert use.layer is not None
        for v in domain:
            if use.layer.value(v, depth) != upper.layer.value(v, depth):
                return (
                    f"the sum over {node.index} runs to n^{{({upper.layer.text()})}}, but "
                    f"{node.index} numbers the units of layer {use.layer.text()} "
                    f"in {show(use.node)}"
                )
    return None
