"""The symbolic check: the tree as SymPy over the notation's classes, and how many claims are
identities SymPy sees after expanding (rearrangements are; the chain rule itself is not)."""

from __future__ import annotations

from typing import Any

import sympy

from .. import notation as nt
from .tree import (
    Add,
    Call,
    Claim,
    Euler,
    Extremum,
    Index,
    Kron,
    Mul,
    Node,
    Num,
    Part,
    Pow,
    Qty,
    SumOver,
)


class _NotSymbolic(Exception):
    pass


_LETTERS: dict[str, sympy.Symbol] = {"j": nt.j, "k": nt.k, "i": nt.i}


def _letter(index: Index) -> sympy.Expr:
    if isinstance(index, int):
        return sympy.Integer(index)
    return _LETTERS.get(index) or sympy.Symbol(index, integer=True, positive=True)


_CLASSES: dict[str, Any] = {
    "a": nt.Act,
    "z": nt.Pre,
    "w": nt.Weight,
    "b": nt.Bias,
    "delta": nt.Delta,
    "n": nt.Width,
}


def to_sympy(node: Node) -> sympy.Expr:
    """The AST as SymPy over the notation classes (index and one-neuron forms)."""
    if isinstance(node, Num):
        return sympy.Rational(node.value.numerator, node.value.denominator)
    if isinstance(node, Euler):
        return sympy.E
    if isinstance(node, Qty):
        if node.kind == "E":
            return nt.E
        if node.kind == "y":
            return nt.Target(*[_letter(x) for x in node.indices])
        if node.kind in ("lambda", "lambda1"):
            layer = () if node.layer is None else (node.layer.expr(),)
            return nt.Decay(1 if node.kind == "lambda1" else 2, *layer)
        assert node.layer is not None
        cls = _CLASSES[node.kind]
        if node.matrix:
            cls = nt.WeightMatrix
        return cls(node.layer.expr(), *[_letter(x) for x in node.indices])
    if isinstance(node, Kron):
        return sympy.KroneckerDelta(_letter(node.first), _letter(node.second))
    if isinstance(node, Part):
        return nt.Partial(to_sympy(node.num), to_sympy(node.den))
    if isinstance(node, Call):
        arg = to_sympy(node.arg)
        table: dict[str, Any] = {
            "sigma": nt.Sigma,
            "sigma_prime": nt.SigmaPrime,
            "exp": sympy.exp,
            "log": sympy.log,
            "tanh": sympy.tanh,
            "sinh": sympy.sinh,
            "cosh": sympy.cosh,
            "sqrt": sympy.sqrt,
            "abs": sympy.Abs,
            "sign": sympy.sign,
            "heaviside": lambda v: sympy.Heaviside(v, 0),
        }
        return table[node.fn](arg)
    if isinstance(node, Extremum):
        pick = sympy.Max if node.fn == "max" else sympy.Min
        return pick(to_sympy(node.first), to_sympy(node.second))
    if isinstance(node, Add):
        return sympy.Add(*[sign * to_sympy(t) for sign, t in node.terms])
    if isinstance(node, Mul):
        out = sympy.Integer(1)
        for op, factor in node.factors:
            value = to_sympy(factor)
            out = out / value if op == "/" else out * value
        return out
    if isinstance(node, Pow) and not node.elementwise:
        return sympy.Pow(to_sympy(node.base), to_sympy(node.exponent))
    if isinstance(node, SumOver) and node.upper is not None:
        lower = sympy.Integer(1) if node.lower is None else to_sympy(node.lower)
        return sympy.Sum(to_sympy(node.body), (_letter(node.index), lower, to_sympy(node.upper)))
    raise _NotSymbolic


def symbolic_identities(claims: list[Claim]) -> int:
    """How many claims are identities SymPy sees after expanding, partials and sigma' kept as
    symbols: rearrangements are, the chain rule itself is not."""
    count = 0
    for claim in claims:
        try:
            count += sympy.expand(to_sympy(claim.left) - to_sympy(claim.right)) == 0
        except (_NotSymbolic, TypeError, ValueError, AttributeError):
            continue
    return count
