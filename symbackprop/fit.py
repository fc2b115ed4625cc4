"""The epoch loop behind `train --schedule/--warmup/--val-split/--patience`: the generated
module's own step (as its train() takes it) at a learning rate set per epoch, a held-out loss
after every epoch, and early stopping on it.

With a constant rate and no validation it is train()'s loop exactly (the same shuffles from
the same seed, the same steps), so the options change nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from .errors import SymbackpropError
from .schedules import Schedule

Params = dict[str, np.ndarray]


def split(
    X: np.ndarray, Y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, Y_train, X_val, Y_val): round(fraction * rows) rows (at least 1) held out,
    drawn by a generator seeded with `seed`; both parts keep the data's row order."""
    rows = len(X)
    if not 0 < fraction < 1:
        raise SymbackpropError(f"--val-split: must be between 0 and 1 (excluded), got {fraction}")
    held = max(1, round(fraction * rows))
    if held >= rows:
        raise SymbackpropError(
            f"--val-split {fraction:g} of {rows} row{'s' * (rows != 1)} leaves no training row"
        )
    order = np.random.default_rng(seed).permutation(rows)
    val, train = np.sort(order[:held]), np.sort(order[held:])
    return X[train], Y[train], X[val], Y[val]


@dataclass
class Fit:
    """What the loop did: the held-out loss per epoch, the learning rate per epoch, and the
    epoch it stopped at early (None: it ran them all) with the best epoch kept."""

    validation: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    stopped: int | None = None
    best: int | None = None
    held_out: int = 0


def run(
    module: ModuleType,
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    lr: float,
    epochs: int,
    batch_size: int | None,
    seed: int,
    schedule: Schedule,
    optimizer: str,
    optimizer_options: dict[str, float] | None,
    held_out: tuple[np.ndarray, np.ndarray] | None,
    patience: int | None,
    callback: Callable[[int, float], None],
    stats: Params | None = None,
) -> Fit:
    """Train `params` in place, epoch by epoch; `callback(epoch, loss)` after each (it may
    raise to stop). With `patience`, stop once the held-out loss (the training loss without
    `held_out`) has not fallen below its best for that many epochs, and keep the best epoch's
    parameters. `stats`, where given, keeps batch norm's running statistics (and the held-out
    loss is taken with them)."""
    kept = () if stats is None else (stats,)
    step = module._stepper(params, optimizer, optimizer_options, *kept)  # train()'s own step
    rng = np.random.default_rng(seed)
    count = len(X)
    size = count if batch_size is None else int(batch_size)
    out = Fit(held_out=0 if held_out is None else len(held_out[0]))
    best_value, best_params, since = np.inf, None, 0
    best_stats: Params = {}
    for epoch in range(epochs):
        rate = schedule.rate(lr, epoch, epochs)
        out.rates.append(rate)
        order = rng.permutation(count)
        total = 0.0
        for start in range(0, count, size):
            rows = order[start : start + size]
            total += step(X[rows], Y[rows], rate) * len(rows)
        callback(epoch, total / count)
        watched = total / count
        if held_out is not None:
            watched = float(module.loss(params, *held_out, *kept))
            out.validation.append(watched)
        if patience is None:
            continue
        if watched < best_value:
            best_value, since, out.best = watched, 0, epoch + 1
            best_params = {key: value.copy() for key, value in params.items()}
            best_stats = {key: value.copy() for key, value in (stats or {}).items()}
        else:
            since += 1
            if since >= patience:
                out.stopped = epoch + 1
                break
    if best_params is not None and out.stopped is not None:
        for key, value in best_params.items():
            params[key][...] = value
        if stats is not None:
            stats.update(best_stats)
    return out
