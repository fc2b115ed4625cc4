"""SymPy objects for the lecture's symbols: a, z, w, b, y, n, delta, W, partials, sigma'.

Every printer dispatches on these classes (``_print_Act`` ...), so the derivation holds
expressions, never strings.  Arguments are SymPy objects: the layer (a number, ``l``, ``L``
or an offset such as ``l - 1``) followed by unit indices.
"""

from __future__ import annotations

from typing import Any

import sympy
from sympy import Expr, Function, Integer, Symbol
from sympy.printing.precedence import PRECEDENCE

#: The loss of one sample, the lecture's E.
E = Symbol("E")
#: Layer symbols of the generic equations: any layer, and the last one.
l_sym = Symbol("l", integer=True, positive=True)
L_sym = Symbol("L", integer=True, positive=True)
#: Unit indices: j a unit of layer l, k a unit of layer l-1, i a second unit of layer l.
j = Symbol("j", integer=True, positive=True)
k = Symbol("k", integer=True, positive=True)
i = Symbol("i", integer=True, positive=True)


class LayerQuantity(Function):
    """A per-layer quantity: first argument the layer, then unit indices (none in vector form)."""

    is_real = True
    is_number = False  # a symbol with numeric indices is still a variable, not a constant
    _diff_wrt = True

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None

    @property
    def layer(self) -> Expr:
        return self.args[0]

    @property
    def indices(self) -> tuple[Expr, ...]:
        return tuple(self.args[1:])


class Act(LayerQuantity):
    """a^(l)_j: the output of unit j of layer l; a^(0) is the input."""


class Pre(LayerQuantity):
    """z^(l)_j: the weighted input of unit j of layer l."""


class Weight(LayerQuantity):
    """w^(l)_jk: the weight from unit k of layer l-1 to unit j of layer l."""


class Bias(LayerQuantity):
    """b^(l)_j: the bias of unit j of layer l."""


class Delta(LayerQuantity):
    """delta^(l) = dE/dz^(l): the error signal of layer l (vector form)."""


class Width(LayerQuantity):
    """n^(l): the number of units in layer l."""


class Target(Function):
    """y_j: the target of output unit j (no argument: the vector y)."""

    is_real = True
    is_number = False
    _diff_wrt = True

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None

    @property
    def indices(self) -> tuple[Expr, ...]:
        return tuple(self.args)


class Partial(Function):
    """dnum/dden as a symbol: the lecture's Leibniz notation, never evaluated."""

    is_real = True
    is_number = False
    _diff_wrt = True
    nargs = 2

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class SigmaPrime(Function):
    """sigma'(x): the derivative of the activation of the layer whose z is x."""

    is_real = True
    nargs = 1

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class Sigma(Function):
    """sigma(x): the activation of the layer whose z is x."""

    is_real = True
    nargs = 1

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class Affine(Function):
    """`product + bias` in the order the lecture writes it (W a + b), printed as a sum."""

    nargs = 2

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None

    def doit(self, **hints: Any) -> Expr:
        return sympy.Add(*[arg.doit(**hints) for arg in self.args])


class Softmax(Function):
    """softmax(z): the vector e^(z_i) / sum_m e^(z_m) of a layer's weighted inputs."""

    nargs = 1

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class Chain(Function):
    """An ordered product (printed with cdot): the chain rule as the lecture writes it."""

    is_real = True

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None

    def doit(self, **hints: Any) -> Expr:
        return sympy.Mul(*[arg.doit(**hints) for arg in self.args])


class Transposed(Function):
    """x^T for a vector or matrix of the vectorised form."""

    nargs = 1

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class MatProd(Function):
    """A matrix-vector or outer product of the vectorised form, in the order given."""

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class Hadamard(Function):
    """The elementwise product x (.) y (odot) of the vectorised form."""

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class Jacobian(Function):
    """d a_i / d z_j of a vector-valued activation (softmax), kept as one symbol."""

    nargs = 2

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


def layer_offset(layer: Expr, offset: int) -> Expr:
    """The layer `offset` away from `layer` (numbers stay numbers, symbols become l-1 ...)."""
    return sympy.Add(layer, Integer(offset))


class Elementwise(Function):
    """A scalar expression in vector quantities, applied elementwise (products print as odot)."""

    nargs = 1

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class WeightMatrix(LayerQuantity):
    """W^(l): the weight matrix of layer l in the vectorised form (row j holds w_jk^(l))."""


class Decay(Function):
    """A regularisation strength: Decay(2) is λ of the L2 penalty λ Σ w², Decay(1) λ₁ of the
    L1 penalty λ₁ Σ |w|; a second argument, the layer, where the layers' strengths differ."""

    is_real = True
    is_nonnegative = True
    is_number = False

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None

    @property
    def order(self) -> int:
        return int(self.args[0])

    @property
    def layer(self) -> Expr | None:
        return self.args[1] if len(self.args) > 1 else None


