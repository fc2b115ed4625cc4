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
from dataclasses import dataclass, field

import sympy
from sympy import Expr

from ..notation import Act, Affine, Delta, Elementwise, Hadamard, MatProd, Pre, Softmax
from ..printing.inplace import (
    Line,
    batch_sum_code,
    inplace_code,
    product_code,
    reading,
    scale_code,
    single_sample_code,
)
from ..printing.numpy import numpy_code
from ..rewrite import LogSoftmax, stable
from .loss import note
from .program import Assign, BatchSum, GradientName, Program, Scale, Statement
from .readable import comment

#: The learning rate, folded into the output delta's batch mean (lr / n).
LR = sympy.Symbol("lr")


@dataclass
class Layer:
    """One layer's statements of the lowered program and how sgd_step computes them in place:
    the activation's lines, the output delta's (with lr / n folded in) or σ' of a hidden one
    (early, in its own buffer, or late, in the buffer of a^(l)), and the buffers it needs."""

    n: int
    units: int
    fan_in: int
    pre: Assign
    act: Assign
    delta: Assign
    dW: Assign
    db: BatchSum
    identity: bool
    softmax: bool
    forward: list[Line] = field(default_factory=list)
    delta_lines: list[Line] = field(default_factory=list)
    scale: str = ""
    sigma: list[Line] = field(default_factory=list)
    late_slope: list[Line] = field(default_factory=list)
    in_place: bool = False
    keep_z: bool = True
    alias_z: bool = False
    scratch: list[int] = field(default_factory=list)
    comments: dict[str, list[str]] = field(default_factory=dict)


def _roles(program: Program) -> dict[int, dict[str, Statement]]:
    """The program's statements by layer and role: pre, act, delta, mean, dW, db."""
    found: dict[int, dict[str, Statement]] = {}
    for statement in (*program.forward, *program.backward):
        target = statement.target
        if isinstance(statement, Scale):
            role = "mean"
        elif isinstance(target, GradientName):
            role = "d" + str(target.args[1])
        else:
            role = {Pre: "pre", Act: "act", Delta: "delta"}[type(target)]
        found.setdefault(int(target.args[0]), {})[role] = statement
    return found


def layers(
    program: Program, sizes: Sequence[int], loss_lines: list[Line], loss_reads_z: bool
) -> list[Layer]:
    """Per layer, the in-place statements of the training step's hot path (sgd_step), from the
    lowered program's statements.

    `loss_lines` compute the output layer's per-unit loss (from log a computed from z when
    `loss_reads_z`); a layer's activation overwrites z in its own buffer when nothing after the
    first forward statement reads z again.
    """
    roles = _roles(program)
    depth = len(roles)
    plans = []
    for number, found in sorted(roles.items()):
        pre, act, delta, dW, db = (found[r] for r in ("pre", "act", "delta", "dW", "db"))
        assert isinstance(pre, Assign) and isinstance(act, Assign) and isinstance(db, BatchSum)
        assert isinstance(delta, Assign) and isinstance(dW, Assign)
        output = _unwrap(act.value)
        layer = Layer(
            number, sizes[number], sizes[number - 1], pre, act, delta, dW, db,
            identity=output == Pre(number), softmax=isinstance(output, Softmax),
        )  # fmt: skip
        scratch = 0
        if not (layer.identity or layer.softmax):
            layer.forward, scratch = inplace_code(act.value, f"a{number}", f"s{number}_")
        if number == depth:
            mean = found["mean"]
            assert isinstance(mean, Scale)
            coeff, rest = _factored(delta)
            layer.delta_lines, used = inplace_code(rest, f"delta{number}", f"s{number}_")
            layer.scale = numpy_code(coeff * mean.factor * LR)
            reads_z = [Line("", [f"z{number}"])] if loss_reads_z else []
            later = layer.delta_lines + loss_lines + reads_z
        else:
            sigma = _slope(delta.value)
            slope = stable(sigma)
            scaled = (
                None
                if sigma == 1
                else scale_code(slope, f"delta{number}", f"a{number}", f"s{number}_")
            )
            if scaled is not None:  # σ' multiplied in after a^(l)'s last other use
                layer.late_slope, used = scaled
            else:
                layer.sigma, used = (
                    ([], 0) if sigma == 1 else inplace_code(slope, f"t{number}", f"s{number}_")
                )
            later = layer.sigma + layer.late_slope
        layer.in_place = (
            not layer.identity
            and not layer.softmax
            and set(reading(f"z{number}", layer.forward)) <= {0}
            and not reading(f"z{number}", later)
        )
        layer.keep_z = not (layer.identity or layer.in_place)
        layer.alias_z = layer.identity and bool(reading(f"z{number}", later))
        layer.scratch = list(range(1, max(scratch, used) + 1))
        layer.comments = {
            role: comment(statement.equation)
            for role, statement in found.items()
            if not isinstance(statement, Scale) and statement.equation is not None
        }
        plans.append(layer)
    return plans


