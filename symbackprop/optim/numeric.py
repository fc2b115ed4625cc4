"""The update rules compiled to float64 Python functions, for `gd --method` on one coordinate
at a time: each assignment is lambdified from its SymPy expression (never from user text)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import sympy

from ..errors import SymbackpropError
from .rules import BETA1, BETA2, LR, G, Optimizer, P, T, optimizer

#: Hyper-parameters that must lie in [0, 1), as torch.optim checks them.
_BELOW_ONE = frozenset({BETA1.name, BETA2.name})


def settings(opt: Optimizer, options: Mapping[str, float]) -> dict[str, float]:
    """The optimiser's defaults with `options` over them; unknown names and values out of
    range are one-line errors (lr > 0, the rest >= 0, betas < 1, all finite)."""
    values = dict(opt.defaults)
    for name, value in options.items():
        if name not in values:
            raise SymbackpropError(
                f"{opt.name}: unknown hyper-parameter {name!r} (its hyper-parameters: "
                f"{', '.join(values)})"
            )
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise SymbackpropError(f"{opt.name}: {name} must be a finite number, got {value}")
        if value < 0 or (name == LR.name and value == 0):
            relation = "> 0" if name == LR.name else ">= 0"
            raise SymbackpropError(f"{opt.name}: {name} must be {relation}, got {value:g}")
        if name in _BELOW_ONE and value >= 1:
            raise SymbackpropError(f"{opt.name}: {name} must be below 1, got {value:g}")
        values[name] = float(value)
    return values


@dataclass
class Stepper:
    """One optimiser with fixed hyper-parameters, stepping every coordinate of a point."""

    opt: Optimizer
    values: dict[str, float]
    _steps: list[tuple[str, Callable[..., float], tuple[str, ...]]] = field(default_factory=list)
    _state: list[dict[str, float]] = field(default_factory=list)
    _t: int = 0

    def __post_init__(self) -> None:
        for update in self.opt.updates:
            args = tuple(sorted(update.expr.free_symbols, key=lambda s: s.name))
            compiled = sympy.lambdify(args, update.expr, modules="math", dummify=True)
            self._steps.append((update.target.name, compiled, tuple(a.name for a in args)))

    def __call__(self, point: Sequence[float], gradient: Sequence[float]) -> tuple[float, ...]:
        """The point after one step from `point` with `gradient` there (state advances)."""
        self._t += 1
        if not self._state:
            self._state = [
                {s.name: float(s.initial.subs(self._hypers())) for s in self.opt.state}
                for _ in point
            ]
        moved = []
        for p, g, state in zip(point, gradient, self._state, strict=True):
            env = {**self.values, **state, P.name: p, G.name: g, T.name: self._t}
            for target, compiled, args in self._steps:
                env[target] = float(compiled(*(env[a] for a in args)))
            for name in state:
                state[name] = env[name]
            moved.append(env[P.name])
        return tuple(moved)

    def _hypers(self) -> dict[sympy.Symbol, float]:
        return {h.symbol: self.values[h.name] for h in self.opt.hypers}


def stepper(name: str, options: Mapping[str, float] | None = None) -> Stepper:
    """A fresh stepper (state at its initial values, t = 0) for the optimiser `name`."""
    opt = optimizer(name)
    return Stepper(opt, settings(opt, options or {}))
