"""Learning-rate schedules for `train`, per epoch, with PyTorch's conventions (torch.optim.
lr_scheduler stepped once an epoch): the rate of epoch e (from 0) as a closed formula.

- ``constant``: η
- ``step:step_size=S[:gamma=G]`` (StepLR, γ = 0.1): η γ^⌊e / S⌋
- ``exponential:gamma=G`` (ExponentialLR): η γ^e
- ``cosine[:t_max=T][:eta_min=M]`` (CosineAnnealingLR, T = the epochs, M = 0):
  M + (η − M)(1 + cos(π e / T)) / 2
- ``--warmup W`` before any of them (LinearLR(start_factor=1/W, total_iters=W − 1), then the
  schedule from its own epoch 0, as SequentialLR(milestones=[W]) runs them): η (e + 1) / W for
  e < W, then the schedule's rate of epoch e − W.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .errors import SymbackpropError

#: Each schedule, its parameters and their defaults (None: required).
SCHEDULES: dict[str, dict[str, float | None]] = {
    "constant": {},
    "step": {"step_size": None, "gamma": 0.1},
    "exponential": {"gamma": None},
    "cosine": {"t_max": None, "eta_min": 0.0},
}
#: The largest warm-up and step size accepted (epochs).
MAX_EPOCHS = 10_000_000


@dataclass(frozen=True)
class Schedule:
    """A schedule's name, its parameters (defaults filled in) and the warm-up epochs."""

    name: str
    options: dict[str, float]
    warmup: int = 0

    def rate(self, lr: float, epoch: int, epochs: int) -> float:
        """The learning rate of `epoch` (from 0) of `epochs`, starting from `lr`."""
        if epoch < self.warmup:
            return lr * (epoch + 1) / self.warmup
        e = epoch - self.warmup
        o = self.options
        if self.name == "step":
            return lr * o["gamma"] ** (e // int(o["step_size"]))
        if self.name == "exponential":
            return lr * o["gamma"] ** e
        if self.name == "cosine":
            t_max = o.get("t_max") or max(epochs - self.warmup, 1)
            return o["eta_min"] + (lr - o["eta_min"]) * (1 + math.cos(math.pi * e / t_max)) / 2
        return lr

    def describe(self) -> str:
        """As the command line wrote it, for the summary line: 'cosine:t_max=100, warm-up 5'."""
        shown = ":".join([self.name, *(f"{k}={v:g}" for k, v in self.options.items())])
        return shown + (f", warm-up {self.warmup}" if self.warmup else "")


def parse_schedule(text: str | None, warmup: int | None) -> Schedule:
    """`NAME[:KEY=VALUE...]` and the warm-up epochs, checked; one-line errors name the part."""
    warm = 0 if warmup is None else warmup
    if warm < 0 or warm > MAX_EPOCHS:
        raise SymbackpropError(f"--warmup: must be between 0 and {MAX_EPOCHS}, got {warm}")
    if text is None:
        return Schedule("constant", {}, warm)
    name, *parts = text.split(":")
    if name not in SCHEDULES:
        known = ", ".join(SCHEDULES)
        raise SymbackpropError(f"--schedule: unknown schedule {name!r} (known: {known})")
    allowed = SCHEDULES[name]
    options: dict[str, float] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or key not in allowed:
            expected = ", ".join(f"{k}=..." for k in allowed) or "no parameters"
            raise SymbackpropError(
                f"--schedule {name}: {part!r} is not KEY=VALUE with KEY one of {expected}"
            )
        options[key] = _number(name, key, value)
    for key, default in allowed.items():
        if key not in options:
            if default is None and not (name == "cosine" and key == "t_max"):
                raise SymbackpropError(f"--schedule {name}: needs {key}=..., e.g. {_EXAMPLE[name]}")
            if default is not None:
                options[key] = default
    return Schedule(name, options, warm)


_EXAMPLE = {"step": "step:step_size=30", "exponential": "exponential:gamma=0.95"}


def _number(name: str, key: str, value: str) -> float:
    """A parameter's value: step_size and t_max whole epochs >= 1, gamma in (0, 1], eta_min >= 0."""
    where = f"--schedule {name}: {key}"
    try:
        number = float(value)
    except ValueError:
        raise SymbackpropError(f"{where} must be a number, got {value[:40]!r}") from None
    checks: dict[str, tuple[Callable[[float], bool], str]] = {
        "step_size": (lambda v: v.is_integer() and 1 <= v <= MAX_EPOCHS, "a whole number >= 1"),
        "t_max": (lambda v: v.is_integer() and 1 <= v <= MAX_EPOCHS, "a whole number >= 1"),
        "gamma": (lambda v: 0 < v <= 1, "between 0 (excluded) and 1"),
        "eta_min": (lambda v: 0 <= v < math.inf, "a finite number >= 0"),
    }
    ok, wanted = checks[key]
    if not (math.isfinite(number) and ok(number)):
        raise SymbackpropError(f"{where} must be {wanted}, got {value[:40]}")
    return number