def _factored(delta: Assign) -> tuple[Expr, Expr]:
    """The output delta as (number, rest), the number to fold into lr / n: taken from the
    equation's product before the stable pass (whose rebuilt products SymPy distributes over
    sums), then whatever rational content the stable rest still has."""
    final = delta.equation.final if delta.equation is not None else delta.value
    coeff, rest = _unwrap(final).as_coeff_Mul()
    content, rest = stable(rest).as_content_primitive(clear=False)
    return coeff * content, rest


def _decay(gradient: Expr) -> tuple[Expr, Expr | None]:
    """∂E/∂W^(l) as its product δ^(l) (a^(l-1))ᵀ and the regularisation's ∂R/∂W^(l), if any."""
    if isinstance(gradient, Affine):
        product, decay = gradient.args
        return product, decay
    return gradient, None


def _buffer(name: str) -> str:
    """sgd_step's buffer of an array: `buf["z1"]`."""
    return f'buf["{name}"]'


def _unwrap(expr: Expr) -> Expr:
    return expr.args[0] if isinstance(expr, Elementwise) else expr


def _product(value: Expr) -> Expr:
    """The matrix product of a hidden delta's value: (W^(l+1))ᵀ δ^(l+1)."""
    if isinstance(value, MatProd):
        return value
    products = [f for f in value.args if isinstance(f, MatProd)]
    if len(products) != 1:
        raise ValueError(f"a hidden delta needs one matrix product, got {value}")
    return products[0]


def shared(fast: list[Layer]) -> dict[str, int]:
    """Sizes of the flat arrays that sgd_step's buffers of the same role share, per sample."""
    return {
        "odd": max((f.units for f in fast if f.n % 2), default=0),
        "even": max((f.units for f in fast if not f.n % 2), default=0),
        "slope": max((f.units for f in fast if f.sigma), default=0),
        "grad": max(f.units * f.fan_in for f in fast),
        "grad_b": max(f.units for f in fast),
    }


def _slope(value: Expr) -> Expr:
    """σ'(z^(l)) as a hidden layer's delta states it: its elementwise factor beside
    (W^(l+1))ᵀ δ^(l+1), or 1 when there is none."""
    if not isinstance(value, Hadamard):
        return sympy.S.One
    rest = [_unwrap(f) for f in value.args]
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
        n, units = layer.n, layer.units
        array = f"np.empty((n, {units}), dtype)"
        if layer.keep_z:
            lines.append(f'    "z{n}": {array},')
        lines.append(f'    "a{n}": {array},')
        lines += [f'    "s{n}_{k}": {array},' for k in layer.scratch]
        if layer.sigma:
            lines.append(f'    "t{n}": slope[: n * {units}].reshape(n, {units}),')
        role = "odd" if n % 2 else "even"
        lines.append(f'    "delta{n}": {role}[: n * {units}].reshape(n, {units}),')
        grad = f"grad[:{units * layer.fan_in}].reshape({units}, {layer.fan_in})"
        lines.append(f'    "dW{n}": {grad},')
        lines.append(f'    "db{n}": grad_b[:{units}],')
    out = f"np.empty((n, {fast[-1].units}), dtype)"
    if fast[-1].softmax:
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
    logs: Sequence[Assign],
    loss_lines: Sequence[str],
    loss_equation: list[str],
    penalty: bool = False,
) -> list[str]:
    """The body of sgd_step after its buffers are fetched, down to `return value`; `penalty`:
    the loss adds _penalty(params), the regularisation term R."""
    lines: list[str] = []
    for layer in fast:
        lines += [f'W{layer.n}, b{layer.n} = params["W{layer.n}"], params["b{layer.n}"]']
        lines += [f's{layer.n}_{k} = buf["s{layer.n}_{k}"]' for k in layer.scratch]
    for layer in fast:
        lines += layer.comments["pre"] + layer.comments["act"]
        lines += _forward(layer)
    lines += _log_lines(logs, depth)
    lines += loss_equation
    lines += ["# value: the mean of E over the n samples", 'terms = buf["terms"]', *loss_lines]
    lines += [
        "value = float(np.sum(terms)) / n",
        *(["value += _penalty(params)  # R, the same for every sample"] if penalty else []),
        "if np.isnan(value):  # an overflow deeper down, or NaN in the data or parameters",
        "    return _careful_step(params, X, Y, lr)",
    ]
    for layer in reversed(fast):
        lines += _backward(layer, fast, depth)
    return [*lines, "return value"]


