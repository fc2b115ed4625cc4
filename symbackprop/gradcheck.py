"""`symbackprop check`: the generated module's gradients against central finite differences.

Below `DIRECTIONAL_ABOVE` parameters every entry is checked; above it, a few random directions
per parameter array, comparing <g, v> with (L(p + eps v) - L(p - eps v)) / (2 eps), so the cost
does not grow with the parameter count.  Perturbations that move a pre-activation across a kink
(relu, leaky_relu, abs, max, min) are retried with a smaller step and skipped if they still do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import sympy

from .codegen import Backend, generate
from .codegen import load_module as load_module  # its old home: train and tests import it here
from .derive import derive
from .ir import Derivation
from .progress import Report
from .sampling import random_point
from .spec import Network

DIRECTIONAL_ABOVE = 10_000
TOLERANCE = 1e-6
#: Relative errors are taken against max(|analytic|, |numeric|, FLOOR): gradients near zero
#: are judged by their absolute error instead.
FLOOR = 1e-3
EPS = 1e-6
_KINKED = (sympy.Heaviside, sympy.Piecewise, sympy.sign, sympy.Max, sympy.Min, sympy.Abs)


@dataclass(frozen=True)
class ParamCheck:
    """The comparison for one parameter array."""

    name: str
    size: int
    max_abs: float
    max_rel: float
    checked: int  # entries or directions compared
    skipped: int  # entries or directions skipped because a step crossed a kink

    @property
    def ok(self) -> bool:
        """Every compared entry within tolerance, and at least one compared at all."""
        return self.checked > 0 and self.max_rel < TOLERANCE


@dataclass(frozen=True)
class GradCheck:
    """All parameters of one network, and how they were checked."""

    network: str
    mode: Literal["every entry", "random directions"]
    parameters: int
    results: tuple[ParamCheck, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def __str__(self) -> str:
        """The table `symbackprop check` prints (`report`)."""
        return report(self)


def gradcheck(
    network: Network | Derivation,
    *,
    seed: int = 0,
    batch: int = 4,
    directions: int = 6,
    progress: Report | None = None,
    backend: Backend = "numpy",
) -> GradCheck:
    """Generate the module for `network`, import it, and check its gradients in float64 at a
    random point of `batch` samples (sampling.random_point); `progress`, if given, is called as
    progress(what, done, total) as it goes. `backend` "array-api" checks that module instead,
    on NumPy arrays."""
    derivation = network if isinstance(network, Derivation) else derive(network, progress=progress)
    net = derivation.network
    module = load_module(generate(derivation, backend=backend).source, net.name)
    return check_module(
        net,
        module,
        kinked_layers(derivation),
        seed=seed,
        batch=batch,
        directions=directions,
        progress=progress,
    )


def kinked_layers(derivation: Derivation) -> list[int]:
    """The layers whose σ' has a kink (a step, max, |z|): differences there avoid crossing it."""
    return [
        ld.number
        for ld in derivation.layers
        if ld.rule.derivative is not None and ld.rule.derivative.has(*_KINKED)
    ]


def check_module(
    net: Network,
    module: Any,
    kinked: list[int],
    *,
    seed: int = 0,
    batch: int = 4,
    directions: int = 6,
    progress: Report | None = None,
) -> GradCheck:
    """`gradcheck`'s comparison for a module already imported (`kinked` as `kinked_layers`
    gives it), so that a cached module is checked without deriving again."""
    point = random_point(net, batch=batch, seed=seed)
    params, X, Y = point.params, point.X, point.Y
    grads = module.gradients(params, X, Y)
    total = sum(p.size for p in params.values())
    directional = total > DIRECTIONAL_ABOVE
    rng = np.random.default_rng(seed + 1)
    probe = _Probe(module, params, X, Y, kinked)
    what = "checking direction" if directional else "checking entry"
    comparisons = directions * len(params) if directional else total
    done = 0
    results = []
    for key in params:
        pairs = []
        if directional:
            for _ in range(directions):
                v = rng.normal(size=params[key].shape)
                v /= np.linalg.norm(v)
                pairs.append((float(np.sum(grads[key] * v)), probe.slope(key, v)))
                done += 1
                if progress is not None:
                    progress(what, done, comparisons)
        else:
            for index in np.ndindex(params[key].shape):
                v = np.zeros_like(params[key])
                v[index] = 1.0
                pairs.append((float(grads[key][index]), probe.slope(key, v)))
                done += 1
                if progress is not None:
                    progress(what, done, comparisons)
        results.append(_summarise(key, params[key].size, pairs))
    mode: Literal["every entry", "random directions"] = (
        "random directions" if directional else "every entry"
    )
    return GradCheck(net.name, mode, total, tuple(results))


class _Probe:
    """Central differences of the module's loss along a direction, kinks avoided."""

    def __init__(
        self, module: Any, params: dict[str, np.ndarray], X: Any, Y: Any, kinked: list[int]
    ):
        self.module, self.params, self.X, self.Y, self.kinked = module, params, X, Y, kinked
        # one moved copy per array, rewritten in place: no evaluation allocates a fresh copy
        self.moved = {key: np.empty_like(array) for key, array in params.items()}

    def _at(self, key: str, eps: float, v: np.ndarray) -> tuple[float, list[np.ndarray]]:
        moved = dict(self.params)
        moved[key] = np.multiply(v, eps, out=self.moved[key])
        moved[key] += self.params[key]
        _, cache = self.module.forward(moved, self.X)
        signs = [np.sign(cache[f"z{layer}"]) for layer in self.kinked]
        return self.module.loss(moved, self.X, self.Y), signs

    def slope(self, key: str, v: np.ndarray) -> float | None:
        for eps in (EPS, EPS * 1e-3):
            up, up_signs = self._at(key, eps, v)
            down, down_signs = self._at(key, -eps, v)
            if all(np.array_equal(a, b) for a, b in zip(up_signs, down_signs, strict=True)):
                return (up - down) / (2 * eps)
        return None


def _summarise(key: str, size: int, pairs: list[tuple[float, float | None]]) -> ParamCheck:
    usable = [(g, fd) for g, fd in pairs if fd is not None]
    errors = [abs(g - fd) for g, fd in usable]
    relative = [abs(g - fd) / max(abs(g), abs(fd), FLOOR) for g, fd in usable]
    return ParamCheck(
        name=key,
        size=size,
        max_abs=max(errors, default=0.0),
        max_rel=max(relative, default=0.0),
        checked=len(usable),
        skipped=len(pairs) - len(usable),
    )


def report(check: GradCheck) -> str:
    """The table `symbackprop check` prints."""
    lines = [
        f"{check.network}: {check.parameters} parameters, checked {check.mode} "
        f"(float64, central differences, eps {EPS:g}; pass: relative error < {TOLERANCE:g})",
        f"{'parameter':<10} {'size':>8} {'max abs error':>14} {'max rel error':>14}  result",
    ]
    for r in check.results:
        note = f" ({r.skipped} skipped at kinks)" if r.skipped else ""
        verdict = "pass" if r.ok else ("FAIL" if r.checked else "FAIL (nothing comparable)")
        lines.append(
            f"{r.name:<10} {r.size:>8} {r.max_abs:>14.3e} {r.max_rel:>14.3e}  {verdict}{note}"
        )
    passed = sum(r.ok for r in check.results)
    lines.append(f"{passed} of {len(check.results)} parameters pass")
    return "\n".join(lines)