# ---------------------------------------------------------------- feature maps (conv, pooling)


class _Operator(Function):
    """A whole-array operation of the vectorised form, never evaluated; its settings (stride,
    padding, window, shapes) are trailing Tuples of Integers that only the code printers use."""

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class Correlate(_Operator):
    """W ⋆ a: every filter of W correlated with the feature maps a and summed over their
    channels; args W, a, stride, padding."""


class KernelGradient(_Operator):
    """a ⋆ δ: the input's feature maps correlated with δ, per pair of channels (∂E/∂W of a
    convolution); args a, δ, kernel, stride, padding."""


class InputGradient(_Operator):
    """δ ⋆full rot180(W): δ (dilated by the stride) fully correlated with the kernels turned by
    180°, the padding cropped (∂E/∂a of a convolution's input); args δ, W, shape, stride,
    padding."""


class PerChannel(_Operator):
    """b added to every position of its channel's feature map; printed as b itself; args b and
    the number of spatial axes (2 for images, 1 for sequences)."""


class MapSum(_Operator):
    """Σ_{i,j} x_{:,i,j}: each channel's feature map summed over its positions; args x and the
    number of spatial axes."""


class Pool(_Operator):
    """maxpool(a) or avgpool(a); args the operation (Symbol max or avg), a, window, stride."""


class PoolGradient(_Operator):
    """∂E/∂a^(l-1) of a pooling layer from ∂E/∂a^(l): routed to each window's maximum, or
    spread evenly over it; args the operation, ∂E/∂a^(l), a^(l-1), a^(l), the input's shape,
    window, stride."""


class Flatten(_Operator):
    """vec(a): the feature maps as one vector, channel by channel, row by row."""


class Unflatten(_Operator):
    """vec⁻¹(x): a vector as feature maps of the given shape; args x, shape."""


class Upstream(LayerQuantity):
    """∂E/∂a^(l) as a whole array, computed by the layer above and named in generated code."""


class WindowMax(Function):
    """max over a pooling window: args the expression, then (u, 0, K-1) and (v, 0, K-1)."""

    is_real = True

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class IsArgmax(Function):
    """1 where (p, q) is the position of the window's (first) maximum, else 0; args the layer,
    channel, window position i, j, and input position p, q."""

    is_real = True

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


class InWindow(Function):
    """1 where input position (p, q) lies in window (i, j), else 0; args p, q, i, j, stride
    (sh, sw) and window (kh, kw) as Tuples."""

    is_real = True

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None


# ---------------------------------------------------------------- normalisation layers

#: The index of a sample in a batch (batch normalisation's sums run over it), from 1 to n.
s_sym = Symbol("s", integer=True, positive=True)
#: A second sample index, for sums inside an equation about sample s.
r_sym = Symbol("r", integer=True, positive=True)
#: The batch size n (the lecture's minibatch average divides by it).
n_batch = Symbol("n")
#: ε of a normalisation layer, added to the variance before its square root.
EPS = Symbol("epsilon", positive=True)


class Gain(LayerQuantity):
    """γ_j^(l): the learnt scale of unit j of a normalisation layer."""


class Shift(LayerQuantity):
    """β_j^(l): the learnt shift of unit j of a normalisation layer."""


class Mean(LayerQuantity):
    """μ^(l): the mean a normalisation layer subtracts (a sample's, over its units, for layer
    norm; each unit's over the batch, μ_j^(l), for batch norm)."""


class Variance(LayerQuantity):
    """(σ^(l))²: the variance a normalisation layer divides by (its square root, after ε)."""


class Normalized(LayerQuantity):
    """x̂_j^(l): unit j of a^(l-1) normalised, (a_j^(l-1) − μ^(l)) / √((σ^(l))² + ε)."""


class NormalizedGradient(LayerQuantity):
    """∂E/∂x̂^(l) as a whole array, named in generated code (dE_dxhat<l>)."""


class Terms(Function):
    """A sum printed in the order its terms are given (SymPy's Add orders them itself), minus
    signs for negative terms: the order a slide writes, e.g. (σ²)+ε or n g − Σ g − x̂ Σ g x̂."""

    is_real = True
    precedence = PRECEDENCE["Add"]

    @classmethod
    def eval(cls, *args: Any) -> None:
        return None

    def doit(self, **hints: Any) -> Expr:
        return sympy.Add(*[arg.doit(**hints) for arg in self.args])


class Average(_Operator):
    """(1/count) Σ_index x: x averaged over the units of a sample (index k) or over the samples
    of the batch (index s); args x, the index, the count (n^(l-1) or n)."""


class Total(_Operator):
    """Σ_index x: x summed over the units of a sample (index k) or over the batch (index s);
    args x, the index."""


class Running(_Operator):
    """A batch statistic in training, its running average in inference (generated code only:
    `value if stats is None else stats[name]`); args the batch's value and the name (Symbol)."""
