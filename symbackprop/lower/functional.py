"""The functional schedule: the lowered program as pure functions for any array library of the
array API standard (the `--backend array-api` module).

The same statements and layout as the readable schedule (lower/readable.py), printed through
the `xp` namespace (printing/array_api.py); nothing is written into an array the function did
not make itself, nothing converts to NumPy on the way, and the loss's logarithms are statements
of their own (lower/loss.py), so the template holds static helpers and layout only.
"""

from __future__ import annotations

from typing import Any

from ..ir import Derivation
from ..optim import codegen as optim_codegen
from ..printing.text import text
from .loss import loss, loss_step, penalty_step
from .program import lower
from .readable import ARRAY_API, backward, comment, forward, layer_facts


def context(derivation: Derivation) -> dict[str, Any]:
    """What templates/array_api/module.py.jinja lays out: printed statements and facts."""
    net = derivation.network
    program = lower(derivation)
    found = loss(derivation)
    step, loss_code = loss_step(found, net.depth, ARRAY_API)
    return {
        "name": net.name,
        "sizes": list(net.sizes),
        "depth": net.depth,
        "activations": [layer.activation.name for layer in net.layers],
        "loss_name": net.loss.name,
        "layers": layer_facts(derivation),
        "forward": forward(program, ARRAY_API),
        "backward": backward(program, ARRAY_API),
        "loss": step,
        "loss_code": loss_code,
        "loss_comment": f"E = {text(net.loss.expr)} per output unit, summed over the units",
        "loss_equation": comment(derivation.layers[-1].require("index", "loss")),
        "softmax": found.output_kind == "softmax",
        "optimizers": optim_codegen.functional(),
        "penalty": penalty_step(derivation, ARRAY_API),
    }
