"""`verify` on a corpus (issue 12): formulas students get wrong are never accepted, and every
equation `derive` prints is accepted.

Wrong formulas: each is paired with the correct formula it is a mistake of, which must hold on
the same network, so a rejection is the mistake's doing and not the notation's.  What makes a
formula wrong is the maths, written down here by hand, not anything verify computes; for the
softmax output the counterexample's true side is recomputed by finite differences of a forward
pass written independently below.

Printed equations: every rhs step of every equation of `Derivation.all_equations()`, printed by
the article's LaTeX printer as `lhs = rhs_i`, must hold, and so must the display maths of the
latex, beamer and markdown documents read with `verify_text` (the text format is not LaTeX and
is not read).  Decided from the equation itself, not from verify's answer:

* a general rule with no layer l on the network (a hidden-layer rule such as
  δ^{(l)} = ((W^{(l+1)})^T δ^{(l+1)}) ⊙ σ'(z^{(l)}) with L = 1, if derive prints one): verify
  must say "does not apply" (exit 1, never "holds"), and the same text must hold on a deeper
  network;
* a general rule in the symbolic layer l that reads a layer's derivative unit by unit
  (σ'(z_j^{(l)}), ∂a_j^{(l)}/∂z_j^{(l)}, ⊙ σ'(z^{(l)})) is a rule for elementwise layers: it
  must hold at those, and the verdict must say that the softmax output was left out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import pytest
import sympy

from symbackprop import notation as nt
from symbackprop import verify as verify_module
from symbackprop.derive import derive
from symbackprop.ir import Derivation, Equation
from symbackprop.printing.latex import latex
from symbackprop.render import render
from symbackprop.spec import Layer, Network, activation, load_spec, loss
from symbackprop.verify import LatexError, Verdict, verify, verify_text
from symbackprop.verify.point import Point

from .examples import dense_examples

#: Equal widths, so a missing transpose or w_kj for w_jk is a wrong number, not a shape error.
SQUARE = Network(
    name="square",
    inputs=2,
    layers=(Layer(2, activation("sigmoid")), Layer(2, activation("sigmoid"))),
    loss=loss("squared_error"),
)
#: Three softmax classes behind two tanh layers: a softmax output deeper in the network.
DEEP_SOFTMAX = Network(
    name="deep_softmax",
    inputs=2,
    layers=(
        Layer(3, activation("tanh")),
        Layer(3, activation("tanh")),
        Layer(3, activation("softmax")),
    ),
    loss=loss("cross_entropy"),
)
#: One softmax layer: no hidden layer, and no layer where a rule for elementwise layers applies.
SOFTMAX_ONLY = Network(
    name="softmax_only",
    inputs=3,
    layers=(Layer(3, activation("softmax")),),
    loss=loss("cross_entropy"),
)
CUSTOM = {"square": SQUARE, "deep_softmax": DEEP_SOFTMAX, "softmax_only": SOFTMAX_ONLY}
#: The networks whose printed equations are checked: the bundled examples and two softmax ones.
PRINTED = [*dense_examples(), "deep_softmax", "softmax_only"]


@cache
def network(name: str) -> Network:
    return CUSTOM[name] if name in CUSTOM else load_spec(name)


@cache
def derivation(name: str) -> Derivation:
    return derive(network(name))


# ---------------------------------------------------------------- wrong formulas


@dataclass(frozen=True)
class Wrong:
    """A wrong formula on a network, the correct formula it is a mistake of, the mistake; and
    `truth` (numerator, denominator, layer) when its left side is the true derivative
    ∂num/∂den of that layer, which the finite-difference check recomputes."""

    net: str
    mistake: str
    wrong: str
    right: str
    truth: tuple[str, str, int] | None = None


P = "'"  # sigma prime

WRONG: list[Wrong] = [
    # -- softmax treated elementwise
    Wrong(
        "classifier",
        "softmax elementwise",
        rf"\delta^{{(L)}} = (a^{{(L)}} - y) \odot \sigma{P}(z^{{(L)}})",
        r"\delta^{(L)} = a^{(L)} - y",
        ("E", "z", 2),
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        rf"\delta^{{(2)}} = (a^{{(2)}} - y) \odot \sigma{P}(z^{{(2)}})",
        r"\delta^{(2)} = a^{(2)} - y",
        ("E", "z", 2),
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        rf"\delta^{{(L)}} = \frac{{\partial E}}{{\partial a^{{(L)}}}} \odot \sigma{P}(z^{{(L)}})",
        r"\delta^{(L)} = \left(\frac{\partial a^{(L)}}{\partial z^{(L)}}\right)^{T} "
        r"\frac{\partial E}{\partial a^{(L)}}",
        ("E", "z", 2),
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        r"\delta^{(L)} = \frac{\partial E}{\partial a^{(L)}} \odot "
        r"\frac{\partial a^{(L)}}{\partial z^{(L)}}",
        rf"\delta^{{(L)}} = \sigma{P}(z^{{(L)}})^T \frac{{\partial E}}{{\partial a^{{(L)}}}}",
        ("E", "z", 2),
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        rf"\frac{{\partial E}}{{\partial z_j^{{(L)}}}} = (a_j^{{(L)}} - y_j) "
        rf"\sigma{P}(z_j^{{(L)}})",
        r"\frac{\partial E}{\partial z_j^{(L)}} = a_j^{(L)} - y_j",
        ("E", "z", 2),
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        rf"\frac{{\partial E}}{{\partial z_j^{{(L)}}}} = \sigma{P}(z_j^{{(L)}}) "
        r"\frac{\partial E}{\partial a_j^{(L)}}",
        r"\frac{\partial E}{\partial z_j^{(L)}} = \sum_{i=1}^{n^{(L)}} "
        r"\frac{\partial a_i^{(L)}}{\partial z_j^{(L)}} \frac{\partial E}{\partial a_i^{(L)}}",
        ("E", "z", 2),
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        r"\frac{\partial a_j^{(L)}}{\partial z_j^{(L)}} = a_j^{(L)}(1 + a_j^{(L)})",
        r"\frac{\partial a_j^{(L)}}{\partial z_j^{(L)}} = a_j^{(L)}(1 - a_j^{(L)})",
        ("a", "z", 2),
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        r"\frac{\partial a_j^{(2)}}{\partial z_j^{(2)}} = a_j^{(2)}(1 + a_j^{(2)})",
        r"\frac{\partial a_j^{(2)}}{\partial z_j^{(2)}} = a_j^{(2)} - (a_j^{(2)})^2",
        ("a", "z", 2),
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        r"\frac{\partial a_i^{(L)}}{\partial z_j^{(L)}} = \delta_{ij} a_j^{(L)}(1 - a_j^{(L)})",
        r"\frac{\partial a_i^{(L)}}{\partial z_j^{(L)}} = a_i^{(L)}(\delta_{ij} - a_j^{(L)})",
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        r"\frac{\partial a^{(L)}}{\partial z^{(L)}} = a^{(L)} \odot (1 - a^{(L)})",
        rf"\frac{{\partial a^{{(L)}}}}{{\partial z^{{(L)}}}} = \sigma{P}(z^{{(L)}})",
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        rf"\frac{{\partial E}}{{\partial w_{{jk}}^{{(L)}}}} = a_k^{{(L-1)}} \sigma{P}(z_j^{{(L)}}) "
        r"\frac{\partial E}{\partial a_j^{(L)}}",
        r"\frac{\partial E}{\partial w_{jk}^{(L)}} = a_k^{(L-1)} (a_j^{(L)} - y_j)",
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        r"\frac{\partial E}{\partial b_j^{(2)}} = (a_j^{(2)} - y_j) a_j^{(2)} (1 - a_j^{(2)})",
        r"\frac{\partial E}{\partial b_j^{(2)}} = a_j^{(2)} - y_j",
        ("E", "b", 2),
    ),
    Wrong(
        "classifier",
        "softmax elementwise",
        r"\delta^{(2)} = (a^{(2)} - y) \odot a^{(2)} \odot (1 - a^{(2)})",
        r"\frac{\partial E}{\partial b^{(2)}} = a^{(2)} - y",
        ("E", "z", 2),
    ),
    Wrong(
        "deep_softmax",
        "softmax elementwise",
        rf"\delta^{{(L)}} = (a^{{(L)}} - y) \odot \sigma{P}(z^{{(L)}})",
        r"\delta^{(L)} = a^{(L)} - y",
        ("E", "z", 3),
    ),
    Wrong(
        "deep_softmax",
        "softmax elementwise",
        rf"\frac{{\partial E}}{{\partial a_k^{{(L-1)}}}} = \sum_{{j=1}}^{{n^{{(L)}}}} "
        rf"w_{{jk}}^{{(L)}} "
        rf"\sigma{P}(z_j^{{(L)}}) \frac{{\partial E}}{{\partial a_j^{{(L)}}}}",
        r"\frac{\partial E}{\partial a_k^{(L-1)}} = \sum_{j=1}^{n^{(L)}} w_{jk}^{(L)} "
        r"(a_j^{(L)} - y_j)",
        ("E", "a", 2),
    ),
    Wrong(
        "deep_softmax",
        "softmax elementwise",
        r"a_j^{(L)} = \frac{1}{1 + e^{-z_j^{(L)}}}",
        r"a_j^{(L)} = \frac{e^{z_j^{(L)}}}{\sum_{i=1}^{n^{(L)}} e^{z_i^{(L)}}}",
    ),
    # -- a missing factor
    Wrong(
        "seed_chain",
        "missing factor",
        rf"\frac{{\partial E}}{{\partial w^{{(L)}}}} = (a^{{(L)}} - y) \sigma{P}(z^{{(L)}}) "
        rf"a^{{(L-1)}}",
        rf"\frac{{\partial E}}{{\partial w^{{(L)}}}} = 2(a^{{(L)}} - y) \sigma{P}(z^{{(L)}}) "
        r"a^{(L-1)}",
        ("E", "w", 3),
    ),
    Wrong(
        "multi_node",
        "missing factor",
        r"\frac{\partial E}{\partial a_j^{(L)}} = a_j^{(L)} - y_j",
        r"\frac{\partial E}{\partial a_j^{(L)}} = 2(a_j^{(L)} - y_j)",
        ("E", "a", 2),
    ),
    Wrong(
        "multi_node",
        "missing factor",
        rf"\frac{{\partial E}}{{\partial w_{{jk}}^{{(l)}}}} = \sigma{P}(z_j^{{(l)}}) "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
        rf"\frac{{\partial E}}{{\partial w_{{jk}}^{{(l)}}}} = a_k^{{(l-1)}} \sigma{P}(z_j^{{(l)}}) "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
    ),
    Wrong(
        "xor",
        "missing factor",
        r"\frac{\partial E}{\partial w_{jk}^{(L)}} = a_j^{(L)} - y_j",
        r"\frac{\partial E}{\partial w_{jk}^{(L)}} = (a_j^{(L)} - y_j) a_k^{(L-1)}",
    ),
    Wrong(
        "single_neuron",
        "missing factor",
        r"\frac{\partial E}{\partial w_{1k}^{(1)}} = 2(a_1^{(1)} - y_1) a_1^{(1)}(1 - a_1^{(1)})",
        r"\frac{\partial E}{\partial w_{1k}^{(1)}} = 2(a_1^{(1)} - y_1) a_1^{(1)}(1 - a_1^{(1)}) "
        r"x_k",
    ),
    # -- sigma' at the wrong layer
    Wrong(
        "seed_chain",
        "sigma' at the wrong layer",
        rf"\frac{{\partial E}}{{\partial b^{{(l)}}}} = \sigma{P}(z^{{(l+1)}}) "
        r"\frac{\partial E}{\partial a^{(l)}}",
        rf"\frac{{\partial E}}{{\partial b^{{(l)}}}} = \sigma{P}(z^{{(l)}}) "
        r"\frac{\partial E}{\partial a^{(l)}}",
    ),
    Wrong(
        "seed_chain",
        "sigma' at the wrong layer",
        rf"\frac{{\partial E}}{{\partial a^{{(l-1)}}}} = w^{{(l)}} \sigma{P}(z^{{(l-1)}}) "
        r"\frac{\partial E}{\partial a^{(l)}}",
        rf"\frac{{\partial E}}{{\partial a^{{(l-1)}}}} = w^{{(l)}} \sigma{P}(z^{{(l)}}) "
        r"\frac{\partial E}{\partial a^{(l)}}",
    ),
    Wrong(
        "square",
        "sigma' at the wrong layer",
        rf"\delta^{{(l)}} = ((W^{{(l+1)}})^T \delta^{{(l+1)}}) \odot \sigma{P}(z^{{(l+1)}})",
        rf"\delta^{{(l)}} = ((W^{{(l+1)}})^T \delta^{{(l+1)}}) \odot \sigma{P}(z^{{(l)}})",
    ),
    Wrong(
        "xor",
        "sigma' at the wrong layer",
        rf"\frac{{\partial E}}{{\partial b_j^{{(1)}}}} = \sigma{P}(z_1^{{(2)}}) w_{{1j}}^{{(2)}} "
        r"\delta_1^{(2)}",
        rf"\frac{{\partial E}}{{\partial b_j^{{(1)}}}} = \sigma{P}(z_j^{{(1)}}) w_{{1j}}^{{(2)}} "
        r"\delta_1^{(2)}",
        ("E", "b", 1),
    ),
    # -- transposes
    Wrong(
        "square",
        "transpose",
        rf"\delta^{{(l)}} = (W^{{(l+1)}} \delta^{{(l+1)}}) \odot \sigma{P}(z^{{(l)}})",
        rf"\delta^{{(l)}} = ((W^{{(l+1)}})^\top \delta^{{(l+1)}}) \odot \sigma{P}(z^{{(l)}})",
    ),
    Wrong(
        "square",
        "transpose",
        r"\frac{\partial E}{\partial W^{(l)}} = a^{(l-1)} (\delta^{(l)})^T",
        r"\frac{\partial E}{\partial W^{(l)}} = \delta^{(l)} (a^{(l-1)})^T",
    ),
    Wrong(
        "multi_node",
        "transpose",
        r"\frac{\partial E}{\partial W^{(l)}} = \delta^{(l)} a^{(l-1)}",
        r"\frac{\partial E}{\partial W^{(l)}} = \delta^{(l)} (a^{(l-1)})^{T}",
    ),
    Wrong(
        "classifier",
        "transpose",
        rf"\delta^{{(1)}} = (W^{{(2)}} \delta^{{(2)}}) \odot \sigma{P}(z^{{(1)}})",
        rf"\delta^{{(1)}} = ((W^{{(2)}})^T \delta^{{(2)}}) \odot \sigma{P}(z^{{(1)}})",
    ),
    Wrong(
        "square",
        "transpose",
        r"z^{(l)} = (W^{(l)})^T a^{(l-1)} + b^{(l)}",
        r"z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}",
    ),
    # -- w_kj for w_jk
    Wrong(
        "square",
        "w_kj for w_jk",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = \sum_{{j=1}}^{{n^{{(l)}}}} "
        rf"w_{{kj}}^{{(l)}} "
        rf"\sigma{P}(z_j^{{(l)}}) \frac{{\partial E}}{{\partial a_j^{{(l)}}}}",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = \sum_{{j=1}}^{{n^{{(l)}}}} "
        rf"w_{{jk}}^{{(l)}} "
        rf"\sigma{P}(z_j^{{(l)}}) \frac{{\partial E}}{{\partial a_j^{{(l)}}}}",
    ),
    Wrong(
        "multi_node",
        "w_kj for w_jk",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = \sum_{{j=1}}^{{n^{{(l)}}}} "
        rf"w_{{kj}}^{{(l)}} "
        rf"\sigma{P}(z_j^{{(l)}}) \frac{{\partial E}}{{\partial a_j^{{(l)}}}}",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = \sum_{{j=1}}^{{n^{{(l)}}}} "
        rf"w_{{jk}}^{{(l)}} "
        rf"\sigma{P}(z_j^{{(l)}}) \frac{{\partial E}}{{\partial a_j^{{(l)}}}}",
    ),
    Wrong(
        "square",
        "w_kj for w_jk",
        r"z_j^{(l)} = \sum_{k=1}^{n^{(l-1)}} w_{kj}^{(l)} a_k^{(l-1)} + b_j^{(l)}",
        r"z_j^{(l)} = \sum_{k=1}^{n^{(l-1)}} w_{jk}^{(l)} a_k^{(l-1)} + b_j^{(l)}",
    ),
    Wrong(
        "multi_node",
        "w_kj for w_jk",
        rf"\frac{{\partial E}}{{\partial w_{{jk}}^{{(l)}}}} = a_j^{{(l-1)}} \sigma{P}(z_k^{{(l)}}) "
        r"\frac{\partial E}{\partial a_k^{(l)}}",
        rf"\frac{{\partial E}}{{\partial w_{{jk}}^{{(l)}}}} = a_k^{{(l-1)}} \sigma{P}(z_j^{{(l)}}) "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
    ),
    # -- a missing sigma'
    Wrong(
        "multi_node",
        "missing sigma'",
        r"\frac{\partial E}{\partial w_{jk}^{(l)}} = a_k^{(l-1)} \frac{\partial E}{\partial "
        r"a_j^{(l)}}",
        rf"\frac{{\partial E}}{{\partial w_{{jk}}^{{(l)}}}} = a_k^{{(l-1)}} \cdot "
        rf"\sigma{P}(z_j^{{(l)}})"
        r" \cdot \frac{\partial E}{\partial a_j^{(l)}}",
    ),
    Wrong(
        "xor",
        "missing sigma'",
        r"\delta^{(1)} = (W^{(2)})^T \delta^{(2)}",
        rf"\delta^{{(1)}} = ((W^{{(2)}})^T \delta^{{(2)}}) \odot \sigma{P}(z^{{(1)}})",
        ("E", "z", 1),
    ),
    Wrong(
        "seed_chain",
        "missing sigma'",
        r"\frac{\partial E}{\partial a^{(l-1)}} = w^{(l)} \frac{\partial E}{\partial a^{(l)}}",
        rf"\frac{{\partial E}}{{\partial a^{{(l-1)}}}} = w^{{(l)}} \sigma{P}(z^{{(l)}}) "
        r"\frac{\partial E}{\partial a^{(l)}}",
    ),
    Wrong(
        "single_neuron",
        "missing sigma'",
        r"\frac{\partial E}{\partial w_{1k}^{(1)}} = 2(a_1^{(1)} - y_1) a_k^{(0)}",
        rf"\frac{{\partial E}}{{\partial w_{{1k}}^{{(1)}}}} = 2(a_1^{{(1)}} - y_1) "
        rf"\sigma{P}(z_1^{{(1)}}) a_k^{{(0)}}",
        ("E", "w", 1),
    ),
    Wrong(
        "single_neuron",
        "missing sigma'",
        r"\delta^{(l)} = ((W^{(l+1)})^T \delta^{(l+1)}) \odot a^{(l)}",
        rf"\delta^{{(L)}} = \frac{{\partial E}}{{\partial a^{{(L)}}}} \odot \sigma{P}(z^{{(L)}})",
    ),
    # -- a wrong sign
    Wrong(
        "multi_node",
        "wrong sign",
        r"\frac{\partial E}{\partial a_j^{(L)}} = 2(y_j - a_j^{(L)})",
        r"\frac{\partial E}{\partial a_j^{(L)}} = 2(a_j^{(L)} - y_j)",
        ("E", "a", 2),
    ),
    Wrong(
        "classifier",
        "wrong sign",
        r"\delta^{(L)} = y - a^{(L)}",
        r"\delta^{(L)} = a^{(L)} - y",
        ("E", "z", 2),
    ),
    Wrong(
        "xor",
        "wrong sign",
        r"\frac{\partial E}{\partial a^{(L)}} = \frac{y - a^{(L)}}{a^{(L)}(1 - a^{(L)})}",
        r"\frac{\partial E}{\partial a^{(L)}} = \frac{a^{(L)} - y}{a^{(L)}(1 - a^{(L)})}",
    ),
    Wrong(
        "classifier",
        "wrong sign",
        r"\frac{\partial a_i^{(L)}}{\partial z_j^{(L)}} = a_i^{(L)}(a_j^{(L)} - \delta_{ij})",
        r"\frac{\partial a_i^{(L)}}{\partial z_j^{(L)}} = a_i^{(L)}(\delta_{ij} - a_j^{(L)})",
    ),
    Wrong(
        "multi_node",
        "wrong sign",
        r"z_j^{(l)} = \sum_{k=1}^{n^{(l-1)}} w_{jk}^{(l)} a_k^{(l-1)} - b_j^{(l)}",
        r"z_j^{(l)} = \sum_{k=1}^{n^{(l-1)}} w_{jk}^{(l)} a_k^{(l-1)} + b_j^{(l)}",
    ),
    Wrong(
        "classifier",
        "wrong sign",
        r"E = \sum_{j=1}^{n^{(L)}} y_j \log(a_j^{(L)})",
        r"E = -\sum_{j=1}^{n^{(L)}} y_j \log(a_j^{(L)})",
    ),
    # -- a sum over the wrong index, or none
    Wrong(
        "multi_node",
        "sum over the wrong index",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = \sum_{{k=1}}^{{n^{{(l-1)}}}} "
        rf"w_{{jk}}^{{(l)}} "
        rf"\sigma{P}(z_j^{{(l)}}) \frac{{\partial E}}{{\partial a_j^{{(l)}}}}",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = \sum_{{j=1}}^{{n^{{(l)}}}} "
        rf"w_{{jk}}^{{(l)}} "
        rf"\sigma{P}(z_j^{{(l)}}) \frac{{\partial E}}{{\partial a_j^{{(l)}}}}",
    ),
    Wrong(
        "multi_node",
        "sum over the wrong index",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = \sum_{{j=1}}^{{n^{{(l-1)}}}} "
        rf"w_{{jk}}^{{(l)}} "
        rf"\sigma{P}(z_j^{{(l)}}) \frac{{\partial E}}{{\partial a_j^{{(l)}}}}",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = \sum_{{j=1}}^{{n^{{(l)}}}} "
        rf"w_{{jk}}^{{(l)}} "
        rf"\sigma{P}(z_j^{{(l)}}) \frac{{\partial E}}{{\partial a_j^{{(l)}}}}",
    ),
    Wrong(
        "classifier",
        "sum over the wrong index",
        r"\frac{\partial E}{\partial a_k^{(1)}} = \sum_{k=1}^{n^{(1)}} w_{jk}^{(2)} "
        r"(a_j^{(2)} - y_j)",
        r"\frac{\partial E}{\partial a_k^{(1)}} = \sum_{j=1}^{n^{(2)}} w_{jk}^{(2)} "
        r"(a_j^{(2)} - y_j)",
    ),
    Wrong(
        "classifier",
        "sum over the wrong index",
        r"\frac{\partial E}{\partial z_j^{(L)}} = \sum_{i=1}^{n^{(L)}} "
        r"\frac{\partial a_i^{(L)}}{\partial z_i^{(L)}} \frac{\partial E}{\partial a_i^{(L)}}",
        r"\frac{\partial E}{\partial z_j^{(L)}} = \sum_{i=1}^{n^{(L)}} "
        r"\frac{\partial a_i^{(L)}}{\partial z_j^{(L)}} \frac{\partial E}{\partial a_i^{(L)}}",
        ("E", "z", 2),
    ),
    Wrong(
        "multi_node",
        "sum over the wrong index",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = w_{{jk}}^{{(l)}} \sigma{P}(z_j^{{(l)}}) "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
        rf"\frac{{\partial E}}{{\partial a_k^{{(l-1)}}}} = \sum_{{j=1}}^{{n^{{(l)}}}} "
        rf"w_{{jk}}^{{(l)}} "
        rf"\sigma{P}(z_j^{{(l)}}) \frac{{\partial E}}{{\partial a_j^{{(l)}}}}",
    ),
    Wrong(
        "classifier",
        "sum over the wrong index",
        r"E = - y_j \log(a_j^{(L)})",
        r"E = - \sum_{j=1}^{n^{(L)}} y_j \log(a_j^{(L)})",
    ),
    # -- off by one layer
    Wrong(
        "multi_node",
        "off-by-one layer",
        rf"\frac{{\partial E}}{{\partial w_{{jk}}^{{(l)}}}} = a_k^{{(l)}} \sigma{P}(z_j^{{(l)}}) "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
        rf"\frac{{\partial E}}{{\partial w_{{jk}}^{{(l)}}}} = a_k^{{(l-1)}} \sigma{P}(z_j^{{(l)}}) "
        r"\frac{\partial E}{\partial a_j^{(l)}}",
    ),
    Wrong(
        "seed_chain",
        "off-by-one layer",
        rf"\frac{{\partial E}}{{\partial w^{{(L)}}}} = 2(a^{{(L)}} - y) \sigma{P}(z^{{(L)}}) "
        rf"a^{{(L)}}",
        rf"\frac{{\partial E}}{{\partial w^{{(L)}}}} = 2(a^{{(L)}} - y) \sigma{P}(z^{{(L)}}) "
        r"a^{(L-1)}",
    ),
    Wrong(
        "xor",
        "off-by-one layer",
        r"\frac{\partial E}{\partial W^{(l)}} = \delta^{(l)} (a^{(l)})^T",
        r"\frac{\partial E}{\partial W^{(l)}} = \delta^{(l)} (a^{(l-1)})^T",
    ),
    # -- the activation's derivative
    Wrong(
        "xor",
        "activation derivative",
        r"\frac{\partial a_j^{(1)}}{\partial z_j^{(1)}} = 1 - a_j^{(1)}",
        r"\frac{\partial a_j^{(1)}}{\partial z_j^{(1)}} = 1 - (a_j^{(1)})^2",
        ("a", "z", 1),
    ),
    Wrong(
        "classifier",
        "activation derivative",
        rf"\frac{{\partial E}}{{\partial b_j^{{(1)}}}} = \sigma{P}(a_j^{{(1)}}) "
        r"\frac{\partial E}{\partial a_j^{(1)}}",
        rf"\frac{{\partial E}}{{\partial b_j^{{(1)}}}} = \sigma{P}(z_j^{{(1)}}) "
        r"\frac{\partial E}{\partial a_j^{(1)}}",
        ("E", "b", 1),
    ),
    Wrong(
        "seed_chain",
        "activation derivative",
        r"\frac{\partial a^{(L)}}{\partial z^{(L)}} = z^{(L)}(1 - z^{(L)})",
        r"\frac{\partial a^{(L)}}{\partial z^{(L)}} = a^{(L)}(1 - a^{(L)})",
    ),
    # -- the loss
    Wrong(
        "xor",
        "fused output delta",
        rf"\delta^{{(L)}} = (a^{{(L)}} - y) \odot \sigma{P}(z^{{(L)}})",
        r"\delta^{(L)} = a^{(L)} - y",
        ("E", "z", 2),
    ),
    Wrong(
        "classifier",
        "wrong loss",
        r"E = \sum_{j=1}^{n^{(L)}} (a_j^{(L)} - y_j)^2",
        r"E = \sum_{j=1}^{n^{(L)}} - y_j \log(a_j^{(L)})",
    ),
    # -- a term of a sum left out: the bias of z, one term of the binary cross-entropy
    Wrong(
        "multi_node",
        "missing term",
        r"z_j^{(2)} = \sum_{k=1}^{n^{(1)}} w_{jk}^{(2)} a_k^{(1)}",
        r"z_j^{(2)} = \sum_{k=1}^{n^{(1)}} w_{jk}^{(2)} a_k^{(1)} + b_j^{(2)}",
    ),
    Wrong(
        "xor",
        "missing term",
        r"z_j^{(1)} = \sum_{k=1}^{n^{(0)}} w_{jk}^{(1)} x_k",
        r"z_j^{(1)} = \sum_{k=1}^{n^{(0)}} w_{jk}^{(1)} x_k + b_j^{(1)}",
    ),
    Wrong(
        "xor",
        "missing term",
        r"E = -y \log(a^{(L)})",
        r"E = -y \log(a^{(L)}) - (1 - y) \log(1 - a^{(L)})",
    ),
    Wrong(
        "multi_node",
        "bias gradient",
        r"\frac{\partial E}{\partial b^{(l)}} = \delta^{(l)} \odot a^{(l-1)}",
        r"\frac{\partial E}{\partial b^{(l)}} = \delta^{(l)}",
    ),
]

REQUIRED_MISTAKES = {
    "softmax elementwise",
    "missing factor",
    "sigma' at the wrong layer",
    "transpose",
    "w_kj for w_jk",
    "missing sigma'",
    "wrong sign",
    "sum over the wrong index",
    "missing term",
}


def wrong_id(w: Wrong) -> str:
    number = [x for x in WRONG if x.mistake == w.mistake].index(w) + 1
    return f"{w.net}-{w.mistake.replace(' ', '_')}-{number}"


def test_the_corpus_is_large_and_varied() -> None:
    assert len(WRONG) >= 40
    assert len({(w.net, w.wrong) for w in WRONG}) == len(WRONG)
    assert {w.mistake for w in WRONG} >= REQUIRED_MISTAKES
    assert {"seed_chain", "single_neuron", "multi_node", "xor", "classifier"} <= {
        w.net for w in WRONG
    }


@pytest.mark.parametrize("case", WRONG, ids=wrong_id)
def test_a_wrong_formula_is_never_accepted(case: Wrong) -> None:
    verdict = verify(network(case.net), case.wrong)
    assert not verdict.holds, verdict.reason
    if not verdict.applies:  # checked nowhere: it said why, and that is no "holds" either
        assert verdict.reason.startswith("does not apply: "), verdict.reason
        return
    assert re.match(r"(the \w+ '=' )?does not hold", verdict.reason), verdict.reason
    instance = verdict.instance
    if instance is not None and instance.left is not None and instance.right is not None:
        assert not math.isclose(instance.left, instance.right, rel_tol=1e-6, abs_tol=1e-12)


@pytest.mark.parametrize("case", WRONG, ids=wrong_id)
def test_the_formula_it_gets_wrong_holds(case: Wrong) -> None:
    verdict = verify(network(case.net), case.right)
    assert verdict.holds, verdict.reason
    assert verdict.applies and verdict.checked > 0


def test_a_wrong_formula_exits_1_and_its_correction_0(capsys: pytest.CaptureFixture[str]) -> None:
    for case in [w for w in WRONG if w.mistake == "softmax elementwise"][:4]:
        assert verify_module.main(["verify", case.net, case.wrong]) == 1
        assert verify_module.main(["verify", case.net, case.right]) == 0
    out = capsys.readouterr().out
    assert out.count("does not hold") == 4 and out.count("holds: checked") == 4


# ---------------------------------------------------------------- naming the mistake

#: The mistake each wrong formula makes, named by hand from the formula and its correction
#: (not from verify's answer); None: no known mistake explains it (a wrong activation or loss);
#: "-": it does not apply to its network, so there is nothing to diagnose.
DIAGNOSIS: dict[str, str | None] = {
    **{f"classifier-softmax_elementwise-{n}": "softmax elementwise" for n in range(1, 14)},
    "classifier-softmax_elementwise-7": "sign",  # a_j(1 + a_j) for the diagonal a_j(1 - a_j)
    "classifier-softmax_elementwise-8": "sign",
    "deep_softmax-softmax_elementwise-14": "softmax elementwise",
    "deep_softmax-softmax_elementwise-15": "softmax elementwise",
    "deep_softmax-softmax_elementwise-16": None,  # the logistic function for softmax
    "seed_chain-missing_factor-1": "constant factor",  # the 2 of 2(a - y)
    "multi_node-missing_factor-2": "constant factor",
    "multi_node-missing_factor-3": "missing factor",  # a_k^{(l-1)}
    "xor-missing_factor-4": "missing factor",
    "single_neuron-missing_factor-5": "missing factor",  # x_k
    **{
        f"{net}-sigma'_at_the_wrong_layer-{n}": "sigma' at the wrong layer"
        for net, n in [("seed_chain", 1), ("seed_chain", 2), ("square", 3), ("xor", 4)]
    },
    "square-transpose-1": "missing transpose",
    "square-transpose-2": "transposed",  # a δ^T for δ a^T
    "multi_node-transpose-3": "missing transpose",
    "classifier-transpose-4": "missing transpose",
    "square-transpose-5": "extra transpose",
    "square-w_kj_for_w_jk-1": "w_kj for w_jk",
    "multi_node-w_kj_for_w_jk-2": "w_kj for w_jk",
    "square-w_kj_for_w_jk-3": "w_kj for w_jk",
    "multi_node-w_kj_for_w_jk-4": "swapped indices",  # j and k exchanged throughout
    "multi_node-missing_sigma'-1": "missing sigma'",
    "xor-missing_sigma'-2": "missing sigma'",
    "seed_chain-missing_sigma'-3": "missing sigma'",
    "single_neuron-missing_sigma'-4": "missing sigma'",
    "single_neuron-missing_sigma'-5": "-",
    **{
        f"{net}-wrong_sign-{n}": "sign"
        for n, net in enumerate(
            ["multi_node", "classifier", "xor", "classifier", "multi_node", "classifier"], 1
        )
    },
    "multi_node-sum_over_the_wrong_index-1": "sum over the wrong index",
    "multi_node-sum_over_the_wrong_index-2": "sum over the wrong layer's units",
    "classifier-sum_over_the_wrong_index-3": "sum over the wrong index",
    "classifier-sum_over_the_wrong_index-4": "wrong index",  # ∂a_i/∂z_i for ∂a_i/∂z_j
    "multi_node-sum_over_the_wrong_index-5": "missing sum",
    "classifier-sum_over_the_wrong_index-6": "missing sum",
    "multi_node-off-by-one_layer-1": "wrong layer",
    "seed_chain-off-by-one_layer-2": "wrong layer",
    "xor-off-by-one_layer-3": "wrong layer",
    "xor-activation_derivative-1": "activation derivative",  # 1 - a for tanh's 1 - a^2
    "classifier-activation_derivative-2": "sigma' at a",
    "seed_chain-activation_derivative-3": "activation derivative",  # in z, not in a
    "xor-fused_output_delta-1": "extra sigma'",  # binary cross-entropy cancels it
    "classifier-wrong_loss-1": None,
    **{
        f"{net}-missing_term-{n}": "missing term"
        for n, net in enumerate(["multi_node", "xor", "xor"], 1)
    },
    "multi_node-bias_gradient-1": "extra factor",
}


def test_every_wrong_formula_has_its_mistake_named_by_hand() -> None:
    assert set(DIAGNOSIS) == {wrong_id(w) for w in WRONG}
    kinds = {k for k in DIAGNOSIS.values() if k not in (None, "-")}
    assert len(kinds) >= 15


@pytest.mark.parametrize("case", WRONG, ids=wrong_id)
def test_the_mistake_is_named(case: Wrong) -> None:
    """The diagnosis is the mistake named by hand, never another; its repair holds, and where
    the true derivative is known (finite differences) the repair's right side equals it."""
    expected = DIAGNOSIS[wrong_id(case)]
    net = network(case.net)
    verdict = verify(net, case.wrong)
    if expected == "-":
        assert not verdict.applies and verdict.diagnosis is None
        return
    diagnosis = verdict.diagnosis
    assert diagnosis is not None, verdict.reason
    assert diagnosis.kind == expected, (diagnosis.kind, diagnosis.message)
    if expected is None:
        assert diagnosis.message == "no known mistake explains it" and not diagnosis.repaired
        return
    assert diagnosis.message
    if diagnosis.repaired is None:  # softmax elementwise in vector form: no rule to quote
        assert expected == "softmax elementwise"
        return
    repaired = verify(net, diagnosis.repaired)
    assert repaired.holds and repaired.checked > 0, (diagnosis.repaired, repaired.reason)
    if case.truth is not None and verdict.instance is not None:
        instance = verdict.instance
        units = [value - 1 for _, value in instance.indices] or [0]
        if case.truth[1] == "w" and len(units) == 1:
            units = [0, *units]
        true = _true_derivative(net, instance.point - 1, case.truth, units)
        assert instance.left == pytest.approx(true, rel=1e-6, abs=1e-9)


