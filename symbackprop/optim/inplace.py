"""The optimisers' rules as in-place NumPy statements: the parameter and the state updated where
they lie, every array value of a step (g + λw, m̂, ŝ, partial results) computed into a work
buffer kept between steps, so a step allocates nothing (a fresh 1.6 MB temporary per operation
is what made the first optimizer_step slow). Printed by the in-place emitter of sgd_step
(printing/inplace.py), the hyper-parameters and t being plain numbers there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy
from sympy import Expr, Symbol

from ..printing.inplace import InPlace
from .codegen import numpy_code, optimizer_context
from .rules import OPTIMIZERS, G, Optimizer, P, T, Update


@dataclass
class _Body:
    """The statements of one update function as (indent, code) pairs, and its work buffers."""

    opt: Optimizer
    program: InPlace
    scalars: set[Symbol]
    lines: list[tuple[int, str]] = field(default_factory=list)
    buffers: list[str] = field(default_factory=list)

    @property
    def kept(self) -> set[Symbol]:
        """The arrays that outlive the step: the parameter and the state."""
        return {P, *(s.symbol for s in self.opt.state)}

    def _emit(self, expr: Expr, out: str, depth: int) -> None:
        start = len(self.program.lines)
        self.program.emit(expr, out)
        self.lines += [(depth, line) for line in self.program.lines[start:]]

    def _through_scratch(self, target: str, op: str, expr: Expr, depth: int) -> None:
        """target op= expr, the value of expr in a scratch buffer unless it is one operand."""
        operand = self.program.operand(expr)
        if operand is not None:
            self.lines.append((depth, f"{target} {op} {operand}"))
            return
        scratch = self.program.scratch()
        self._emit(expr, scratch, depth)
        self.lines.append((depth, f"{target} {op} {scratch}"))
        self.program.release(scratch)

    def _is_scalar(self, expr: Expr) -> bool:
        return bool(expr.free_symbols <= self.scalars)

    def _kept(self, target: Symbol, expr: Expr, depth: int) -> None:
        """A parameter or state array updated in place: target *= c, then += the rest."""
        name = target.name
        terms = list(sympy.Add.make_args(expr))
        own = [t for t in terms if target in t.free_symbols]
        if len(own) == 1 and self._is_scalar(own[0] / target):
            scale = own[0] / target
            if scale != 1:
                self.lines.append((depth, f"{name} *= {numpy_code(scale)}"))
            rest = [t for t in terms if t is not own[0]]
            if rest:
                added = sympy.Add(*rest)
                coeff, positive = added.as_coeff_Mul()
                if coeff == -1:
                    self._through_scratch(name, "-=", positive, depth)
                else:
                    self._through_scratch(name, "+=", added, depth)
            return
        if target in expr.free_symbols:  # not met by the rules: in full, then copied back
            scratch = self.program.scratch()
            self._emit(expr, scratch, depth)
            self.lines.append((depth, f"np.copyto({name}, {scratch})"))
            self.program.release(scratch)
            return
        self._emit(expr, name, depth)

    def _local(self, target: Symbol, expr: Expr, depth: int) -> None:
        """A value of the step: a number, or an array in a work buffer of its own (the
        gradient's new value in g_new, the caller's g is never written)."""
        name = target.name
        if self._is_scalar(expr):
            self.scalars.add(target)
            self.program.scalars = frozenset(self.scalars)
            self.lines.append((depth, f"{name} = {numpy_code(expr)}"))
            return
        if target == G:
            taken = sum(buffer.startswith("g_new") for buffer in self.buffers)
            buffer = "g_new" if taken == 0 else f"g_new{taken + 1}"
        else:
            buffer = name
        if buffer in self.buffers or Symbol(buffer) in expr.free_symbols:
            raise ValueError(f"{self.opt.name}: {name} assigned twice")  # not met by the rules
        self.buffers.append(buffer)
        self._emit(expr, buffer, depth)
        if buffer != name:
            self.lines.append((depth, f"{name} = {buffer}"))

    def assign(self, target: Symbol, expr: Expr, depth: int) -> None:
        """One assignment, a choice on t as if/else, at the given depth of indentation."""
        if isinstance(expr, sympy.Piecewise) and all(
            cond == sympy.true or cond.free_symbols <= {T} for _, cond in expr.args
        ):
            for index, (value, cond) in enumerate(expr.args):
                if cond == sympy.true:
                    self.lines.append((depth, "else:"))
                else:
                    keyword = "if" if index == 0 else "elif"
                    self.lines.append((depth, f"{keyword} {_condition(cond)}:"))
                self.assign(target, value, depth + 1)
            return
        if target in self.kept:
            self._kept(target, expr, depth)
        else:
            self._local(target, expr, depth)

    def update(self, update: Update) -> None:
        """One rule, skipped where a hyper-parameter that is off by default makes it the
        identity at 0 (g + λw at λ = 0, as torch skips it)."""
        depth = 1
        expr = _evaluated(update.expr)
        for hyper in self.opt.hypers:
            symbol = hyper.symbol
            off = hyper.default == 0 and symbol in expr.free_symbols
            if off and expr.subs(symbol, 0) == update.target:
                self.lines.append((depth, f"if {symbol.name} != 0:"))
                depth += 1
                break
        self.assign(update.target, expr, depth)


def _evaluated(expr: Expr) -> Expr:
    """The rule's expression with SymPy's usual flattening (the rules keep the sheet's order
    unevaluated: lr*m_hat/(...) nests products the emitter reads factor by factor)."""
    if expr.is_Atom:
        return expr
    return expr.func(*(_evaluated(arg) for arg in expr.args))


def _condition(cond: Expr) -> str:
    if isinstance(cond, sympy.Eq):
        return f"{numpy_code(cond.lhs)} == {numpy_code(cond.rhs)}"
    return numpy_code(cond)


def inplace_context(opt: Optimizer) -> dict[str, Any]:
    """One optimiser's update function, every statement in place, and its work buffers (the
    arrays of the step's own values and partial results, named as the function names them)."""
    scalars = {h.symbol for h in opt.hypers} | {T}
    program = InPlace("work", scalars=frozenset(scalars), printer=numpy_code)
    body = _Body(opt, program, scalars)
    context = optimizer_context(opt)
    lines = []
    for update, line in zip(opt.updates, context["lines"], strict=True):
        start = len(body.lines)
        body.update(update)
        code = ["    " * (depth - 1) + text for depth, text in body.lines[start:]]
        lines.append({"comment": line["comment"], "code": code})
    context["lines"] = lines
    context["work"] = body.buffers + [f"work{i}" for i in range(1, program.scratch_used + 1)]
    return context


def inplace() -> list[dict[str, Any]]:
    """Every optimiser's in-place update function, in the order of the rules."""
    return [inplace_context(opt) for opt in OPTIMIZERS.values()]
