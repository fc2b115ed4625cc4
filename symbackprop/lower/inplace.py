"""The in-place schedule: sgd_step, the training step's hot path, as lines of code.

Every array lives in a buffer made once per batch size and dtype (`buffer_lines`); going down
the layers each delta is computed from the weights above before they are updated, buffers of
one role are shared across layers, a layer's activation overwrites z when nothing reads z
again, and σ' is multiplied into δ in the buffer of a^(l) once a^(l) is spent.  The per-layer
facts (`Layer`) come from codegen's fast-path pass; this module only lays them out, so the
template holds no logic of its own for the step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sympy
from sympy import Expr

from ..ir import Derivation, Equation
from ..library import Z
from ..notation import Elementwise, Hadamard, MatProd
from ..printing.inplace import Line, inplace_code, reading, scale_code
from ..printing.numpy import numpy_code
from ..rewrite import stable
from .readable import comment

Layer = dict[str, Any]


def layers(
    derivation: Derivation, loss_lines: list[Line], loss_reads_z: bool
) -> list[dict[str, Any]]:
    """Per layer, the in-place statements of the training step's hot path (sgd_step).

    `loss_lines` compute the output layer's per-unit loss (from log a computed from z when
    `loss_reads_z`); a layer's activation overwrites z in its own buffer when nothing after the
    first forward statement reads z again.
    """
    depth = derivation.network.depth
    layers = []
    for ld in derivation.layers:
        act = ld.rule.activation
        number = ld.number
        info: dict[str, Any] = {"n": number, "units": ld.units, "fan_in": ld.fan_in}
        info.update(delta=[], scale="", sigma=[], late_slope=[])
        info["identity"] = act.expr == Z
        info["softmax"] = act.is_softmax
        info["forward"], scratch = (
            ([], 0)
            if act.expr is None or info["identity"]
            else inplace_code(
                stable(ld.require("vector", "act").final), f"a{number}", f"s{number}_"
            )
        )
        delta = ld.equation("vector", "delta")
        assert delta is not None
        if number == depth:
            coeff, rest = delta.final.args[0].as_coeff_Mul()
            rest = stable(rest)
            info["delta"], used = inplace_code(rest, f"delta{number}", f"s{number}_")
            info["scale"] = "lr / n" if coeff == 1 else f"{numpy_code(coeff)} * lr / n"
            reads_z = [Line("", [f"z{number}"])] if loss_reads_z else []
            later = info["delta"] + loss_lines + reads_z
        else:
            sigma = _slope(delta)
            slope = stable(sigma)
            scaled = (
                None
                if sigma == 1
                else scale_code(slope, f"delta{number}", f"a{number}", f"s{number}_")
            )
            if scaled is not None:  # σ' multiplied in after a^(l)'s last other use
                info["late_slope"], used = scaled
            else:
                info["sigma"], used = (
                    ([], 0) if sigma == 1 else inplace_code(slope, f"t{number}", f"s{number}_")
                )
            later = info["sigma"] + info["late_slope"]
        info["in_place"] = (
            not info["identity"]
            and not info["softmax"]
            and set(reading(f"z{number}", info["forward"])) <= {0}
            and not reading(f"z{number}", later)
        )
        info["keep_z"] = not (info["identity"] or info["in_place"])
        info["alias_z"] = info["identity"] and bool(reading(f"z{number}", later))
        info["scratch"] = list(range(1, max(scratch, used) + 1))
        info["comments"] = {
            kind: comment(eq)
            for kind in ("pre", "act", "delta", "dE_dw", "dE_db")
            if (eq := ld.equation("vector", kind)) is not None
        }
        layers.append(info)
    return layers


def shared(fast: list[dict[str, Any]]) -> dict[str, int]:
    """Sizes of the flat arrays that sgd_step's buffers of the same role share, per sample."""
    return {
        "odd": max((f["units"] for f in fast if f["n"] % 2), default=0),
        "even": max((f["units"] for f in fast if not f["n"] % 2), default=0),
        "slope": max((f["units"] for f in fast if f["sigma"]), default=0),
        "grad": max(f["units"] * f["fan_in"] for f in fast),
        "grad_b": max(f["units"] for f in fast),
    }


def _slope(delta: Equation) -> Expr:
    """σ'(z^(l)) as a hidden layer's vector delta equation states it: its elementwise factor
    beside (W^(l+1))ᵀ δ^(l+1), or 1 when there is none."""
    final = delta.final
    if not isinstance(final, Hadamard):
        return sympy.S.One
    rest = [f.args[0] if isinstance(f, Elementwise) else f for f in final.args]
    return sympy.Mul(*(f for f in rest if not isinstance(f, MatProd)))


