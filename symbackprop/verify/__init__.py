"""`symbackprop verify`: judge a hand-derived formula written in the lecture's LaTeX notation.

Reading (`reader.py`, `grammar.lark`): the lark grammar gives a generic parse tree, which becomes
a small tree of the lecture's symbols (`tree.py`); anything else is rejected with its position
(the text is never evaluated); `document.py` finds the equations of a .tex file.  Judging
(`judge.py`): index analysis first (`indices.py`: free and summed indices, sum ranges); then each
'=' is a claim for every layer l (`domain.py`) and unit index where both sides are defined,
compared in float64 at random points of the network (`evaluate.py`) with the true derivatives
(`point.py`: exact Jacobians, independent of the derivation); `symbolic.py` says which claims
are also identities SymPy sees, and `hints.py` quotes the derivation's form of the left side.
A softmax layer is judged like any other: its σ' and ∂a_j/∂z_j are its Jacobian (entries).  But
a rule written for the symbolic layer l that reads σ' of a layer l (+k) unit by unit (σ'(z_j),
∂a_j/∂z_j, ⊙ σ'(z)) is a rule for elementwise layers, as in the lecture: it is checked at those
l only, and the verdict names the softmax layers left out.  An equation with no instance on the
network (no layer l where all its quantities exist) does not apply: it is not "holds" (exit 1).
`command.py` runs the command (`run`); its arguments are `symbackprop.cli.verify`'s.
"""

from __future__ import annotations

from .command import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, main, run
from .document import split_equations
from .judge import POINTS, TOLERANCE, Instance, Verdict, verify, verify_text
from .reader import LatexError, parse_equation
from .symbolic import to_sympy

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_OK",
    "POINTS",
    "TOLERANCE",
    "Instance",
    "LatexError",
    "Verdict",
    "main",
    "parse_equation",
    "run",
    "split_equations",
    "to_sympy",
    "verify",
    "verify_text",
]
