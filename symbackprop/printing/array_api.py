"""Array-API code for the derivation's expressions: the NumPy printer with every call made
through the namespace `xp` of the array API standard (data-apis.org), for the functional
backend.

Only functions of the standard are printed (NumPy's spellings translated: `arctan` is
`xp.atan`); anything else raises, so a module that prints runs on every conforming library.
The product W a of a forward step is a plain `a @ W.T`: the NumPy module's overflow rescue
(`_product`) would force a lazy array (Dask) or a traced one (JAX) to a value.
"""

from __future__ import annotations

import sympy
from sympy import Expr

from .. import notation as n
from .numpy import LectureNumPyPrinter, Statement, UnsupportedInCode, numpy_statements

#: NumPy's name -> the standard's, for the functions the NumPy printer may call.
_RENAMED = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "arctan2": "atan2",
    "power": "pow",
    "absolute": "abs",
}
#: The functions and constants of the standard (2023.12) that printed code may use.
_STANDARD = frozenset(
    {
        "abs", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "clip",
        "copysign", "cos", "cosh", "e", "exp", "expm1", "floor", "hypot", "log", "log1p",
        "log2", "log10", "logaddexp", "maximum", "minimum", "pi", "pow", "sign", "sin", "sinh",
        "sqrt", "square", "sum", "tan", "tanh", "where",
    }
)  # fmt: skip


class LectureArrayAPIPrinter(LectureNumPyPrinter):
    """Vectorised array-API code over a batch (one sample per row), calls through `xp`."""

    namespace = "xp"
    library = "array-API"

    def _function(self, name: str) -> str:
        name = _RENAMED.get(name, name)
        if name not in _STANDARD:
            raise UnsupportedInCode(f"{name} has no array-API translation")
        return f"xp.{name}"

    def _print(self, expr: object, **kwargs: object) -> str:
        if (
            isinstance(expr, Expr)
            and expr.is_number
            and expr.is_real
            and not isinstance(expr, sympy.Rational | sympy.Float | sympy.NumberSymbol)
            and expr.atoms(sympy.Function, sympy.Pow)
        ):  # sqrt(2), log(2): the standard's functions take arrays only, so their value
            return repr(float(expr))
        return str(super()._print(expr, **kwargs))

    def _print_MatProd(self, expr: n.MatProd) -> str:
        left, right = expr.args
        if isinstance(left, n.WeightMatrix) and isinstance(right, n.Act):
            return f"{self._print(right)} @ {self._print(left)}.T"  # rows: a W^T
        return super()._print_MatProd(expr)

    def _print_Heaviside(self, expr: sympy.Heaviside) -> str:
        at_zero = expr.args[1] if len(expr.args) > 1 else sympy.S.Half
        u = expr.args[0]
        inner = sympy.Piecewise((1.0, u > 0), (sympy.Float(at_zero), sympy.Eq(u, 0)), (0.0, True))
        return self._print_Piecewise(inner)

    def _print_Piecewise(self, expr: sympy.Piecewise) -> str:
        *pieces, (last, cond) = expr.args
        if cond != sympy.true:
            raise UnsupportedInCode("a piecewise expression needs a final 'otherwise' branch")
        reference = sorted(expr.atoms(n.LayerQuantity, sympy.Symbol), key=str)
        if all(value.is_Number for value, _ in expr.args) and reference:
            # constant branches: as arrays of the operand's dtype, not the default float
            out = f"xp.full_like({self._print(reference[0])}, {self._print(last)})"
        else:
            out = str(self._print(last))
        for value, condition in reversed(pieces):
            out = self._call("where", condition, value, out)
        return out


_PRINTER = LectureArrayAPIPrinter()


def array_api_code(expr: Expr) -> str:
    """A vectorised array-API expression for `expr`, its calls through `xp`."""
    return str(_PRINTER.doprint(expr))


def array_api_statements(target: str, expr: Expr, *, indent: int = 4) -> list[Statement]:
    """Statements that leave `expr` in a fresh array `target`, lines split as for NumPy."""
    return numpy_statements(target, expr, indent=indent, printer=_PRINTER)