def _forward(layer: Layer) -> list[str]:
    """z = a W^T + b into its buffer, then the activation (over z when z is spent)."""
    n = layer.n
    first = [line.format(z="a1" if layer.identity else "z1") for line in _OVERFLOW_CHECK]
    check = first if n == 1 else []
    matprod, bias = layer.pre.value.args  # the statement z = W a + b
    bias_code = numpy_code(bias)
    if layer.identity:
        lines = [f"a{n} = {product_code(matprod, _buffer(f'a{n}'))}"]
        lines += [f"a{n} += {bias_code}", *check]
        return lines + ([f"z{n} = a{n}"] if layer.alias_z else [])
    into = _buffer(f"a{n}" if layer.in_place else f"z{n}")
    lines = [f"z{n} = {product_code(matprod, into)}", f"z{n} += {bias_code}", *check]
    if layer.in_place:
        return [
            *lines,
            f"a{n} = z{n}  # σ overwrites z^({n}), which is not needed again",
            *layer.forward,
        ]
    lines.append(f'a{n} = buf["a{n}"]')
    if layer.softmax:
        lines += [
            f"top = z{n}.max(axis=1, keepdims=True)",
            'shifted = buf["shifted"]',
            "shifted.fill(0.0)",
            f"np.subtract(z{n}, top, out=shifted, where=z{n} != top)",
            f"np.exp(shifted, out=a{n})",
            f"total = a{n}.sum(axis=1, keepdims=True)",
            f"a{n} /= total",
        ]
    return lines + layer.forward


def _log_lines(logs: Sequence[Assign], depth: int) -> list[str]:
    """log a^(L) and log(1 - a^(L)) for the loss, as the loss's log statements state them:
    from z where the output allows (lower/loss.py), into their buffers; log-softmax from the
    shifted z and the row sums of its exponentials that the softmax left behind."""
    lines: list[str] = []
    for statement in logs:
        name = numpy_code(statement.target)
        if isinstance(statement.value, LogSoftmax):
            lines += [
                f"# log a^({depth}) = shifted z^({depth}) - log of its row sum of exponentials"
                " (log-sum-exp)",
                f"{name} = shifted",
                f"{name} -= np.log(total, out=total)",
                "# a zero probability contributes 0 * log 0 = 0: keep the logarithm finite",
                f"np.maximum({name}, np.finfo(dtype).min, out={name})",
            ]
            continue
        code, _ = inplace_code(statement.value, name, "")
        lines += [*note(statement.value, depth), f"{name} = {_buffer(name)}", *code]
    return lines


def _backward(layer: Layer, fast: list[Layer], depth: int) -> list[str]:
    """Layer l's share going down: δ^(l) at the output, δ^(l-1) from W^(l) before W^(l)
    changes, then W^(l) and b^(l) updated, then σ' multiplied into δ^(l-1) where it waited."""
    n = layer.n
    lines: list[str] = []
    if n == depth:
        lines += layer.comments["delta"]
        lines += [f'delta{n} = buf["delta{n}"]', *layer.delta_lines, f"delta{n} *= {layer.scale}"]
    below = fast[n - 2] if n > 1 else None
    if below is not None:
        m = below.n
        lines += below.comments["delta"]
        lines.append(f'delta{m} = buf["delta{m}"]')
        after = f"  # before W^({n}) changes" if below.late_slope else ""
        lines.append(f"{product_code(_product(below.delta.value), f'delta{m}')}{after}")
        if below.sigma:
            lines += [f't{m} = buf["t{m}"]', *below.sigma, f"delta{m} *= t{m}"]
    lines += layer.comments["dW"]
    gradient, decay = _decay(layer.dW.value)
    if decay is not None:  # ∂R/∂W^(l) from the weights before any of this step's change
        lines.append(f"W{n} -= {numpy_code(LR * decay)}")
    lines += [
        f'dW{n} = buf["dW{n}"]',
        "if n == 1:  # one sample: np.dot, as np.matmul has no BLAS path for this shape",
        f"    {single_sample_code(gradient, f'dW{n}')}",
        "else:",
        f"    {product_code(gradient, f'dW{n}')}",
        f"W{n} -= dW{n}",
    ]
    lines += layer.comments["db"]
    if layer.db.decay is not None:  # ∂R/∂b^(l), from the biases before this step's change
        lines.append(f"b{n} -= {numpy_code(LR * layer.db.decay)}")
    lines.append(f"b{n} -= {batch_sum_code(layer.db.value, _buffer(f'db{n}'))}")
    if below is not None and below.late_slope:
        m = below.n
        lines.append(
            f"# (V{m}.d) continued: ⊙ σ'(z^({m})), in the buffer of a^({m}), not needed again"
        )
        lines += below.late_slope
    return lines
