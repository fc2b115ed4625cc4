"""The functional schedule: the lowered program as pure functions for any array library of the
array API standard (the `--backend array-api` module).

The same statements and layout as the readable schedule (lower/readable.py), printed through
the `xp` namespace (printing/array_api.py); nothing is written into an array the function did
not make itself, nothing converts to NumPy on the way, and the loss's logarithms are statements
of their own (lower/loss.py), so the template holds static helpers and layout only.
"""

from __future__ import annotations

from typing import Any

from sympy import Expr

from ..ir import Derivation
from ..notation import Act, Pre
from ..printing.array_api import array_api_code, array_api_statements
from ..printing.numpy import LINE_WIDTH
from ..printing.text import text
from ..rewrite import LogSigmoid, LogSoftmax
from .loss import log_statements, loss
from .program import lower
from .readable import ARRAY_API, Group, Step, backward, comment, forward

#: Why a logarithm of the output is computed as it is, by the form it takes.
_LOG_NOTES = {
    LogSoftmax: "# log a^({n}) from z^({n}) by log-sum-exp: finite however large |z| is",
    LogSigmoid: "# log of the logistic from z^({n}): -log(1 + e^(-z)), finite for every z",
}


def loss_step(derivation: Derivation) -> tuple[Step, str]:
    """_per_sample_loss(): the cached arrays it reads, the logarithms of the output, E per unit;
    and the code whose row sums it returns (E itself when the line fits, else `terms`)."""
    depth = derivation.network.depth
    found = loss(derivation)
    logs = log_statements(found, depth)
    step = Step(depth)
    reads: set[Expr] = set(found.per_unit.atoms(Act, Pre))
    for statement in logs:
        reads |= statement.value.atoms(Act, Pre)
    step.cache = sorted(array_api_code(q) for q in reads)
    for statement in logs:
        notes = [
            note.format(n=depth)
            for kind, note in _LOG_NOTES.items()
            if isinstance(statement.value, kind)
        ]
        target = array_api_code(statement.target)
        step.groups.append(Group(notes, array_api_statements(target, statement.value)))
    code = array_api_code(found.per_unit)
    if len(f"    return xp.sum({code}, axis=1)") > LINE_WIDTH:
        step.groups.append(Group([], array_api_statements("terms", found.per_unit)))
        code = "terms"
    return step, code


def context(derivation: Derivation) -> dict[str, Any]:
    """What templates/array_api/module.py.jinja lays out: printed statements and facts."""
    net = derivation.network
    program = lower(derivation)
    step, loss_code = loss_step(derivation)
    found = loss(derivation)
    return {
        "name": net.name,
        "sizes": list(net.sizes),
        "depth": net.depth,
        "activations": [layer.activation.name for layer in net.layers],
        "loss_name": net.loss.name,
        "layers": [
            {
                "n": ld.number,
                "units": ld.units,
                "fan_in": ld.fan_in,
                "activation": ld.rule.activation.name,
                "init": ld.rule.activation.init,
            }
            for ld in derivation.layers
        ],
        "forward": forward(program, ARRAY_API),
        "backward": backward(program, ARRAY_API),
        "loss": step,
        "loss_code": loss_code,
        "loss_comment": f"E = {text(net.loss.expr)} per output unit, summed over the units",
        "loss_equation": comment(derivation.layers[-1].require("index", "loss")),
        "softmax": found.output_kind == "softmax",
    }