def test_a_constant_factor_names_the_2() -> None:
    verdict = verify(
        network("multi_node"), r"\frac{\partial E}{\partial a_j^{(L)}} = a_j^{(L)} - y_j"
    )
    assert verdict.diagnosis is not None
    assert verdict.diagnosis.message.startswith("your right side is half the correct one: the 2")
    # the repair is the student's own text with the 2 put back: 2 (a - y), by hand
    assert verdict.diagnosis.repaired == (
        r"\frac{\partial E}{\partial a_j^{(L)}} = 2 \left(a_j^{(L)} - y_j\right)"
    )


def test_the_hint_for_a_concrete_sigma_prime_quotes_the_concrete_form() -> None:
    verdict = verify(network("xor"), r"\sigma'(z_j^{(1)}) = 1 - a_j^{(1)}")  # layer 1 is tanh
    assert verdict.correct is not None
    assert verdict.correct.endswith(r"= 1 - \left(a_{j}^{(1)}\right)^{2}"), verdict.correct
    assert "\\sigma'" not in verdict.correct.split("=", 1)[1]
    assert verdict.diagnosis is not None and verdict.diagnosis.kind == "activation derivative"
    assert "(tanh)" in verdict.diagnosis.message


def test_a_diagnosis_is_never_a_repair_that_fails() -> None:
    """A formula no single known mistake explains (two mistakes at once) is not diagnosed."""
    two = (  # w_kj for w_jk, and σ' missing
        r"\frac{\partial E}{\partial a_k^{(l-1)}} = \sum_{j=1}^{n^{(l)}} w_{kj}^{(l)} "
        r"\frac{\partial E}{\partial a_j^{(l)}}"
    )
    verdict = verify(network("square"), two)
    assert verdict.diagnosis is not None and verdict.diagnosis.kind is None