_OVERFLOW_CHECK = (
    "if not np.isfinite({z}.sum()):  # X·W1ᵀ overflowed: see _product",
    "    return _careful_step(params, X, Y, lr)",
)


def buffer_lines(
    fast: list[Layer], shared: dict[str, int], *, depth: int, uses_log_a: bool, uses_log_1ma: bool
) -> list[str]:
    """The body of `if key not in _BUFFERS:` in _buffers(), at its own indentation."""
    lines = []
    if shared["even"]:
        lines.append(
            f"odd, even = np.empty(n * {shared['odd']}, dtype),"
            f" np.empty(n * {shared['even']}, dtype)"
        )
    else:
        lines.append(f"odd = np.empty(n * {shared['odd']}, dtype)")
    if shared["slope"]:
        lines.append(f"slope = np.empty(n * {shared['slope']}, dtype)")
    lines.append(
        f"grad, grad_b = np.empty({shared['grad']}, dtype), np.empty({shared['grad_b']}, dtype)"
    )
    lines += ["_BUFFERS[key] = {", '    "ones": np.ones(n, dtype),']
    for layer in fast:
        n, units = layer["n"], layer["units"]
        array = f"np.empty((n, {units}), dtype)"
        if layer["keep_z"]:
            lines.append(f'    "z{n}": {array},')
        lines.append(f'    "a{n}": {array},')
        lines += [f'    "s{n}_{k}": {array},' for k in layer["scratch"]]
        if layer["sigma"]:
            lines.append(f'    "t{n}": slope[: n * {units}].reshape(n, {units}),')
        role = "odd" if n % 2 else "even"
        lines.append(f'    "delta{n}": {role}[: n * {units}].reshape(n, {units}),')
        grad = f"grad[:{units * layer['fan_in']}].reshape({units}, {layer['fan_in']})"
        lines.append(f'    "dW{n}": {grad},')
        lines.append(f'    "db{n}": grad_b[:{units}],')
    out = f"np.empty((n, {fast[-1]['units']}), dtype)"
    if fast[-1]["softmax"]:
        lines.append(f'    "shifted": {out},')
    elif uses_log_a:
        lines.append(f'    "log_a{depth}": {out},')
    if uses_log_1ma:
        lines.append(f'    "log_1ma{depth}": {out},')
    lines += [f'    "terms": {out},', "}"]
    return lines


def step_lines(
    fast: list[Layer],
    *,
    depth: int,
    output_kind: str,
    uses_log_a: bool,
    uses_log_1ma: bool,
    loss_lines: Sequence[str],
    loss_equation: list[str],
) -> list[str]:
    """The body of sgd_step after its buffers are fetched, down to `return value`."""
    lines: list[str] = []
    for layer in fast:
        lines += [
            f'W{layer["n"]}, b{layer["n"]} = params["W{layer["n"]}"], params["b{layer["n"]}"]'
        ]
        lines += [f's{layer["n"]}_{k} = buf["s{layer["n"]}_{k}"]' for k in layer["scratch"]]
    for layer in fast:
        lines += layer["comments"]["pre"] + layer["comments"]["act"]
        lines += _forward(layer)
    lines += _log_lines(depth, output_kind, uses_log_a, uses_log_1ma)
    lines += loss_equation
    lines += ["# value: the mean of E over the n samples", 'terms = buf["terms"]', *loss_lines]
    lines += [
        "value = float(np.sum(terms)) / n",
        "if np.isnan(value):  # an overflow deeper down, or NaN in the data or parameters",
        "    return _careful_step(params, X, Y, lr)",
    ]
    for layer in reversed(fast):
        lines += _backward(layer, fast, depth)
    return [*lines, "return value"]


def _forward(layer: Layer) -> list[str]:
    """z = a W^T + b into its buffer, then the activation (over z when z is spent)."""
    n = layer["n"]
    first = [line.format(z="a1" if layer["identity"] else "z1") for line in _OVERFLOW_CHECK]
    check = first if n == 1 else []
    product = f"np.dot(a{n - 1}, W{n}.T, out=buf"
    if layer["identity"]:
        lines = [f'a{n} = {product}["a{n}"])', f"a{n} += b{n}", *check]
        return lines + ([f"z{n} = a{n}"] if layer["alias_z"] else [])
    if layer["in_place"]:
        return [
            f'z{n} = {product}["a{n}"])',
            f"z{n} += b{n}",
            *check,
            f"a{n} = z{n}  # σ overwrites z^({n}), which is not needed again",
            *layer["forward"],
        ]
    lines = [f'z{n} = {product}["z{n}"])', f"z{n} += b{n}", *check, f'a{n} = buf["a{n}"]']
    if layer["softmax"]:
        lines += [
            f"top = z{n}.max(axis=1, keepdims=True)",
            'shifted = buf["shifted"]',
            "shifted.fill(0.0)",
            f"np.subtract(z{n}, top, out=shifted, where=z{n} != top)",
            f"np.exp(shifted, out=a{n})",
            f"total = a{n}.sum(axis=1, keepdims=True)",
            f"a{n} /= total",
        ]
    forward: list[str] = layer["forward"]
    return lines + forward


