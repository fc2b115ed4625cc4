"""NumPy statements that evaluate an elementwise expression into a preallocated buffer.

The training step's hot path: instead of `out = a * (1 - a)` (two fresh temporaries), emit
`np.subtract(1.0, a, out=out)` then `out *= a`, reusing scratch buffers.  Shapes that have no
in-place translation fall back to `out[...] = <expression>`, which is correct but allocates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import sympy
from sympy import Expr

from .. import notation as n
from ..rewrite import Logistic, LogSigmoid, Softplus, expm1, log1p
from .numpy import LINE_WIDTH, UnsupportedInCode, numpy_code


class Line(str):
    """A statement's code, and the names of the network's arrays it reads as operands (not the
    buffer it writes, nor partial results in buffers): liveness is decided from these, never
    from the code text."""

    reads: frozenset[str]

    def __new__(cls, code: str, reads: Iterable[str] = ()) -> Line:
        line = super().__new__(cls, code)
        line.reads = frozenset(reads)
        return line


def reading(name: str, lines: list[Line]) -> list[int]:
    """Indices of the statements that read the array `name`."""
    return [index for index, line in enumerate(lines) if name in line.reads]


def _names(*operands: Expr | str) -> set[str]:
    """The arrays of the network an operand reads: the quantities in an expression.  A name
    (the out buffer or a scratch buffer, holding a partial result) reads none of them."""
    found: set[str] = set()
    for operand in operands:
        if not isinstance(operand, str):
            leaves = operand.atoms(n.LayerQuantity, n.Target, sympy.Symbol)
            found |= {numpy_code(leaf) for leaf in leaves}
    return found


@dataclass
class InPlace:
    """Statements writing an expression into `out`, with scratch buffers named `scratch{i}`.

    Names in `scalars` are plain numbers at run time (an optimiser's hyper-parameters and step
    count): a sub-expression over them alone is one operand, printed by `printer`, never an
    array computed into a buffer."""

    scratch_prefix: str
    lines: list[Line] = field(default_factory=list)
    scratch_used: int = 0
    _free: list[str] = field(default_factory=list)
    scalars: frozenset[sympy.Symbol] = frozenset()
    printer: Callable[[Expr], str] = numpy_code

    def _is_scalar(self, expr: Expr) -> bool:
        """An operand over the scalar names only (and numbers): one Python number."""
        return bool(self.scalars) and not expr.is_Number and expr.free_symbols <= self.scalars

    def _is_leaf(self, expr: Expr) -> bool:
        return _is_leaf(expr) or self._is_scalar(expr)

    def _leaf(self, expr: Expr) -> str:
        return self.printer(expr) if self._is_scalar(expr) else _leaf(expr)

    def _negated_leaf(self, expr: Expr) -> Expr | None:
        coeff, rest = expr.as_coeff_Mul()
        return rest if coeff == -1 and self._is_leaf(rest) else None

    def _signed_leaf(self, expr: Expr) -> tuple[int, Expr] | None:
        if self._is_leaf(expr) and not expr.is_Number:
            return 1, expr
        negated = self._negated_leaf(expr)
        return (-1, negated) if negated is not None else None

    def operand(self, expr: Expr) -> str | None:
        """The code of `expr` where it is one operand (an array, a number, a scalar
        sub-expression), else None: it must be computed into a buffer first."""
        return self._leaf(expr) if self._is_leaf(expr) else None

    def scratch(self) -> str:
        """A scratch buffer free for a partial result (give it back with release)."""
        return self._scratch()

    def release(self, name: str) -> None:
        """The scratch buffer `name` holds nothing needed any more."""
        self._free.append(name)

    def _put(self, code: str, *operands: Expr | str) -> None:
        self.lines.append(Line(code, _names(*operands)))

    def _scratch(self) -> str:
        if self._free:
            return self._free.pop()
        self.scratch_used += 1
        return f"{self.scratch_prefix}{self.scratch_used}"

    def emit(self, expr: Expr, out: str) -> None:
        """Append statements that leave the value of `expr` in the buffer `out`."""
        if isinstance(expr, n.Elementwise):
            expr = expr.args[0]
        negated = self._negated_leaf(expr)
        if self._is_leaf(expr):
            self._put(f"np.copyto({out}, {self._leaf(expr)})", expr)
        elif negated is not None:
            self._put(f"np.negative({self._leaf(negated)}, out={out})", negated)
        elif isinstance(expr, sympy.Add):
            self._add(expr, out)
        elif isinstance(expr, sympy.Mul):
            self._mul(expr, out)
        elif _selection(expr) is not None:
            value, condition = _selection(expr)  # type: ignore[misc]
            self.emit(value, out)
            off = sympy.Not(condition)
            scratch = None
            long = len(f"    np.copyto({out}, 0.0, where={numpy_code(off)})") > LINE_WIDTH
            relational = isinstance(off, sympy.core.relational.Relational)
            if long and relational and not self._is_leaf(off.lhs):
                scratch = self._scratch()  # the condition's side first, in a buffer of its own
                self.emit(off.lhs, scratch)
                off = off.func(sympy.Symbol(scratch), off.rhs)
            self._put(f"np.copyto({out}, 0.0, where={numpy_code(off)})", condition)
            if scratch is not None:
                self._free.append(scratch)
        elif isinstance(expr, Logistic):
            self._unary(expr.args[0], out, lambda src: f"np.multiply({src}, 0.5, out={out})")
            for code in (f"np.tanh({out}, out={out})", f"{out} *= 0.5", f"{out} += 0.5"):
                self._put(code)
        elif isinstance(expr, LogSigmoid):  # -log(1 + e^(-u)), kept above the lowest float
            self._unary(-expr.args[0], out, lambda src: f"np.logaddexp(0.0, {src}, out={out})")
            self._put(f"np.negative({out}, out={out})")
            self._put(f"np.maximum({out}, np.finfo({out}.dtype).min, out={out})")
        elif isinstance(expr, Softplus):
            self._unary(expr.args[0], out, lambda src: f"np.logaddexp(0.0, {src}, out={out})")
        elif isinstance(expr, sympy.Pow) and expr.exp == sympy.S.Half:
            self._unary(expr.base, out, lambda src: f"np.sqrt({src}, out={out})")
        elif isinstance(expr, sympy.Pow) and expr.exp == 2:
            self._unary(expr.base, out, lambda src: f"np.multiply({src}, {src}, out={out})")
        elif isinstance(expr, sympy.Function) and type(expr) in _UNARY and len(expr.args) == 1:
            ufunc = _UNARY[type(expr)]
            self._unary(expr.args[0], out, lambda src: f"np.{ufunc}({src}, out={out})")
        elif isinstance(expr, sympy.Max | sympy.Min) and len(expr.args) == 2:
            if all(self._is_leaf(arg) for arg in expr.args):
                ufunc = "maximum" if isinstance(expr, sympy.Max) else "minimum"
                left, right = sorted(expr.args, key=lambda arg: arg.is_Number)
                self._put(
                    f"np.{ufunc}({self._leaf(left)}, {self._leaf(right)}, out={out})", left, right
                )
            else:
                self._put(f"{out}[...] = {numpy_code(expr)}", expr)
        elif isinstance(expr, sympy.Heaviside) and self._is_leaf(expr.args[0]):
            at_zero = numpy_code(sympy.Float(expr.args[1] if len(expr.args) > 1 else 0.5))
            self._put(
                f"np.heaviside({self._leaf(expr.args[0])}, {at_zero}, out={out})", expr.args[0]
            )
        else:
            self._put(f"{out}[...] = {numpy_code(expr)}", expr)

    def _unary(self, arg: Expr, out: str, call: Callable[[str], str]) -> None:
        """A one-argument operation: straight from a leaf, or in place after computing arg."""
        if self._is_leaf(arg):
            self._put(call(self._leaf(arg)), arg)
        else:
            self.emit(arg, out)
            self._put(call(out), out)

    def _add(self, expr: sympy.Add, out: str) -> None:
        if self.scalars:
            scalar = [t for t in expr.args if t.is_Number or self._is_scalar(t)]
            arrays = [t for t in expr.args if t not in scalar]
            if scalar or len(arrays) >= 2:
                self._terms(sorted(arrays, key=self._is_leaf), out)
                if scalar:  # then one addition of the number
                    self._put(f"{out} += {self.printer(sympy.Add(*scalar))}")
                return
        constant, rest = expr.as_coeff_Add()
        terms = sorted(sympy.Add.make_args(rest), key=lambda t: self._signed_leaf(t) != (1, t))
        if constant != 0 and len(terms) == 1 and terms[0].as_coeff_Mul()[0] == -1:
            positive = -terms[0]  # c - x: one subtraction after computing x
            self._unary(
                positive, out, lambda src: f"np.subtract({numpy_code(constant)}, {src}, out={out})"
            )
            return
        first = terms[0]
        second = self._signed_leaf(terms[1]) if len(terms) >= 2 else None
        if self._signed_leaf(first) == (1, first) and second is not None:
            ufunc = "add" if second[0] > 0 else "subtract"
            self._put(
                f"np.{ufunc}({self._leaf(first)}, {self._leaf(second[1])}, out={out})",
                first,
                second[1],
            )
            self._added(terms[2:], out)
        else:
            self._terms(terms, out)
        if constant != 0:
            self._put(f"{out} += {_bare(constant)}")

    def _mul(self, expr: sympy.Mul, out: str) -> None:
        if self.scalars and self._scaled(expr, out):
            return
        coeff, rest = expr.as_coeff_Mul()
        factors = list(sympy.Mul.make_args(rest))
        divides = [isinstance(f, sympy.Pow) and f.exp == -1 for f in factors]
        divisors = [f.base for f, d in zip(factors, divides, strict=True) if d]
        factors = sorted(
            (f for f, d in zip(factors, divides, strict=True) if not d), key=self._is_leaf
        ) or [sympy.S.One]  # 1/(x y): a one to divide
        first = factors[0]
        if len(factors) >= 2 and self._is_leaf(first) and self._is_leaf(factors[1]):
            self._put(
                f"np.multiply({self._leaf(first)}, {self._leaf(factors[1])}, out={out})",
                first,
                factors[1],
            )
            factors = factors[2:]
        else:
            self.emit(first, out)
            factors = factors[1:]
        for factor in factors:
            self._apply(factor, out, "*=")
        for divisor in divisors:
            self._apply(divisor, out, "/=")
        if coeff == -1:
            self._put(f"np.negative({out}, out={out})")
        elif coeff != 1:
            self._put(f"{out} *= {_bare(coeff)}")

    def _terms(self, terms: list[Expr], out: str) -> None:
        """A sum into `out`: the first term computed there, each other added (through a
        scratch buffer where it is not one array)."""
        self.emit(terms[0], out)
        self._added(terms[1:], out)

    def _added(self, terms: list[Expr], out: str) -> None:
        """out += each term: `+= x` or `-= x` for one array, else through a scratch buffer."""
        for term in terms:
            signed = self._signed_leaf(term)
            if signed is not None:
                op = "+=" if signed[0] > 0 else "-="
                self._put(f"{out} {op} {self._leaf(signed[1])}", signed[1])
            else:
                self._apply(term, out, "+=")

    def _scaled(self, expr: sympy.Mul, out: str) -> bool:
        """A product with a number in it: the arrays' product, then one multiplication by the
        number (a quotient by a number becomes a product with its reciprocal); an array over
        another (a / (...)) computes the divisor into `out` and divides once. False for a
        product this cannot shorten."""
        scalar = [f for f in expr.args if f.is_Number or self._is_scalar(f)]
        arrays = [f for f in expr.args if f not in scalar]
        number = sympy.Mul(*scalar)
        if not arrays:
            return False
        if number != 1:
            array = sympy.Mul(*arrays)
            if self._is_leaf(array):
                self._put(
                    f"np.multiply({self._leaf(array)}, {self.printer(number)}, out={out})", array
                )
            else:
                self.emit(array, out)
                self._put(f"{out} *= {self.printer(number)}")
            return True
        divisors = [f.base for f in arrays if isinstance(f, sympy.Pow) and f.exp == -1]
        if len(arrays) == 2 and len(divisors) == 1:
            numerator = next(f for f in arrays if not (isinstance(f, sympy.Pow) and f.exp == -1))
            if self._is_leaf(numerator):
                self.emit(divisors[0], out)
                self._put(f"np.divide({self._leaf(numerator)}, {out}, out={out})", numerator)
                return True
        return False

    def _apply(self, operand: Expr, out: str, op: str) -> None:
        """out op= operand, through a scratch buffer when the operand is not an array."""
        if self._is_leaf(operand):
            self._put(f"{out} {op} {self._leaf(operand)}", operand)
            return
        scratch = self._scratch()
        self.emit(operand, scratch)
        self._put(f"{out} {op} {scratch}", scratch)
        self._free.append(scratch)


_UNARY = {
    sympy.tanh: "tanh",
    sympy.exp: "exp",
    sympy.log: "log",
    sympy.Abs: "abs",
    sympy.sin: "sin",
    sympy.cos: "cos",
    expm1: "expm1",
    log1p: "log1p",
}


def _selection(expr: Expr) -> tuple[Expr, Expr] | None:
    """(value, condition) for `value where condition, else 0` (the rewrite pass's steps)."""
    if isinstance(expr, sympy.Piecewise) and len(expr.args) == 2:
        (value, condition), (other, otherwise) = expr.args
        if otherwise == sympy.true and other == 0 and not value.is_Number:
            return value, condition
    return None


def _bare(number: Expr) -> str:
    """A number on the right of an augmented assignment, where ruff wants no parentheses."""
    text = numpy_code(number)
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def _is_leaf(expr: Expr) -> bool:
    return isinstance(expr, n.LayerQuantity | n.Target | sympy.Symbol) or expr.is_Number


def _leaf(expr: Expr) -> str:
    return numpy_code(expr)


def _negated_leaf(expr: Expr) -> Expr | None:
    coeff, rest = expr.as_coeff_Mul()
    return rest if coeff == -1 and _is_leaf(rest) else None


def _signed_leaf(expr: Expr) -> tuple[int, Expr] | None:
    if _is_leaf(expr) and not expr.is_Number:
        return 1, expr
    negated = _negated_leaf(expr)
    return (-1, negated) if negated is not None else None


def inplace_code(expr: Expr, out: str, scratch_prefix: str) -> tuple[list[Line], int]:
    """The statements computing `expr` into `out`, and how many scratch buffers they use."""
    program = InPlace(scratch_prefix)
    program.emit(expr, out)
    return program.lines, program.scratch_used


def scale_code(
    expr: Expr, target: str, spare: str, scratch_prefix: str
) -> tuple[list[Line], int] | None:
    """Statements multiplying `target` by `expr` factor by factor, the one factor that is not an
    array computed into `spare`: an array `expr` may read, overwritten in the process.  None when
    that is unsafe (more than one such factor, or one that reads `spare` after writing it)."""
    coeff, rest = expr.as_coeff_Mul()
    factors = sympy.Mul.make_args(rest)
    others = [f for f in factors if not _is_leaf(f)]
    if len(others) > 1:
        return None
    lines = [Line(f"{target} *= {_leaf(f)}", _names(f)) for f in factors if _is_leaf(f) and f != 1]
    used = 0
    if others:
        program = InPlace(scratch_prefix)
        program.emit(others[0], spare)
        if any(index > 0 for index in reading(spare, program.lines)):
            return None
        lines += program.lines
        lines.append(Line(f"{target} *= {spare}", [spare]))
        used = program.scratch_used
    if coeff != 1:
        lines.append(Line(f"{target} *= {_bare(coeff)}"))
    return lines, used


def product_code(expr: Expr, out: str) -> Line:
    """A matrix product of the lowered program as one np.matmul into the buffer `out`, rows
    being samples as in the NumPy printer: W a is `a W^T`, W^T δ is `δ W`, δ a^T summed over
    the batch is `δ^T a` (np.matmul: faster than np.dot by 2-10%, and 1.3-1.7x on the
    transposed δ^T of a batch of 32, measured on this machine class)."""
    if isinstance(expr, n.MatProd) and len(expr.args) == 2:
        left, right = expr.args
        if isinstance(left, n.WeightMatrix) and isinstance(right, n.Act):
            code = f"np.matmul({_leaf(right)}, {_leaf(left)}.T, out={out})"
            return Line(code, _names(left, right))
        if isinstance(left, n.Transposed) and isinstance(right, n.Delta):
            code = f"np.matmul({_leaf(right)}, {_leaf(left.args[0])}, out={out})"
            return Line(code, _names(expr))
        if isinstance(left, n.Delta) and isinstance(right, n.Transposed):
            code = f"np.matmul({_leaf(left)}.T, {_leaf(right.args[0])}, out={out})"
            return Line(code, _names(expr))
    raise UnsupportedInCode("this matrix product has no in-place translation")


def single_sample_code(expr: Expr, out: str) -> Line:
    """δ a^T for a batch of one sample as np.dot into `out`: NumPy's matmul has no BLAS path
    for an inner dimension of 1 (4.6x slower than np.dot there, np.outer 1.7x)."""
    left, right = expr.args
    if isinstance(left, n.Delta) and isinstance(right, n.Transposed):
        code = f"np.dot({_leaf(left)}.T, {_leaf(right.args[0])}, out={out})"
        return Line(code, _names(expr))
    raise UnsupportedInCode("this product is not an outer product of two vectors")


def batch_sum_code(expr: Expr, out: str) -> Line:
    """Σ over the samples of an array, as a product with the buffer `ones` into `out`."""
    if _is_leaf(expr):
        return Line(f"np.dot(ones, {_leaf(expr)}, out={out})", _names(expr))
    raise UnsupportedInCode("a batch sum of an expression has no in-place translation")