# ---------------------------------------------------------------- the truth, independently


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        out = 1.0 / (1.0 + np.exp(-z))
    elif name == "tanh":
        out = np.tanh(z)
    elif name == "softmax":
        e = np.exp(z - z.max())
        out = e / e.sum()
    else:
        raise AssertionError(name)
    return np.asarray(out, dtype=np.float64)


def _loss(name: str, a: np.ndarray, y: np.ndarray) -> float:
    if name == "squared_error":
        return float(((a - y) ** 2).sum())
    if name == "cross_entropy":
        return float(-(y * np.log(a)).sum())
    if name == "binary_cross_entropy":
        return float(-(y * np.log(a) + (1 - y) * np.log(1 - a)).sum())
    raise AssertionError(name)


def _forward(
    net: Network,
    W: dict[int, np.ndarray],
    b: dict[int, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    nudge: tuple[str, int, int, int, float] | None = None,
) -> tuple[float, dict[int, np.ndarray]]:
    """E and the activations, with one of z_j^(m), w_jk^(m), b_j^(m), a_j^(m) nudged by h."""
    W = {m: w.copy() for m, w in W.items()}
    b = {m: v.copy() for m, v in b.items()}
    kind, layer, j, k, h = nudge or ("", 0, 0, 0, 0.0)
    if kind == "w":
        W[layer][j, k] += h
    if kind == "b":
        b[layer][j, 0] += h
    a = {0: x.copy()}
    if kind == "a" and layer == 0:
        a[0][j, 0] += h
    for m, spec in enumerate(net.layers, start=1):
        z = W[m] @ a[m - 1] + b[m]
        if kind == "z" and layer == m:
            z[j, 0] += h
        a[m] = _act(spec.activation.name, z)
        if kind == "a" and layer == m:
            a[m][j, 0] += h
    return _loss(net.loss.name, a[net.depth], y), a


def _true_derivative(
    net: Network, seed: int, truth: tuple[str, str, int], units: list[int]
) -> float:
    """∂num/∂den at the random point `seed` (the parameters verify draws), by central
    differences of the forward pass above; `units` from 0: the numerator's, then the
    denominator's (for w: j, k)."""
    num, den, m = truth
    point = Point(net, seed)
    args = (net, point.W, point.b, point.a[0], point.y)
    h = 1e-6
    j = units[-2] if den == "w" else units[-1]
    k = units[-1] if den == "w" else 0
    up = _forward(*args, nudge=(den, m, j, k, h))
    down = _forward(*args, nudge=(den, m, j, k, -h))
    if num == "E":
        return (up[0] - down[0]) / (2 * h)
    return float((up[1][m][units[0], 0] - down[1][m][units[0], 0]) / (2 * h))


def test_the_forward_pass_here_is_the_networks() -> None:
    """The independent forward pass agrees with verify's point (so its parameters are read
    right), on every network of the corpus."""
    for name in sorted({w.net for w in WRONG}):
        net = network(name)
        point = Point(net, 5)
        energy, a = _forward(net, point.W, point.b, point.a[0], point.y)
        assert energy == pytest.approx(point.E, rel=1e-12)
        np.testing.assert_allclose(a[net.depth], point.a[net.depth], rtol=1e-12)


TRUTH = [w for w in WRONG if w.truth is not None]


@pytest.mark.parametrize("case", TRUTH, ids=wrong_id)
def test_the_counterexample_is_the_true_derivative(case: Wrong) -> None:
    """The left side at the counterexample is the true derivative: finite differences of an
    independent forward pass; and the right side is not."""
    assert case.truth is not None
    net = network(case.net)
    verdict = verify(net, case.wrong)
    instance = verdict.instance
    assert instance is not None and instance.left is not None and instance.right is not None
    units = [value - 1 for _, value in instance.indices] or [0]
    if case.truth[1] == "w" and len(units) == 1:
        units = [0, *units]
    true = _true_derivative(net, instance.point - 1, case.truth, units)
    assert instance.left == pytest.approx(true, rel=1e-6, abs=1e-9)
    assert instance.right != pytest.approx(true, rel=1e-6, abs=1e-9)


# ---------------------------------------------------------------- what derive prints


def _layer_value(layer: sympy.Expr, l_value: int, depth: int) -> int:
    return int(layer.subs({nt.l_sym: l_value, nt.L_sym: depth}))


def sides(eq: Equation) -> tuple[sympy.Expr, ...]:
    return (eq.lhs, *eq.rhs)


def layer_values(exprs: tuple[sympy.Expr, ...], depth: int) -> list[int]:
    """The values of l for which every quantity of the expressions exists (a's from layer 0,
    the rest from layer 1, none above L); [0] when they have no l."""
    quantities = [q for e in exprs for q in e.atoms(nt.LayerQuantity)]
    if not any(nt.l_sym in e.free_symbols for e in exprs):
        return [0]
    lowest = [0 if isinstance(q, nt.Act | nt.Width) else 1 for q in quantities]
    out = []
    for v in range(depth + 1):
        layers = [_layer_value(q.layer, v, depth) for q in quantities]
        if all(low <= m <= depth for low, m in zip(lowest, layers, strict=True)):
            out.append(v)
    return out


def elementwise_at_softmax(eq: Equation, net: Network) -> list[int]:
    """The values of l at which the equation uses a layer's derivative elementwise (σ'(z_j),
    ∂a_j/∂z_j, a Hadamard product with σ'(z)) at a layer that is softmax."""
    softmax = {m for m, layer in enumerate(net.layers, start=1) if layer.activation.is_softmax}
    layers: list[sympy.Expr] = []
    for expr in (eq.lhs, *eq.rhs):
        for sp in expr.atoms(nt.SigmaPrime):
            arg = sp.args[0]
            if isinstance(arg, nt.Pre) and arg.indices:
                layers.append(arg.layer)
        for hadamard in expr.atoms(nt.Hadamard):
            for arg in hadamard.args:
                if isinstance(arg, nt.SigmaPrime) and isinstance(arg.args[0], nt.Pre):
                    layers.append(arg.args[0].layer)
        for part in expr.atoms(nt.Partial):
            num, den = part.args
            same = isinstance(num, nt.Act) and isinstance(den, nt.Pre) and bool(num.indices)
            if same and num.indices == den.indices and num.layer == den.layer:
                layers.append(num.layer)
    return [
        v
        for v in layer_values(sides(eq), net.depth)
        if any(_layer_value(layer, v, net.depth) in softmax for layer in layers)
    ]


def deeper(net: Network) -> Network:
    """The network with one more hidden layer (2 units, the first layer's activation) in front:
    where a general rule with no layer on `net` has one."""
    first = net.layers[0].activation
    hidden = Layer(2, first if not first.is_softmax else activation("tanh"))
    return Network(
        name=f"{net.name}_deeper", inputs=net.inputs, layers=(hidden, *net.layers), loss=net.loss
    )


@dataclass(frozen=True)
class Printed:
    net: str
    number: int  # position in all_equations()
    step: int  # which rhs
    text: str
    no_layer: bool
    elementwise_softmax: bool  # it is left out at some l, a softmax layer
    only_softmax: bool  # and that is every l it has on the network


@lru_cache(maxsize=1)
def printed() -> list[Printed]:
    out = []
    for name in PRINTED:
        net = network(name)
        for number, eq in enumerate(derivation(name).all_equations()):
            softmax = elementwise_at_softmax(eq, net)
            only = bool(softmax) and softmax == layer_values(sides(eq), net.depth)
            for step, rhs in enumerate(eq.rhs, start=1):
                text = f"{latex(eq.lhs)} = {latex(rhs)}"
                no_layer = not layer_values((eq.lhs, rhs), net.depth)
                out.append(Printed(name, number, step, text, no_layer, bool(softmax), only))
    return out


def printed_id(p: Printed) -> str:
    eq = derivation(p.net).all_equations()[p.number]
    return f"{p.net}-{eq.view}-{eq.kind}-{eq.layer}-{p.number}.{p.step}"


def test_every_example_prints_equations() -> None:
    counts = {name: sum(p.net == name for p in printed()) for name in PRINTED}
    assert all(count >= 10 for count in counts.values()), counts


SKIPPED_SOFTMAX = "not at the softmax output l = "


@pytest.mark.parametrize("case", printed(), ids=printed_id)
def test_every_printed_step_holds(case: Printed) -> None:
    net = network(case.net)
    verdict = verify(net, case.text)
    if case.no_layer:
        assert not verdict.holds and not verdict.applies, verdict.reason
        assert verdict.reason.startswith("does not apply: "), verdict.reason
        verdict = verify(deeper(net), case.text)
        assert verdict.holds and verdict.checked > 0, verdict.reason
        return
    if case.only_softmax:  # a rule for elementwise layers, on a network with none at its l
        assert not verdict.holds and not verdict.applies, verdict.reason
        assert verdict.reason.startswith("does not apply: ") and "softmax" in verdict.reason
        return
    assert verdict.holds, f"{case.text}\n{verdict.reason}"
    assert verdict.applies and verdict.checked > 0
    assert (SKIPPED_SOFTMAX in verdict.reason) == case.elementwise_softmax, verdict.reason


def test_the_printed_rules_for_elementwise_layers_are_there() -> None:
    """The exception above is exercised: classifier prints hidden-layer rules with σ'."""
    assert any(p.elementwise_softmax for p in printed() if p.net == "classifier")


def excused(name: str) -> set[str]:
    """LaTeX left-hand sides of the documented exceptions: general rules with no layer l, or
    with none but softmax layers where they read σ' unit by unit."""
    net = network(name)
    out = set()
    for eq in derivation(name).all_equations():
        at = layer_values(sides(eq), net.depth)
        if not at or elementwise_at_softmax(eq, net) == at:
            out.add(latex(eq.lhs))
    return out


def check_document(name: str, document: str) -> None:
    """verify_text on a rendered document: every equation holds, or is one of the exceptions
    and does not apply."""
    net = network(name)
    none = excused(name)
    results = verify_text(net, document)
    assert len(results) == len(derivation(name).all_equations())
    lines = document.splitlines()
    for line, result in results:
        shown = lines[line - 1]
        assert not isinstance(result, LatexError), f"{result.message}: {shown}"
        assert isinstance(result, Verdict)
        if result.holds:
            assert result.checked > 0
            continue
        lhs = re.sub(r"^[\s$]*(\\displaystyle)?\s*", "", shown).split("&", 1)[0].strip()
        assert lhs in none and not result.applies, f"{shown}\n{result.reason}"


@pytest.mark.parametrize("fmt", ["latex", "beamer", "markdown"])
@pytest.mark.parametrize("name", PRINTED)
def test_every_rendered_document_verifies(name: str, fmt: str) -> None:
    check_document(name, render(derivation(name), fmt))  # type: ignore[arg-type]
