"""Training: generate a spec's NumPy module in memory and train it on a data set.

Full-batch gradient descent when no batch size is given, SGD with batch size 1, minibatches
(gradient averaged over the batch) otherwise, as in the lecture's GD / SGD / mini-batch slides.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np

from .codegen import generate
from .data import MAX_DATA_BYTES, describe_dtype, read_npz
from .errors import SymbackpropError
from .files import check_output, display_path, read_bounded, write_atomic
from .fit import Fit, split
from .fit import run as run_epochs
from .gradcheck import load_module
from .printing.text import text
from .schedules import Schedule
from .shapes import CONV_KINDS, weight_shape
from .spec import Network

if TYPE_CHECKING:
    from .plots import Boundary

Params = dict[str, np.ndarray]
PLOT_HINT = "--plot needs matplotlib: pip install symbackprop[plot]"
#: A final loss above this many times the loss before training counts as diverging.
DIVERGING_GROWTH = 1.5
#: Plot size in inches at PLOT_DPI: 640 x 480 pixels.
PLOT_SIZE, PLOT_DPI = (6.4, 4.8), 100


#: The most weights and biases `check` and `train` hold (float64: 40 MB a copy, and training
#: keeps a few copies: parameters, gradients, the generated step's temporaries).
MAX_PARAMETERS = 5_000_000
#: The most activations `train` computes at once: rows of the data times the units of every
#: layer (z and a of each are kept for the backward pass).
MAX_ACTIVATIONS = 50_000_000


def parameter_count(network: Network) -> int:
    """The weights and biases of `network`."""
    shapes = (weight_shape(layer) for layer in network.layers)
    return sum(math.prod(shape) + shape[0] for shape in shapes if shape is not None)


def values_per_sample(network: Network) -> int:
    """The values one sample makes in a step: every layer's z and a, and a convolution's
    windows laid out as columns (channels x kernel entries x output positions)."""
    columns = sum(
        layer.shape_in[0] * math.prod(layer.grid.kernel) * math.prod(layer.shape_out[1:])
        for layer in network.layers
        if layer.grid is not None and layer.kind in CONV_KINDS
    )
    return sum(network.sizes) + columns


def check_size(network: Network, rows: int | None = None) -> None:
    """Refuse at once a network (and, given `rows`, a data set) too large to hold in memory,
    rather than fail part-way with a MemoryError."""
    sizes = " -> ".join(str(n) for n in network.sizes)
    count = parameter_count(network)
    if count > MAX_PARAMETERS:
        raise SymbackpropError(
            f"{network.source}: layer sizes {sizes} make {count:,} weights and biases, more than"
            f" the {MAX_PARAMETERS:,} that check and train hold in memory"
        )
    per_sample = values_per_sample(network)
    if rows is not None and rows * per_sample > MAX_ACTIVATIONS:
        raise SymbackpropError(
            f"{network.source}: {rows:,} rows through layer sizes {sizes} make"
            f" {rows * per_sample:,} activations, more than the {MAX_ACTIVATIONS:,}"
            " that check and train compute at once; use fewer rows or smaller layers"
        )


@dataclass(frozen=True)
class Metrics:
    """How well the trained network fits the data: accuracy for classifiers, errors otherwise."""

    loss: float
    kind: Literal["classification", "regression"]
    accuracy: float | None = None  # fraction of predictions (or output units) that are right
    correct: int = 0
    total: int = 0
    mae: float | None = None  # mean absolute error over all output units
    rmse: float | None = None


@dataclass(frozen=True)
class TrainResult:
    """Trained parameters, the mean loss of every epoch, and the metrics at the end."""

    params: Params
    history: list[float]
    metrics: Metrics
    mode: str  # "full batch (GD)", "SGD (batch size 1)" or "minibatches of N"
    #: A warning when the loss ended well above where it began (too large a learning rate).
    diverged: str | None = None
    #: With a schedule, a validation split or patience: the epoch loop's record (fit.Fit),
    #: and the held-out rows' metrics.
    fit: Fit | None = None
    validation: Metrics | None = None
    #: Batch norm's running statistics after training (None without batch norm).
    stats: Params | None = None


#: Module sources known without deriving (symbackprop.cache's), for module_for.
_SOURCES: dict[Network, str] = {}


def use_module(network: Network, source: str) -> None:
    """Have `module_for(network)` import `source`, the generated module of `network` (the
    command line's cached one), instead of deriving it."""
    _SOURCES[network] = source


@lru_cache(maxsize=8)
def module_for(network: Network) -> ModuleType:
    """The generated module for `network`, imported once per process (derivation is slow)."""
    source = _SOURCES.get(network)
    return load_module(generate(network).source if source is None else source, network.name)


def batch_mode(batch_size: int | None, rows: int) -> str:
    """The lecture's name for the update scheme, for messages and plot titles."""
    if batch_size is None or batch_size == rows:
        return "full batch (GD)"
    if batch_size == 1:
        return "SGD (batch size 1)"
    return f"minibatches of {batch_size}"


def train_network(
    network: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    lr: float,
    epochs: int,
    batch_size: int | None = None,
    seed: int = 0,
    init: Params | None = None,
    callback: Callable[[int, float], None] | None = None,
    optimizer: str = "sgd",
    optimizer_options: dict[str, float] | None = None,
    schedule: Schedule | None = None,
    val_split: float | None = None,
    patience: int | None = None,
) -> TrainResult:
    """Train `network` on (X, Y) with the generated module's train(); `init` is not modified.

    `seed` seeds both the initial weights (unless `init` is given) and the shuffling.
    `optimizer` is one of symbackprop.optim's, its hyper-parameters but lr in
    `optimizer_options` (checked here, before training).
    `schedule` sets the learning rate per epoch (schedules.py), `val_split` holds that
    fraction of the rows out (fit.split, by `seed`) and `patience` stops early (fit.run).
    Raises SymbackpropError for bad settings and when the loss stops being finite.
    """
    X, Y = _check_arrays(network, X, Y)
    held_out = None
    if val_split is not None:
        X, Y, *rest = split(X, Y, val_split, seed)
        held_out = (rest[0], rest[1])
    if patience is not None and patience < 1:
        raise SymbackpropError(f"--patience: must be at least 1, got {patience}")
    looped = schedule is not None or held_out is not None or patience is not None
    _check_settings(lr, epochs, batch_size, seed, len(X))
    check_size(network, len(X))
    if optimizer != "sgd" or optimizer_options:
        from .optim.numeric import settings
        from .optim.rules import optimizer as known_optimizer

        settings(known_optimizer(optimizer), {**(optimizer_options or {}), "lr": lr})
    module = module_for(network)
    expected = module.init_params(seed=seed)
    stats = _running_stats(module)
    if init is not None and stats is not None:  # saved with its running statistics
        init, stats = split_stats(module, check_params(init, saved_arrays(module), "init"))
    params = expected if init is None else check_params(init, expected, "init")
    start = {key: value.copy() for key, value in params.items()}
    kept = {} if stats is None else {"stats": stats}  # batch norm's running statistics
    history: list[float] = []

    def watch(epoch: int, value: float) -> None:
        if not math.isfinite(value):
            raise _Diverged(epoch + 1, value)
        history.append(value)
        if callback is not None:
            callback(epoch, value)

    with np.errstate(all="ignore"):  # overflow in exp() saturates correctly; NaN is caught
        before = float(module.loss(start, X, Y))
        if not math.isfinite(before):
            raise _not_finite(network, module, [start], X, Y, 1, before, lr)
        record = None
        try:
            if looped:
                record = run_epochs(
                    module,
                    params,
                    X,
                    Y,
                    lr=lr,
                    epochs=epochs,
                    batch_size=batch_size,
                    seed=seed,
                    schedule=schedule or Schedule("constant", {}),
                    optimizer=optimizer,
                    optimizer_options=optimizer_options,
                    held_out=held_out,
                    patience=patience,
                    callback=watch,
                    stats=stats,
                )
            else:
                module.train(
                    params,
                    X,
                    Y,
                    lr=lr,
                    epochs=epochs,
                    batch_size=batch_size,
                    seed=seed,
                    callback=watch,
                    optimizer=optimizer,
                    optimizer_options=optimizer_options,
                    **kept,
                )
        except _Diverged as err:
            raise _not_finite(
                network, module, [params, start], X, Y, err.epoch, err.value, lr
            ) from None
        metrics = evaluate(network, params, X, Y, stats)
        validation = None if held_out is None else evaluate(network, params, *held_out, stats)
    if not math.isfinite(metrics.loss):  # the last update overflowed
        raise _not_finite(network, module, [params, start], X, Y, epochs, metrics.loss, lr)
    diverged = None
    if metrics.loss > DIVERGING_GROWTH * before + 1e-12:
        diverged = (
            f"training diverged: the loss rose from {before:.6g} before training to"
            f" {metrics.loss:.6g}; try a smaller learning rate than {lr:g}"
        )
    mode = batch_mode(batch_size, len(X))
    return TrainResult(params, history, metrics, mode, diverged, record, validation, stats)


class Diverged(SymbackpropError):
    """The loss stopped being finite because the steps grew without bound (too large a
    learning rate): the command line's exit status 1, as for `gd`, not bad input."""


class _Diverged(Exception):
    def __init__(self, epoch: int, value: float) -> None:
        super().__init__(epoch, value)
        self.epoch, self.value = epoch, value


def _not_finite(
    network: Network,
    module: ModuleType,
    candidates: list[Params],
    X: np.ndarray,
    Y: np.ndarray,
    epoch: int,
    value: float,
    lr: float,
) -> SymbackpropError:
    """Why the loss became NaN or infinite: an activation or the loss evaluated outside where it
    is defined (bad input, named: sqrt of a negative z), else divergence (`Diverged`). Each of
    `candidates` (the parameters then, those at the start) is looked at, first finite first."""
    for params in candidates:
        if not all(np.all(np.isfinite(v)) for v in params.values()):
            continue
        _, cache = module.forward(params, X)
        for number, layer in enumerate(network.layers, start=1):
            z, a = cache[f"z{number}"], cache[f"a{number}"]
            if not np.all(np.isfinite(z)):
                break  # overflow: divergence
            bad = np.argwhere(np.isnan(a))  # from a finite z
            if len(bad):
                row, unit = (int(i) for i in bad[0])
                at = float(z[row, unit]) if not layer.activation.is_softmax else None
                where = f"layers[{number - 1}].activation (layer {number})"
                act = layer.activation
                formula = f" = {text(act.expr)}" if act.expr is not None and not act.builtin else ""
                point = f" at z = {at:.6g}" if at is not None else ""
                return SymbackpropError(
                    f"{network.source}: {where}: {act.name}{formula} gave NaN{point} (data row"
                    f" {row + 1}, unit {unit + 1}) at epoch {epoch}: {_domain_hint(formula, at)}"
                )
        else:
            loss = float(module.loss(params, X, Y))
            if math.isnan(loss):  # inf is overflow: divergence
                name = network.loss.name
                return SymbackpropError(
                    f"{network.source}: loss: {name} gave NaN at epoch {epoch} for"
                    " finite outputs: the loss is evaluated outside where it is defined"
                )
    return Diverged(
        f"training diverged at epoch {epoch} (loss {value}); try a smaller learning rate than"
        f" {lr:g}"
    )


def _domain_hint(formula: str, at: float | None) -> str:
    """What NaN from an activation most likely means, in words."""
    if at is not None and at < 0 and "sqrt" in formula:
        return "the square root of a negative number (try sqrt(abs(z)) or softplus)"
    if at is not None and at <= 0 and "log" in formula:
        return "the logarithm of a number that is not positive"
    return "the activation is not defined there"


def _check_arrays(network: Network, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X and Y as float64 arrays of the shapes the network needs (a vector Y for one output)."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    inputs, outputs = network.inputs, network.sizes[-1]
    if X.ndim != 2 or X.shape[1] != inputs or len(X) == 0:
        raise SymbackpropError(f"X has shape {X.shape}, but the network needs (rows, {inputs})")
    if Y.ndim == 1 and outputs == 1:
        Y = Y.reshape(-1, 1)
    if Y.shape != (len(X), outputs):
        raise SymbackpropError(
            f"Y has shape {Y.shape}, but X has {len(X)} rows and the network needs"
            f" ({len(X)}, {outputs})"
        )
    return X, Y


def _check_settings(lr: float, epochs: int, batch_size: int | None, seed: int, rows: int) -> None:
    if not (math.isfinite(lr) and lr > 0):
        raise SymbackpropError(f"the learning rate must be a positive number, got {lr}")
    if epochs < 1:
        raise SymbackpropError(f"epochs must be at least 1, got {epochs}")
    if batch_size is not None and not 1 <= batch_size <= rows:
        raise SymbackpropError(
            f"the batch size must be between 1 and the {rows} rows of the data, got {batch_size}"
        )
    if seed < 0:
        raise SymbackpropError(f"the seed must be 0 or more, got {seed}")


def check_params(params: dict[str, Any], expected: Params, source: str) -> Params:
    """A float64 copy of `params` if its keys and shapes are `expected`'s; else a one-line error."""
    names = ", ".join(expected)
    for key in expected:
        if key not in params:
            raise SymbackpropError(f"{source}: no array {key!r} (the network needs {names})")
    for key in params:
        if key not in expected:
            raise SymbackpropError(
                f"{source}: unexpected array {key!r} (the network needs {names})"
            )
    copy: Params = {}
    for key, want in expected.items():
        value = np.asarray(params[key])
        if value.shape != want.shape:
            raise SymbackpropError(
                f"{source}: {key} has shape {value.shape}, but the network needs {want.shape}"
            )
        if not (np.issubdtype(value.dtype, np.integer) or np.issubdtype(value.dtype, np.floating)):
            kind = describe_dtype(value.dtype)
            raise SymbackpropError(f"{source}: {key} holds {kind}, expected numbers")
        copy[key] = value.astype(np.float64, copy=True)
        if not np.all(np.isfinite(copy[key])):
            raise SymbackpropError(f"{source}: {key} holds NaN or infinite values")
    return copy


def evaluate(
    network: Network, params: Params, X: np.ndarray, Y: np.ndarray, stats: Params | None = None
) -> Metrics:
    """Loss, and accuracy (softmax: argmax; sigmoid with 0/1 targets: output > 0.5) or errors;
    batch norm with the running statistics `stats` where given (inference)."""
    module = module_for(network)
    extra = () if stats is None else (stats,)
    output = module.predict(params, X, *extra)
    value = float(module.loss(params, X, Y, *extra))
    Y = np.asarray(Y, dtype=np.float64).reshape(output.shape)
    output_activation = network.layers[-1].activation
    if output_activation.is_softmax:
        right = np.argmax(output, axis=1) == np.argmax(Y, axis=1)
    elif (
        output_activation.builtin
        and output_activation.name == "sigmoid"
        and np.all((Y == 0) | (Y == 1))
    ):
        right = (output > 0.5) == (Y == 1)  # one output: per sample; several: per unit
    else:
        error = output - Y
        mae = float(np.mean(np.abs(error)))
        rmse = float(np.sqrt(np.mean(error**2)))
        return Metrics(value, "regression", mae=mae, rmse=rmse)
    correct, total = int(np.sum(right)), int(right.size)
    return Metrics(value, "classification", correct / total, correct, total)


def load_params(path: str, network: Network) -> Params:
    """Parameters saved by --save, checked against the network's keys and shapes (batch norm's
    running statistics with them: `split_stats` parts them)."""
    shown = display_path(path)
    # protect=False: --init p.npz --save p.npz continues a training run in place
    raw = read_bounded(path, MAX_DATA_BYTES, expected="an .npz file", protect=False)
    arrays = read_npz(raw, shown)
    return check_params(arrays, saved_arrays(module_for(network)), shown)


def _running_stats(module: ModuleType) -> Params | None:
    """A module's fresh running statistics (init_stats), None without batch norm."""
    return module.init_stats() if hasattr(module, "init_stats") else None


def saved_arrays(module: ModuleType) -> Params:
    """What --save writes for a module's network: init_params' arrays, and init_stats' running
    statistics where the network has batch norm."""
    return {**module.init_params(seed=0), **(_running_stats(module) or {})}


def split_stats(module: ModuleType, arrays: Params) -> tuple[Params, Params | None]:
    """Saved arrays as (parameters, running statistics); None where there is no batch norm."""
    fresh = _running_stats(module)
    if fresh is None:
        return arrays, None
    keys = set(fresh)
    stats = {key: value for key, value in arrays.items() if key in keys}
    return {key: value for key, value in arrays.items() if key not in keys}, stats


def save_params(path: str, params: Params) -> None:
    """Write params as an .npz archive, atomically (a temporary file, then a rename)."""
    arrays: dict[str, Any] = dict(params)  # savez's keywords are array names
    _write_binary(path, lambda handle: np.savez(handle, **arrays))


def save_plot(
    path: str,
    history: list[float],
    title: str,
    ylabel: str,
    *,
    lr: float | None = None,
    boundary: Boundary | None = None,
    validation: list[float] | None = None,
) -> None:
    """Loss per epoch (the learning rate in the legend) as a PNG of PLOT_SIZE * PLOT_DPI
    pixels, written atomically; with a `boundary`, a second panel as wide: the decision
    boundary of a two-input classifier (plots.py)."""
    from .plots import loss_figure

    figure_class, canvas_class = require_matplotlib()
    figure = loss_figure(
        figure_class,
        history,
        title=title,
        ylabel=ylabel,
        lr=lr,
        boundary=boundary,
        validation=validation,
    )
    canvas_class(figure)
    _write_binary(path, lambda handle: figure.savefig(handle, format="png", dpi=PLOT_DPI))


def require_matplotlib() -> tuple[Any, Any]:
    """matplotlib's Figure and Agg canvas, imported only when a plot is asked for."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SymbackpropError(PLOT_HINT) from None
    return Figure, FigureCanvasAgg


def _write_binary(path: str, write: Callable[[IO[bytes]], object]) -> None:
    """Render bytes through `write` in memory, then write them atomically to `path`."""
    check_writable(path)
    buffer = io.BytesIO()
    write(buffer)
    write_atomic(path, buffer.getvalue())


def check_writable(path: str) -> None:
    """Refuse, before any training, an output path that cannot be a new or replaced file (a
    folder, a missing or read-only folder, a read-only file, an input of the run)."""
    check_output(path)


def describe(metrics: Metrics) -> str:
    """The metrics line the command prints."""
    if metrics.kind == "classification" and metrics.accuracy is not None:
        return f"accuracy {100 * metrics.accuracy:.1f}% ({metrics.correct} of {metrics.total})"
    return f"mean absolute error {metrics.mae:.6g}, RMSE {metrics.rmse:.6g}"