def _log_lines(depth: int, output_kind: str, uses_log_a: bool, uses_log_1ma: bool) -> list[str]:
    """log a^(L) and log(1 - a^(L)) for the loss, from z where the output allows."""
    lines: list[str] = []
    log_a, log_1ma = f"log_a{depth}", f"log_1ma{depth}"
    if uses_log_a:
        if output_kind == "softmax":
            lines += [
                f"# log a^({depth}) = shifted z^({depth}) - log of its row sum of exponentials"
                " (log-sum-exp)",
                f"{log_a} = shifted",
                f"{log_a} -= np.log(total, out=total)",
            ]
        elif output_kind == "sigmoid":
            lines += [
                f"# log a^({depth}) = -log(1 + e^(-z)), finite however large |z| is",
                f'{log_a} = np.negative(z{depth}, out=buf["{log_a}"])',
                f"np.logaddexp(0.0, {log_a}, out={log_a})",
                f"np.negative({log_a}, out={log_a})",
            ]
        else:
            lines.append(f'{log_a} = np.log(a{depth}, out=buf["{log_a}"])')
        if output_kind:
            lines += [
                "# a zero probability contributes 0 * log 0 = 0: keep the logarithm finite",
                f"np.maximum({log_a}, np.finfo(dtype).min, out={log_a})",
            ]
    if uses_log_1ma:
        if output_kind == "sigmoid":
            lines += [
                f"# log(1 - a^({depth})) = -log(1 + e^z), finite however large |z| is",
                f'{log_1ma} = np.logaddexp(0.0, z{depth}, out=buf["{log_1ma}"])',
                f"np.negative({log_1ma}, out={log_1ma})",
                f"np.maximum({log_1ma}, np.finfo(dtype).min, out={log_1ma})",
            ]
        else:
            lines += [
                f'{log_1ma} = np.negative(a{depth}, out=buf["{log_1ma}"])',
                f"np.log1p({log_1ma}, out={log_1ma})",
            ]
    return lines


def _backward(layer: Layer, fast: list[Layer], depth: int) -> list[str]:
    """Layer l's share going down: δ^(l) at the output, δ^(l-1) from W^(l) before W^(l)
    changes, then W^(l) and b^(l) updated, then σ' multiplied into δ^(l-1) where it waited."""
    n = layer["n"]
    lines: list[str] = []
    if n == depth:
        lines += layer["comments"]["delta"]
        lines += [f'delta{n} = buf["delta{n}"]', *layer["delta"], f"delta{n} *= {layer['scale']}"]
    below = fast[n - 2] if n > 1 else None
    if below is not None:
        m = below["n"]
        lines += below["comments"]["delta"]
        lines.append(f'delta{m} = buf["delta{m}"]')
        after = f"  # before W^({n}) changes" if below["late_slope"] else ""
        lines.append(f"np.dot(delta{n}, W{n}, out=delta{m}){after}")
        if below["sigma"]:
            lines += [f't{m} = buf["t{m}"]', *below["sigma"], f"delta{m} *= t{m}"]
    lines += layer["comments"]["dE_dw"]
    lines += [
        f'dW{n} = buf["dW{n}"]',
        "if n == 1:  # a rank-one update: np.outer is much faster than a product here",
        f"    np.outer(delta{n}[0], a{n - 1}[0], out=dW{n})",
        "else:",
        f"    np.dot(delta{n}.T, a{n - 1}, out=dW{n})",
        f"W{n} -= dW{n}",
    ]
    lines += layer["comments"]["dE_db"]
    lines.append(f'b{n} -= np.dot(ones, delta{n}, out=buf["db{n}"])')
    if below is not None and below["late_slope"]:
        m = below["n"]
        lines.append(
            f"# (V{m}.d) continued: ⊙ σ'(z^({m})), in the buffer of a^({m}), not needed again"
        )
        lines += below["late_slope"]
    return lines
