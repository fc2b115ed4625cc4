"""`train --plot`: the loss per epoch, and a two-input classifier's decision boundary.

matplotlib is optional (the `plot` extra): `require_matplotlib` imports it only when a plot is
asked for, and the command checks for it before training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .spec import Network

#: One panel's size in inches at PLOT_DPI: 640 x 480 pixels; the boundary panel doubles the width.
PANEL_SIZE, PLOT_DPI = (6.4, 4.8), 100
#: Grid points per axis on which the boundary panel asks the network for its prediction.
GRID_POINTS = 200
#: A loss curve spanning more than this ratio is drawn on a log scale.
LOG_SCALE_RATIO = 100.0


@dataclass(frozen=True)
class Boundary:
    """What the decision-boundary panel needs: a predict function (rows of 2 inputs -> the
    output layer's activations), the data, and whether the output is softmax."""

    predict: Callable[[np.ndarray], np.ndarray]
    X: np.ndarray
    Y: np.ndarray
    softmax: bool


def is_two_input_classifier(network: Network) -> bool:
    """Two inputs and a classifier's output: softmax, or one sigmoid unit."""
    if network.inputs != 2:
        return False
    out = network.layers[-1]
    sigmoid = out.activation.builtin and out.activation.name == "sigmoid" and out.units == 1
    return bool(out.activation.is_softmax or sigmoid)


def loss_figure(
    figure_class: Any,
    history: list[float],
    *,
    title: str,
    ylabel: str,
    lr: float | None = None,
    boundary: Boundary | None = None,
    validation: list[float] | None = None,
) -> Any:
    """The figure: the loss per epoch (the learning rate in the legend), the held-out loss
    beside it given `validation`, and, given a `boundary`, a second panel with the decision
    boundary and the data points."""
    panels = 2 if boundary is not None else 1
    figure = figure_class(figsize=(PANEL_SIZE[0] * panels, PANEL_SIZE[1]), dpi=PLOT_DPI)
    axes = figure.add_subplot(1, panels, 1)
    epochs = np.arange(1, len(history) + 1)
    marker = "." if len(history) <= 50 else None
    label = f"learning rate η = {lr:g}" if lr is not None else None
    if validation:
        label = f"training ({label})" if label else "training"
    axes.plot(epochs, history, marker=marker, label=label)
    if validation:
        shown = np.arange(1, len(validation) + 1)
        axes.plot(shown, validation, marker=marker, linestyle="--", label="validation")
    finite = [v for v in [*history, *(validation or [])] if np.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > LOG_SCALE_RATIO:
        axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    if label is not None or validation:
        axes.legend(loc="upper right")
    if boundary is not None:
        _boundary_panel(figure.add_subplot(1, 2, 2), boundary)
    figure.tight_layout()
    return figure


def _boundary_panel(axes: Any, boundary: Boundary) -> None:
    """Predicted class regions on a grid over the data (with a margin), the boundary as a
    contour, and the samples coloured by their target class."""
    X = np.asarray(boundary.X, dtype=np.float64)
    Y = np.asarray(boundary.Y, dtype=np.float64).reshape(len(X), -1)
    low, high = X.min(axis=0), X.max(axis=0)
    margin = np.where(high > low, (high - low) * 0.1, 1.0)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], GRID_POINTS)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], GRID_POINTS)
    gx, gy = np.meshgrid(xs, ys)
    output = np.asarray(boundary.predict(np.column_stack([gx.ravel(), gy.ravel()])))
    output = output.reshape(gx.size, -1)
    if boundary.softmax:
        classes = Y.shape[1]
        predicted = np.argmax(output, axis=1).reshape(gx.shape)
        levels = np.arange(classes + 1) - 0.5
        axes.contourf(gx, gy, predicted, levels=levels, cmap="coolwarm", alpha=0.3)
        axes.contour(gx, gy, predicted, levels=levels[1:-1], colors="black", linewidths=1)
        labels = np.argmax(Y, axis=1)
    else:
        probability = output[:, 0].reshape(gx.shape)
        axes.contourf(gx, gy, probability, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.3)
        if probability.min() < 0.5 < probability.max():
            axes.contour(gx, gy, probability, levels=[0.5], colors="black", linewidths=1)
        labels = (Y[:, 0] > 0.5).astype(int)
    from matplotlib import colormaps

    colours = colormaps["coolwarm"]
    top = max(1, Y.shape[1] - 1) if boundary.softmax else 1
    for label in np.unique(labels):
        chosen = labels == label
        axes.scatter(
            X[chosen, 0], X[chosen, 1], s=14, color=colours(label / top), edgecolors="black",
            linewidths=0.4, label=f"class {int(label)}",
        )  # fmt: skip
    axes.set_xlim(xs[0], xs[-1])
    axes.set_ylim(ys[0], ys[-1])
    axes.set_xlabel("x₁")
    axes.set_ylabel("x₂")
    rule = "argmax of the softmax" if boundary.softmax else "output 0.5"
    axes.set_title(f"decision boundary ({rule})")
    axes.legend(loc="upper right", fontsize="small")
