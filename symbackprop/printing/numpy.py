"""NumPy code for the derivation's expressions: a strict SymPy NumPyPrinter subclass.

Variables follow the lecture (`a2`, `z1`, `delta2`, `W2`, `Y`), operators are spaced as `ruff
format` writes them, the stable forms chosen by symbackprop.rewrite (run on an expression before
it is printed here) become their NumPy functions (Softplus is `np.logaddexp(0.0, u)`, Logistic
goes through `np.tanh`), and anything without a NumPy translation raises instead of being
printed as text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sympy
from sympy import Expr
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.precedence import PRECEDENCE, precedence

from .. import notation as n
from ..errors import SymbackpropError
from ..rewrite import Hypot, LogCosh, Logistic, LogSigmoid, LogSoftmax, Softplus
from .common import lecture_factors

LOG_2 = 0.6931471805599453

_NAMES = {
    n.Act: "a",
    n.Pre: "z",
    n.Delta: "delta",
    n.WeightMatrix: "W",
    n.Bias: "b",
    n.Gain: "gamma",
    n.Shift: "beta",
    n.Mean: "mu",
    n.Variance: "var",
    n.Normalized: "xhat",
    n.NormalizedGradient: "dE_dxhat",
}


class UnsupportedInCode(SymbackpropError):
    """An expression the NumPy generator cannot translate (one line, for people)."""


class LectureNumPyPrinter(NumPyPrinter):
    """Vectorised NumPy over a batch: one sample per row, units along axis 1."""

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        super().__init__({"fully_qualified_modules": True, "strict": True, **(settings or {})})

    #: The name the module imports the array library under, and the library's name in errors.
    namespace = "np"
    library = "NumPy"

    def _module_format(self, fqn: str, register: bool = True) -> str:
        if not fqn.startswith("numpy."):
            raise UnsupportedInCode(f"{fqn.split('.')[-1]} has no {self.library} translation")
        return self._function(fqn[len("numpy.") :])

    def _function(self, name: str) -> str:
        """The library's function `name` (NumPy's spelling), as the module calls it."""
        return f"{self.namespace}.{name}"

    def _call(self, name: str, *args: Expr | str) -> str:
        """`ns.name(arg, ...)`, an argument that is an expression printed by this printer."""
        printed = ", ".join(a if isinstance(a, str) else str(self._print(a)) for a in args)
        return f"{self._function(name)}({printed})"

    def _print_not_supported(self, expr: Expr) -> str:
        raise UnsupportedInCode(f"{expr.func.__name__} has no {self.library} translation")

    emptyPrinter = _print_not_supported

    # ---- the lecture's symbols as variables
    def _quantity(self, expr: n.LayerQuantity) -> str:
        if expr.indices:
            raise UnsupportedInCode("indexed quantities have no vectorised translation")
        base = next(name for cls, name in _NAMES.items() if isinstance(expr, cls))
        return f"{base}{int(expr.layer)}"

    _print_Act = _print_Pre = _print_Delta = _print_WeightMatrix = _print_Bias = _quantity
    _print_Gain = _print_Shift = _print_Mean = _print_Variance = _print_Normalized = _quantity
    _print_NormalizedGradient = _quantity

    # ---- normalisation: over the units of a row (k) or over the rows of the batch (s)
    def _along(self, operation: str, body: Expr, index: Expr) -> str:
        if index == n.s_sym:
            return f"{self._bare(body)}.{operation}(axis=0)"
        return f"{self._bare(body)}.{operation}(axis=1, keepdims=True)"

    def _print_Average(self, expr: n.Average) -> str:
        return self._along("mean", expr.args[0], expr.args[1])

    def _print_Running(self, expr: n.Running) -> str:
        value, key = expr.args
        return f'{self._print(value)} if stats is None else stats["{key}"]'

    def _print_Total(self, expr: n.Total) -> str:
        return self._along("sum", expr.args[0], expr.args[1])

    def _print_Target(self, expr: n.Target) -> str:
        return "Y"

    def _print_Symbol(self, expr: sympy.Symbol) -> str:
        return str(expr.name)

    def _print_Elementwise(self, expr: n.Elementwise) -> str:
        return str(self._print(expr.args[0]))

    def _print_Hadamard(self, expr: n.Hadamard) -> str:
        return " * ".join(self._wrap(arg, PRECEDENCE["Mul"]) for arg in expr.args)

    def _print_Affine(self, expr: n.Affine) -> str:
        return " + ".join(self._print(arg) for arg in expr.args)

    def _print_Terms(self, expr: n.Terms) -> str:
        out = str(self._print(expr.args[0]))
        for term in expr.args[1:]:
            if term.could_extract_minus_sign():
                out += f" - {self._wrap(-term, PRECEDENCE['Add'] + 1)}"
            else:
                out += f" + {self._wrap(term, PRECEDENCE['Add'])}"
        return out

    def _print_Softmax(self, expr: n.Softmax) -> str:
        return f"_softmax({self._print(expr.args[0])})"  # the module's helper, shifted by the max

    def _print_MatProd(self, expr: n.MatProd) -> str:
        left, right = expr.args
        if isinstance(left, n.WeightMatrix) and isinstance(right, n.Act):
            return f"_product({self._print(right)}, {self._print(left)})"  # rows: a W^T
        if isinstance(left, n.Transposed) and isinstance(right, n.Delta):
            return f"{self._print(right)} @ {self._print(left.args[0])}"  # rows: (W^T d)^T = d W
        if isinstance(left, n.Delta) and isinstance(right, n.Transposed):
            return f"{self._print(left)}.T @ {self._print(right.args[0])}"  # summed over rows
        if isinstance(left, n.Transposed):  # inner product of two unit vectors, per sample
            inner = sympy.Mul(left.args[0].args[0], right.args[0])
            return self._call("sum", inner, "axis=1", "keepdims=True")
        raise UnsupportedInCode("this matrix product has no batch translation")

    def _print_Sum(self, expr: sympy.Sum) -> str:
        return self._call("sum", expr.function, "axis=1", "keepdims=True")

    # ---- feature maps (batch, channels, height, width): the module's helpers
    def _bare(self, expr: Expr) -> str:
        """An array operand of a method call: a variable as it is, anything else bracketed."""
        text = str(self._print(expr))
        return text if isinstance(expr, n.LayerQuantity | sympy.Symbol) else f"({text})"

    def _helper(self, name: str, *args: Expr) -> str:
        return f"{name}({', '.join(str(self._print(arg)) for arg in args)})"

    def _print_Tuple(self, expr: sympy.Tuple) -> str:
        items = [str(self._print(x)) for x in expr.args]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"

    def _print_Upstream(self, expr: n.Upstream) -> str:
        return f"dE_da{int(expr.layer)}"

    @staticmethod
    def _conv(stride: Expr) -> str:
        """_conv2d, or _conv1d for a stride of one spatial axis."""
        return f"_conv{len(stride.args)}d"

    def _print_Correlate(self, expr: n.Correlate) -> str:
        weights, maps, stride, padding = expr.args
        return self._helper(self._conv(stride), maps, weights, stride, padding)

    def _print_KernelGradient(self, expr: n.KernelGradient) -> str:
        return self._helper(f"{self._conv(expr.args[3])}_weights", *expr.args)

    def _print_InputGradient(self, expr: n.InputGradient) -> str:
        return self._helper(f"{self._conv(expr.args[3])}_inputs", *expr.args)

    def _print_PerChannel(self, expr: n.PerChannel) -> str:
        bias, dims = expr.args
        return f"{self._print(bias)}[:{', None' * int(dims)}]"

    def _print_MapSum(self, expr: n.MapSum) -> str:
        maps, dims = expr.args
        axes = "(2,)" if int(dims) == 1 else "(2, 3)"
        return f"{self._bare(maps)}.sum(axis={axes})"

    def _print_Pool(self, expr: n.Pool) -> str:
        op, maps, window, stride = expr.args
        return self._helper(f"_{op}pool2d", maps, window, stride)

    def _print_PoolGradient(self, expr: n.PoolGradient) -> str:
        op, upstream, maps, pooled, shape, window, stride = expr.args
        if str(op) == "max":
            return self._helper("_maxpool2d_inputs", upstream, maps, pooled, window, stride)
        return self._helper("_avgpool2d_inputs", upstream, shape, window, stride)

    def _print_Flatten(self, expr: n.Flatten) -> str:
        maps = self._bare(expr.args[0])
        return f"{maps}.reshape(len({maps}), -1)"

    def _print_Unflatten(self, expr: n.Unflatten) -> str:
        shape = ", ".join(str(int(x)) for x in expr.args[1].args)
        return f"{self._bare(expr.args[0])}.reshape(-1, {shape})"

    # ---- arithmetic, spaced as ruff formats it
    def _wrap(self, expr: Expr, level: int) -> str:
        text = str(self._print(expr))
        inner = expr.args[0] if isinstance(expr, n.Elementwise) else expr
        rank = PRECEDENCE["Add"] if isinstance(inner, Logistic | LogCosh) else precedence(inner)
        if isinstance(inner, sympy.Sum) or (
            isinstance(inner, n.MatProd) and isinstance(inner.args[0].args[0], n.Elementwise)
        ):
            rank = PRECEDENCE["Atom"]  # printed as a call to np.sum
        if rank < level or (isinstance(inner, n.MatProd) and rank != PRECEDENCE["Atom"]):
            return f"({text})"
        return text

    def _print_Add(self, expr: sympy.Add, order: str | None = None) -> str:
        terms = list(expr.as_ordered_terms())
        out = self._print(terms[0])
        for term in terms[1:]:
            if term.as_coeff_Mul()[0].is_negative:
                out += f" - {self._print(-term)}" if -term != 1 else " - 1"
            else:
                out += f" + {self._print(term)}"
        return str(out)

    def _print_Mul(self, expr: sympy.Mul) -> str:
        coeff, rest = expr.as_coeff_Mul()
        if coeff.is_negative:
            positive = -expr
            inner = self._print(positive)
            return f"-{inner}" if precedence(positive) >= PRECEDENCE["Mul"] else f"-({inner})"
        level = PRECEDENCE["Mul"]
        prefix = ""
        exact = coeff != 1 and sympy.Rational(repr(float(coeff))) == coeff
        if exact or max(abs(int(coeff.p)), int(coeff.q)) >= 10**6:  # see _print_Rational
            prefix, expr = f"{self._print(coeff)} * ", rest
        num, den = _fraction(expr)
        top = " * ".join(self._wrap(f, level) for f in lecture_factors(num))
        if den == 1:
            return prefix + top
        bottom = " * ".join(self._wrap(f, level) for f in lecture_factors(den))
        if isinstance(den, sympy.Mul):
            bottom = f"({bottom})"
        return f"{prefix}{top} / {bottom}"

    def _print_Pow(self, expr: sympy.Pow, rational: bool = False) -> str:
        base, exponent = expr.args
        if exponent.is_negative:
            return f"1 / {self._wrap(sympy.Pow(base, -exponent), PRECEDENCE['Pow'] + 1)}"
        if exponent == sympy.S.Half:
            return self._call("sqrt", base)
        simple = isinstance(base, sympy.Symbol | n.LayerQuantity | n.Target)
        base_text = self._print(base) if simple else f"({self._print(base)})"
        if simple and exponent.is_Integer:
            return f"{base_text}**{exponent}"  # ruff format hugs ** between simple operands
        return f"{base_text} ** {self._wrap(exponent, PRECEDENCE['Pow'] + 1)}"

    def _print_Rational(self, expr: sympy.Rational) -> str:
        if expr.q == 1:
            return str(expr.p)
        value = float(expr)
        if sympy.Rational(repr(value)) == expr:
            return repr(value)
        p, q = int(expr.p), int(expr.q)
        if max(abs(p), q) >= 10**6:  # p / q at run time is this correctly rounded float too
            return repr(p / q)
        return f"({p} / {q})"

    def _print_Integer(self, expr: sympy.Integer) -> str:
        return str(int(expr))

    def _print_Float(self, expr: sympy.Float) -> str:
        return repr(float(expr))

    def _print_Exp1(self, expr: Expr) -> str:
        return self._function("e")

    def _print_Pi(self, expr: Expr) -> str:
        return self._function("pi")

    # ---- functions; the stable forms are nodes of symbackprop.rewrite
    def _print_log(self, expr: sympy.log) -> str:
        return self._call("log", expr.args[0])

    def _print_Logistic(self, expr: Logistic) -> str:
        half = self._wrap(expr.args[0], PRECEDENCE["Mul"])
        return f"0.5 + 0.5 * {self._function('tanh')}(0.5 * {half})"

    def _print_Softplus(self, expr: Softplus) -> str:
        return self._call("logaddexp", "0.0", expr.args[0])

    def _print_LogCosh(self, expr: LogCosh) -> str:
        u = expr.args[0]
        return f"{self._call('logaddexp', u, -u)} - {LOG_2!r}"

    def _print_LogSigmoid(self, expr: LogSigmoid) -> str:
        return f"_log_sigmoid({self._print(expr.args[0])})"  # the module's helper

    def _print_LogSoftmax(self, expr: LogSoftmax) -> str:
        return f"_log_softmax({self._print(expr.args[0])})"  # the module's helper

    def _print_Hypot(self, expr: Hypot) -> str:
        return self._call("hypot", *expr.args)

    def _print_expm1(self, expr: Expr) -> str:
        return self._call("expm1", expr.args[0])

    def _print_log1p(self, expr: Expr) -> str:
        return self._call("log1p", expr.args[0])

    def _print_exp(self, expr: sympy.exp) -> str:
        return self._call("exp", expr.args[0])

    def _print_erf(self, expr: sympy.erf) -> str:
        return f"_erf({self._print(expr.args[0])})"  # the module's helper: NumPy has no erf

    def _print_erfc(self, expr: sympy.erfc) -> str:
        return f"_erfc({self._print(expr.args[0])})"

    def _print_Heaviside(self, expr: sympy.Heaviside) -> str:
        at_zero = expr.args[1] if len(expr.args) > 1 else sympy.S.Half
        return f"np.heaviside({self._print(expr.args[0])}, {self._print(sympy.Float(at_zero))})"

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        *pieces, (last, cond) = expr.args
        if cond != sympy.true:
            raise UnsupportedInCode("a piecewise expression needs a final 'otherwise' branch")
        out = self._print(last)
        for value, condition in reversed(pieces):
            out = self._call("where", condition, value, out)
        if all(value.is_Number for value, _ in expr.args):
            reference = sorted(expr.atoms(n.LayerQuantity, sympy.Symbol), key=str)
            if reference:  # constant branches would come out float64 whatever the input
                out = f"{out}.astype({self._print(reference[0])}.dtype, copy=False)"
        return str(out)

    def _print_Relational(self, expr: sympy.core.relational.Relational) -> str:
        return f"{self._print(expr.lhs)} {expr.rel_op} {self._print(expr.rhs)}"

    def _minmax(self, expr: Expr, func: str) -> str:
        args = [str(self._print(a)) for a in expr.args]
        out = args[0]
        for arg in args[1:]:
            out = self._call(func, out, arg)
        return out

    def _print_Max(self, expr: sympy.Max) -> str:
        return self._minmax(expr, "maximum")

    def _print_Min(self, expr: sympy.Min) -> str:
        return self._minmax(expr, "minimum")

    def _print_Abs(self, expr: sympy.Abs) -> str:
        return self._call("abs", expr.args[0])

    def _print_sign(self, expr: sympy.sign) -> str:
        return self._call("sign", expr.args[0])

    def _print_KroneckerDelta(self, expr: Expr) -> str:
        raise UnsupportedInCode("a Kronecker delta left in a vectorised expression")


def _fraction(expr: Expr) -> tuple[Expr, Expr]:
    """Numerator and denominator, e^(-u) kept in the numerator: 1 / e^u overflows to a
    division by inf (and then inf / inf) where e^(-u) is merely 0."""
    num, den = sympy.fraction(expr)
    exps = [f for f in sympy.Mul.make_args(den) if isinstance(f, sympy.exp)]
    if not exps:
        return num, den
    num = sympy.Mul(num, *(sympy.exp(-f.args[0]) for f in exps))
    den = sympy.Mul(*(f for f in sympy.Mul.make_args(den) if not isinstance(f, sympy.exp)))
    return num, den


_PRINTER = LectureNumPyPrinter()


def numpy_code(expr: Expr) -> str:
    """A vectorised NumPy expression for `expr` (lecture symbols become array variables)."""
    return str(_PRINTER.doprint(expr))


#: ruff format's default line length, which the generated module keeps to.
LINE_WIDTH = 88

Statement = tuple[str, str, str]


def numpy_statements(
    target: str, expr: Expr, *, indent: int = 4, printer: LectureNumPyPrinter = _PRINTER
) -> list[Statement]:
    """(target, operator, code) statements that leave the value of `expr` in a fresh array
    `target`, each line within ruff format's width where the expression can be split.

    Every piece of code is printed whole from a SymPy expression, so precedence is the
    printer's business: a sum or product too long for one line is cut into partial sums or
    products (`target = t1 + t2`, then `target += t3 + t4`), an operand still too long
    becomes a temporary (`target_1`), and so does a function argument.  The first statement
    always makes a new array, never a view of a cached one, so the in-place updates after it
    cannot change the cache.
    """
    statements = _Splitter(indent, lambda e: str(printer.doprint(e))).split(target, _unwrap(expr))
    return [(t, op, _unparenthesised(code)) for t, op, code in statements]


def _unparenthesised(code: str) -> str:
    """A number such as `(1 / 3)` on the right of an assignment, where ruff wants no brackets."""
    inner = code[1:-1]
    if code.startswith("(") and code.endswith(")") and "(" not in inner and ")" not in inner:
        return inner
    return code


def _unwrap(expr: Expr) -> Expr:
    return expr.args[0] if isinstance(expr, n.Elementwise) else expr


def _is_bare(expr: Expr) -> bool:
    """An array or number that an assignment would alias rather than copy."""
    inner = _unwrap(expr)
    return bool(inner.is_Number) or isinstance(inner, n.LayerQuantity | n.Target | sympy.Symbol)


#: (operator, operand): the pieces of a sum (`+`, `-`) or product (`*`, `/`) in print order.
_Part = tuple[str, Expr]
_INVERSE = {"+": "-", "-": "+", "*": "/", "/": "*"}


def _parts(expr: Expr) -> tuple[str, list[_Part]] | None:
    """(kind, pieces) for a sum ("add"), product ("mul") or elementwise product ("hadamard")
    of at least two pieces, else None."""
    if isinstance(expr, sympy.Add):
        parts: list[_Part] = []
        for term in expr.as_ordered_terms():
            negative = bool(term.as_coeff_Mul()[0].is_negative)
            parts.append(("-", -term) if negative else ("+", term))
        return "add", parts
    if isinstance(expr, n.Hadamard):
        return "hadamard", [("*", _unwrap(arg)) for arg in expr.args]
    if isinstance(expr, sympy.Mul):
        coeff, rest = expr.as_coeff_Mul()
        num, den = _fraction(rest)
        parts = [] if coeff == 1 else [("*", coeff)]
        parts += [("*", f) for f in lecture_factors(num) if f != 1]
        parts += [("/", f) for f in lecture_factors(den) if f != 1]
        return ("mul", parts) if len(parts) >= 2 else None
    return None


def _combine(kind: str, parts: list[_Part]) -> Expr:
    """The expression of consecutive pieces, the first taken with its own sign or inverse."""
    if kind == "add":
        return sympy.Add(*(e if op == "+" else -e for op, e in parts))
    if kind == "hadamard":
        return parts[0][1] if len(parts) == 1 else n.Hadamard(*(e for _, e in parts))
    return sympy.Mul(*(e if op == "*" else 1 / e for op, e in parts))


class _Splitter:
    def __init__(self, indent: int, code: Callable[[Expr], str]) -> None:
        self.indent = indent
        self.code = code
        self.temporaries = 0

    def fits(self, target: str, op: str, code: str) -> bool:
        return self.indent + len(f"{target} {op} {code}") <= LINE_WIDTH

    def split(self, target: str, expr: Expr) -> list[Statement]:
        code = self.code(expr)
        if self.fits(target, "=", code) or _is_bare(expr):
            return [(target, "=", code)]
        found = _parts(expr)
        if found is None:
            return self._through_temporaries(target, expr)
        kind, parts = found
        if _is_bare(parts[0][1]) and not self.fits(
            target, "=", self.code(_combine(kind, parts[:2]))
        ):
            # start from a piece that is a new array; sums and products commute
            start = next((i for i, (op, e) in enumerate(parts) if not _is_bare(e)), 0)
            if parts[start][0] in "+*":
                parts.insert(0, parts.pop(start))
        count = 1
        while count < len(parts) and self.fits(
            target, "=", self.code(_combine(kind, parts[: count + 1]))
        ):
            count += 1
        first = _combine(kind, parts[:count])
        if _is_bare(first) and count < len(parts):
            count += 1  # the line is too long either way; never alias a cached array
            first = _combine(kind, parts[:count])
        out = self.split(target, first)
        rest = parts[count:]
        while rest:
            op = rest[0][0]
            size = 1
            while size < len(rest) and self.fits(
                target, f"{op}=", self.code(self._operand(kind, rest[: size + 1]))
            ):
                size += 1
            operand = self._operand(kind, rest[:size])
            code = self.code(operand)
            if self.fits(target, f"{op}=", code) or _is_bare(operand):
                out.append((target, f"{op}=", code))
            else:
                temporary = self._temporary(target)
                out += self.split(temporary, operand)
                out.append((target, f"{op}=", temporary))
            rest = rest[size:]
        return out

    def _operand(self, kind: str, parts: list[_Part]) -> Expr:
        """The right-hand side of `target op= ...` for pieces whose first has operator op."""
        op = parts[0][0]
        if op in "+*":
            return _combine(kind, parts)
        return _combine(kind, [(_INVERSE[o], e) for o, e in parts])

    def _temporary(self, target: str) -> str:
        self.temporaries += 1
        return f"{target}_{self.temporaries}"

    def _through_temporaries(self, target: str, expr: Expr) -> list[Statement]:
        """A call or power whose arguments (a selection: its values) make the line too long:
        the longest that is not an array becomes a temporary, until the line fits or none is
        left."""
        out: list[Statement] = []
        while not self.fits(target, "=", self.code(expr)):
            pieces = []
            if isinstance(expr, sympy.Piecewise):  # its values, and its conditions' sides
                for pair in expr.args:
                    pieces += [pair.expr, *getattr(pair.cond, "args", ())]
            candidates = [
                arg
                for arg in [*expr.args, *pieces]
                if isinstance(arg, Expr) and not _is_bare(arg) and not arg.is_Number
            ]
            if not isinstance(expr, sympy.Function | sympy.Pow) or not candidates:
                break
            longest = max(candidates, key=lambda arg: len(self.code(arg)))
            temporary = self._temporary(target)
            out += self.split(temporary, longest)
            expr = expr.xreplace({longest: sympy.Symbol(temporary)})
        out.append((target, "=", self.code(expr)))
        return out
