"""Network specs: frozen dataclasses, and the TOML loader that validates them at the edge.

Every error is a `SpecError` whose message is one line: ``<file>: <field>: what is wrong``.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import keyword
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import sympy

from . import library
from .errors import SpecError
from .expr import ExprError, parse_expression
from .files import display_path, read_bounded
from .library import A, Activation, Loss, Y, Z
from .shapes import (
    CONV_KINDS,
    FIELDS,
    GRID_KINDS,
    LAYER_KINDS,
    NORM_KINDS,
    Grid,
    Norm,
    grid_from,
    input_shape,
    norm_from,
    output_shape,
    spec_error,
)

MAX_LAYERS = 1024
MAX_UNITS = 1_000_000
#: Spec files larger than this are refused before they are parsed.
MAX_SPEC_BYTES = 1_000_000
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SHOWN = 60
_TOP_FIELDS = ["name", "inputs", "loss", "layers"]
_OPTIONAL_FIELDS = ["regularization"]
#: The largest regularisation strength accepted (λ Σ w² with λ above 1e3 leaves no network).
MAX_STRENGTH = 1e3


@dataclass(frozen=True)
class Regularization:
    """The penalty added to E: l2 · Σ w² + l1 · Σ |w| over a layer's weights, and over its
    biases too where `biases` asks for it; strengths are exact rationals, 0 for none."""

    l1: sympy.Rational = sympy.S.Zero
    l2: sympy.Rational = sympy.S.Zero
    #: Whether the biases are penalised as the weights are (PyTorch's weight_decay does both).
    biases: bool = False

    def __post_init__(self) -> None:
        for key in ("l1", "l2"):
            value = getattr(self, key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                object.__setattr__(self, key, _strength(value, key))
            elif not isinstance(value, sympy.Rational) or not 0 <= value <= MAX_STRENGTH:
                raise _fail(key, f"must be a number between 0 and {MAX_STRENGTH:g}, got {value!r}")
        if not isinstance(self.biases, bool):
            raise _fail("biases", f"must be true or false, got {_describe(self.biases)}")

    def __bool__(self) -> bool:
        return bool(self.l1 or self.l2)


@dataclass(frozen=True)
class Layer:
    """One layer: its number of units and its activation."""

    units: int
    activation: Activation
    #: This layer's penalty; None: the network's (`Network.regularization`).
    regularization: Regularization | None = None
    #: The layer kind (symbackprop.layers.KINDS): dense, conv1d, conv2d, maxpool2d, avgpool2d,
    #: flatten.
    kind: str = "dense"
    #: A convolution's or pooling layer's window (shapes.Grid); None for dense and flatten.
    grid: Grid | None = None
    #: The shapes the layer receives and hands on (the batch left out), set by the Network:
    #: (units,) when flat, (channels, height, width) for feature maps.
    shape_in: tuple[int, ...] = field(default=(), compare=False)
    shape_out: tuple[int, ...] = field(default=(), compare=False)
    #: A normalisation layer's ε and momentum (shapes.Norm); None for the other kinds.
    norm: Norm | None = None
    #: A dense layer's residual connection: the number of the earlier layer (0: the inputs)
    #: whose output its weighted input adds, z = W a + b + a^(m); None for none.
    residual: int | None = None
    #: The layer's name in the spec, for `residual` to refer to.
    name: str | None = field(default=None, compare=False)
    #: How many layers below the residual's source is (set by the Network).
    span: int | None = field(default=None, compare=False)

    @property
    def has_parameters(self) -> bool:
        """Whether the layer learns parameters: weights and biases (dense and the convolutions),
        a scale and a shift (normalisation); pooling and flatten have none."""
        return self.kind in ("dense", *CONV_KINDS, *NORM_KINDS)


@dataclass(frozen=True)
class Network:
    """A feed-forward network: `inputs` features (or the shape of an image, [channels, height,
    width], or of a sequence, [channels, length]), layers 1..L, and a loss on layer L."""

    name: str
    inputs: int
    layers: tuple[Layer, ...]
    loss: Loss
    source: str = field(default="<python>", compare=False)
    regularization: Regularization = Regularization()
    #: The inputs as (channels, height, width) of an image or (channels, length) of a sequence;
    #: () for a flat vector.
    input_shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        if isinstance(self.inputs, list | tuple):
            object.__setattr__(self, "input_shape", input_shape(self.inputs))
            object.__setattr__(self, "inputs", math.prod(self.input_shape))
        _check_network(self)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Units per layer, inputs first: n^(0), n^(1), ..., n^(L)."""
        return (self.inputs, *(layer.units for layer in self.layers))

    @property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """The shape of the inputs and of every layer's output, the batch left out: (1, 8, 8),
        (8, 6, 6), ..., (10,); each a one-entry shape for a flat vector."""
        return (self.input_shape or (self.inputs,), *(layer.shape_out for layer in self.layers))

    @property
    def layout(self) -> list[str]:
        """`shapes` as documents write them: 1x8x8, 8x6x6, ..., 10."""
        return ["x".join(str(s) for s in shape) for shape in self.shapes]

    @property
    def depth(self) -> int:
        """L, the number of layers (pooling and flatten count as layers, without weights)."""
        return len(self.layers)

    def penalty(self, number: int) -> Regularization:
        """The regularisation of layer `number` (from 1): its own, else the network's."""
        own = self.layers[number - 1].regularization
        return self.regularization if own is None else own

    @property
    def regularized(self) -> bool:
        """Whether any layer's weights carry a penalty."""
        return any(self.penalty(n) for n in range(1, self.depth + 1))

    @property
    def dense_only(self) -> bool:
        """Whether every layer is dense and feeds only the next (the lecture's network: one
        neuron per layer applies)."""
        return all(layer.kind == "dense" and layer.residual is None for layer in self.layers)

    def receivers(self, number: int) -> tuple[int, ...]:
        """The layers whose residual connection adds layer `number`'s output (0: the inputs)."""
        return tuple(
            at for at, layer in enumerate(self.layers, start=1) if layer.residual == number
        )


def activation(name: str, *, slope: float | None = None) -> Activation:
    """A built-in activation by name (`slope` only for leaky_relu)."""
    return _builtin_activation(name, slope, "")


def loss(name: str) -> Loss:
    """A built-in loss by name."""
    return _builtin_loss(name, "")


def custom_activation(expr: str, name: str = "custom") -> Activation:
    """An elementwise activation from an expression in z, parsed by the whitelist parser."""
    return _custom_activation(expr, name, "")


def custom_loss(expr: str, name: str = "custom_loss") -> Loss:
    """A per-unit loss from an expression in a and y, parsed by the whitelist parser."""
    return _custom_loss(expr, name, "")


# ---------------------------------------------------------------- building blocks


_fail = spec_error


def _sub(where: str, key: str) -> str:
    """The path of field `key` inside `where`: 'layers[0].activation' + 'name'."""
    return f"{where}.{key}" if where else key


def _builtin_activation(name: object, slope: object, where: str) -> Activation:
    if not isinstance(name, str):
        raise _fail(_sub(where, "name"), f"must be a string, got {_describe(name)}")
    if name not in library.ACTIVATIONS:
        raise _fail(
            where or "activation",
            f"unknown activation {_shorten(name)}{_suggest(name, library.ACTIVATIONS)}",
        )
    if slope is None:
        return library.ACTIVATIONS[name]
    if name != "leaky_relu":
        raise _fail(_sub(where, "slope"), f"applies only to leaky_relu, not {name!r}")
    return library.leaky_relu(_number(slope, _sub(where, "slope")))


def _builtin_loss(name: object, where: str) -> Loss:
    if not isinstance(name, str):
        raise _fail(_sub(where, "name"), f"must be a string, got {_describe(name)}")
    if name not in library.LOSSES:
        raise _fail(
            where or "loss", f"unknown loss {_shorten(name)}{_suggest(name, library.LOSSES)}"
        )
    return library.LOSSES[name]


def _custom_activation(expr: object, name: object, where: str) -> Activation:
    checked = _custom_name(name, library.ACTIVATIONS, "activation", _sub(where, "name"))
    parsed = _parse(expr, {"z": Z}, _sub(where, "expr"))
    if Z not in parsed.free_symbols:
        raise _fail(_sub(where, "expr"), f"{_shorten(expr)} does not depend on z")
    return Activation(checked, parsed, builtin=False)


def _custom_loss(expr: object, name: object, where: str) -> Loss:
    checked = _custom_name(name, library.LOSSES, "loss", _sub(where, "name"))
    parsed = _parse(expr, {"a": A, "y": Y}, _sub(where, "expr"))
    if A not in parsed.free_symbols:
        raise _fail(_sub(where, "expr"), f"{_shorten(expr)} does not depend on a")
    return Loss(checked, parsed, builtin=False)


def _custom_name(name: object, builtins: Mapping[str, object], kind: str, where: str) -> str:
    checked = _check_identifier(name, where)
    if checked in builtins:
        raise _fail(where, f"{checked!r} is a built-in {kind}; pick another name")
    return checked


def _parse(text: object, variables: Mapping[str, sympy.Symbol], where: str) -> sympy.Expr:
    if not isinstance(text, str):
        raise _fail(where, f"must be a string, got {_describe(text)}")
    try:
        return parse_expression(text, variables)
    except ExprError as err:
        message = " ".join(str(err.message).split())
        raise _fail(where, f"{_shorten(text)}: {message}") from None


def _number(value: object, where: str) -> sympy.Expr:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, f"must be a number, got {_describe(value)}")
    if not -1e6 < value < 1e6:
        raise _fail(where, f"must be between -1e6 and 1e6, got {_shorten(value)}")
    return sympy.Rational(repr(value))


def _strength(value: object, where: str) -> sympy.Rational:
    """A regularisation strength: a finite number in [0, MAX_STRENGTH], kept exact."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, f"must be a number, got {_describe(value)}")
    if not 0 <= value <= MAX_STRENGTH:  # NaN fails both comparisons
        raise _fail(where, f"must be between 0 and {MAX_STRENGTH:g}, got {_shorten(value)}")
    return sympy.Rational(repr(value))


def _regularization_from(
    value: object, where: str, inherited: Regularization | None
) -> Regularization:
    """`{ l2 = 1e-4, l1 = 0 }`; at a layer (`inherited` the network's), each strength it
    leaves out taken from the network's table."""
    if not isinstance(value, dict):
        raise _fail(where, f"expected a table such as {{ l2 = 1e-4 }}, got {_describe(value)}")
    _check_fields(value, ["l1", "l2", "biases"], where)
    base = inherited or Regularization()
    l1 = _strength(value["l1"], _sub(where, "l1")) if "l1" in value else base.l1
    l2 = _strength(value["l2"], _sub(where, "l2")) if "l2" in value else base.l2
    biases = base.biases
    if "biases" in value:
        biases = value["biases"]
        if not isinstance(biases, bool):
            raise _fail(_sub(where, "biases"), f"must be true or false, got {_describe(biases)}")
    return Regularization(l1, l2, biases)


def _check_identifier(name: object, where: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
        raise _fail(
            where,
            "must be a Python identifier (letters, digits, _; not starting with a digit;"
            f" at most 64 characters; not a keyword), got {_describe(name)}",
        )
    if name.startswith("__"):
        raise _fail(where, f"names starting with '__' are reserved, got {name!r}")
    return name


def _check_count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, f"must be a whole number, got {_describe(value)}")
    if not 1 <= value <= MAX_UNITS:
        raise _fail(where, f"must be between 1 and {MAX_UNITS}, got {_shorten(value)}")
    return value


def _layer_where(index: int) -> str:
    return f"layers[{index}]"


def _check_network(net: Network) -> None:
    _check_identifier(net.name, "name")
    if net.input_shape and net.inputs > MAX_UNITS:
        shown = ", ".join(str(n) for n in net.input_shape)
        message = f"[{shown}] makes {net.inputs:,} values a sample; at most {MAX_UNITS:,}"
        raise _fail("inputs", message)
    _check_count(net.inputs, "inputs")
    if not isinstance(net.layers, tuple) or not all(isinstance(x, Layer) for x in net.layers):
        raise _fail("layers", "must be a sequence of Layer(units, activation)")
    if not net.layers:
        raise _fail("layers", "at least one layer is needed")
    if len(net.layers) > MAX_LAYERS:
        raise _fail("layers", f"at most {MAX_LAYERS} layers, got {len(net.layers)}")
    if not isinstance(net.regularization, Regularization):
        raise _fail("regularization", "expected a Regularization(l1=..., l2=...)")
    seen: dict[str, Activation] = {}
    shape: tuple[int, ...] = net.input_shape or (net.inputs,)
    shaped = []
    for index, layer in enumerate(net.layers):
        where = _layer_where(index)
        if layer.kind not in LAYER_KINDS:
            known = ", ".join(LAYER_KINDS)
            raise _fail(f"{where}.kind", f"unknown layer kind {_shorten(layer.kind)} ({known})")
        if layer.kind == "dense":
            _check_count(layer.units, f"{where}.units")
        if (layer.kind in GRID_KINDS) != isinstance(layer.grid, Grid):
            needs = "needs a Grid(kernel, ...)" if layer.kind in GRID_KINDS else "has no grid"
            raise _fail(f"{where}.kind", f"a {layer.kind} layer {needs}")
        if (layer.kind in NORM_KINDS) != isinstance(layer.norm, Norm):
            needs = "needs a Norm(eps, ...)" if layer.kind in NORM_KINDS else "has no norm"
            raise _fail(f"{where}.kind", f"a {layer.kind} layer {needs}")
        out = output_shape(layer.kind, layer.grid, layer.units, shape, where)
        if math.prod(out) > MAX_UNITS:
            raise _fail(where, f"hands on {math.prod(out):,} values; at most {MAX_UNITS:,}")
        if layer.kind != "dense":
            layer = dataclasses.replace(layer, units=math.prod(out))
        shaped.append(dataclasses.replace(layer, shape_in=shape, shape_out=out))
        shape = out
        if layer.regularization is not None and not isinstance(
            layer.regularization, Regularization
        ):
            raise _fail(f"{where}.regularization", "expected a Regularization(l1=..., l2=...)")
        act = layer.activation
        if not isinstance(act, Activation):
            raise _fail(
                f"{where}.activation",
                f"expected an activation (see activation(...) and custom_activation(...)),"
                f" got {_describe(act)}",
            )
        _check_activation(act, f"{where}.activation")
        if act.is_softmax and index != len(net.layers) - 1:
            raise _fail(f"{where}.activation", "softmax is allowed only on the output layer")
        if act.is_softmax and layer.units < 2:
            raise _fail(
                f"{where}.activation",
                f"softmax needs at least 2 units, got {layer.units}; use sigmoid for one unit",
            )
        if act.name in seen and seen[act.name] != act and act.builtin and seen[act.name].builtin:
            raise _fail(
                f"{where}.activation",
                f"{act.name} is used with two different slopes; use one slope throughout,"
                " or a custom activation with its own name for the other",
            )
        if act.name in seen and seen[act.name] != act:
            raise _fail(
                f"{where}.activation",
                f"two different activations are named {act.name!r};"
                " give each custom activation its own name",
            )
        seen[act.name] = act
    object.__setattr__(net, "layers", tuple(shaped))
    _check_residuals(net)
    if not net.dense_only and any(net.penalty(n) for n in range(1, net.depth + 1)):
        raise _fail(
            "regularization",
            "is not supported yet in networks with convolution, pooling or flatten layers",
        )
    if net.layers[-1].kind != "dense":
        raise _fail(
            _layer_where(len(net.layers) - 1) + ".kind",
            f"the output layer must be dense (the loss compares it with the targets),"
            f" got {net.layers[-1].kind}",
        )
    if not isinstance(net.loss, Loss):
        raise _fail(
            "loss",
            f"expected a loss (see loss(...) and custom_loss(...)), got {_describe(net.loss)}",
        )
    _check_loss(net.loss)
    output = net.layers[-1].activation
    if net.loss.builtin and net.loss.name == "cross_entropy" and not output.is_softmax:
        raise _fail("loss", "cross_entropy needs softmax on the output layer")
    if (
        net.loss.builtin
        and net.loss.name == "binary_cross_entropy"
        and output.builtin
        and output.name in library.UNBOUNDED_FOR_BCE
    ):
        raise _fail(
            "loss",
            f"binary_cross_entropy needs outputs in (0, 1), but the output layer uses"
            f" {output.name}; use sigmoid",
        )
    if net.loss.builtin and net.loss.name == "binary_cross_entropy" and output.is_softmax:
        raise _fail(
            "loss",
            "binary_cross_entropy scores each output on its own, but softmax outputs share"
            " one distribution; use sigmoid outputs, or cross_entropy with softmax",
        )


def _check_residuals(net: Network) -> None:
    """Each residual connection adds an earlier layer's output of the receiver's width."""
    spanned = list(net.layers)
    for index, layer in enumerate(net.layers):
        source = layer.residual
        if source is None:
            continue
        where = f"{_layer_where(index)}.residual"
        whole = isinstance(source, int) and not isinstance(source, bool)
        if not whole or not 0 <= source <= index:
            earlier = f"an earlier layer (1 to {index}) or 0" if index else "0"
            raise _fail(where, f"must be {earlier} for the inputs, got {source!r}")
        if layer.kind != "dense":
            raise _fail(where, f"only a dense layer adds a residual, not {layer.kind}")
        shape = net.shapes[source]
        if shape != (layer.units,):
            what = "the inputs" if source == 0 else f"layer {source}"
            raise _fail(
                where,
                f"{what} hands on {'x'.join(map(str, shape))} values, but this layer has"
                f" {layer.units} units: a residual adds outputs of the same width",
            )
        spanned[index] = dataclasses.replace(layer, span=index + 1 - source)
    object.__setattr__(net, "layers", tuple(spanned))


def _check_activation(act: Activation, where: str) -> None:
    if act.builtin:
        return
    _check_identifier(act.name, f"{where}.name")
    if act.expr is None:
        raise _fail(where, f"custom activation {act.name!r} has no expression")
    problem = _derivative_problem(act.expr, Z, frozenset({Z}))
    if problem:
        raise _fail(where, f"{act.name!r} {problem}")


def _check_loss(lss: Loss) -> None:
    if lss.builtin:
        return
    _check_identifier(lss.name, "loss.name")
    problem = _derivative_problem(lss.expr, A, frozenset({A, Y}))
    if problem:
        raise _fail("loss", f"{lss.name!r} {problem}")


def _derivative_problem(expr: object, variable: Any, allowed: frozenset[Any]) -> str | None:
    """Why `expr` cannot be used (not an expression in `allowed`, not differentiable, complex)."""
    names = " and ".join(sorted(str(s) for s in allowed))
    if not isinstance(expr, sympy.Expr) or not expr.free_symbols <= allowed:
        return f"must be an expression in {names} only"
    return _differentiation_problem(expr, variable)


@lru_cache(maxsize=256)
def _differentiation_problem(expr: sympy.Expr, variable: Any) -> str | None:
    try:
        derivative = sympy.diff(expr, variable)
    except (ArithmeticError, TypeError, ValueError, NotImplementedError, RecursionError):
        derivative = sympy.nan
    if derivative.has(sympy.Derivative) or derivative.has(sympy.nan, sympy.zoo):
        return f"cannot be differentiated by SymPy with respect to {variable} (undefined)"
    if expr.has(sympy.I) or derivative.has(sympy.I):
        return "takes complex values for real inputs; it must be real"
    return None


def _shorten(value: object) -> str:
    """repr(value), cut to about 60 characters; always one line."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**_SHOWN:
        return f"a number with more than {_SHOWN} digits"
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _describe(value: object) -> str:
    """What a value is, for people writing TOML: 'a boolean (true)', 'a string ('3')'."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        kind = "a string"
    elif isinstance(value, int):
        kind = "a whole number"
    elif isinstance(value, float):
        kind = "a decimal number"
    elif isinstance(value, datetime.date | datetime.time):
        return f"a date or time ({value.isoformat()})"
    elif isinstance(value, Mapping):
        kind = "a table"
    elif isinstance(value, list | tuple):
        kind = "an array"
    elif value is None:
        return "nothing"
    else:
        return "a value of another kind"
    return f"{kind} ({_shorten(value)})"


def _suggest(name: str, choices: Mapping[str, object] | list[str]) -> str:
    close = difflib.get_close_matches(name[:100], list(choices), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(sorted(choices))})"


def _check_fields(table: Mapping[str, Any], allowed: list[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise _fail(where, f"unknown field {_shorten(key)}{_suggest(key, allowed)}")


def _require(table: Mapping[str, Any], keys: list[str], where: str) -> None:
    for key in keys:
        if key not in table:
            raise _fail(_sub(where, key), "required field is missing")


# ---------------------------------------------------------------- TOML tables


def _activation_from(value: object, where: str) -> Activation:
    if isinstance(value, str):
        return _builtin_activation(value, None, where)
    if not isinstance(value, dict):
        raise _fail(where, f"expected a name or a table, got {_describe(value)}")
    _check_fields(value, ["name", "expr", "slope"], where)
    if "expr" in value:
        if "slope" in value:
            raise _fail(f"{where}.slope", "applies only to leaky_relu, not to a custom expression")
        return _custom_activation(value["expr"], value.get("name", "custom"), where)
    if "name" not in value:
        raise _fail(where, 'give either name = "..." or expr = "..."')
    return _builtin_activation(value["name"], value.get("slope"), where)


def _loss_from(value: object) -> Loss:
    if isinstance(value, str):
        return _builtin_loss(value, "loss")
    if not isinstance(value, dict):
        raise _fail("loss", f"expected a name or a table, got {_describe(value)}")
    _check_fields(value, ["name", "expr"], "loss")
    if "expr" in value:
        return _custom_loss(value["expr"], value.get("name", "custom_loss"), "loss")
    if "name" not in value:
        raise _fail("loss", 'give either a built-in name or expr = "..."')
    return _builtin_loss(value["name"], "loss")


def _residual_from(value: object, names: Mapping[str, int], where: str) -> int:
    """`residual`: an earlier layer's name, its number (from 1), or 0 for the inputs."""
    if isinstance(value, str):
        if value not in names:
            known = f"; earlier layers named: {', '.join(names)}" if names else ""
            raise _fail(f"{where}.residual", f"no earlier layer is named {value!r}{known}")
        return names[value]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _fail(
        f"{where}.residual", f"expected an earlier layer's name or number, got {_describe(value)}"
    )


def network_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Network:
    """Build and validate a Network from parsed TOML (or any mapping of the same shape)."""
    try:
        return _network_from_dict(data, source)
    except SpecError as err:
        raise SpecError(f"{source}: {err}") from None


def _network_from_dict(data: Mapping[str, Any], source: str) -> Network:
    if not isinstance(data, Mapping):
        raise SpecError(f"expected a table of fields, got {_describe(data)}")
    if not data:
        raise SpecError(f"the spec is empty; it needs the fields {', '.join(_TOP_FIELDS)}")
    _check_fields(data, _TOP_FIELDS + _OPTIONAL_FIELDS, "")
    _require(data, _TOP_FIELDS, "")
    penalty = Regularization()
    if "regularization" in data:
        penalty = _regularization_from(data["regularization"], "regularization", None)
    raw_layers = data["layers"]
    if not isinstance(raw_layers, list) or not all(isinstance(x, dict) for x in raw_layers):
        raise _fail("layers", "must be an array of tables ([[layers]] sections)")
    if len(raw_layers) > MAX_LAYERS:
        raise _fail("layers", f"at most {MAX_LAYERS} layers, got {len(raw_layers)}")
    layers = []
    names: dict[str, int] = {}  # layer names given so far, by number
    for index, raw in enumerate(raw_layers):
        where = _layer_where(index)
        kind = raw.get("kind", "dense")
        if not isinstance(kind, str):
            message = f'must be a string such as "dense", got {_describe(kind)}'
            raise _fail(f"{where}.kind", message)
        if kind not in LAYER_KINDS:
            message = f"unknown layer kind {_shorten(kind)}{_suggest(kind, list(LAYER_KINDS))}"
            raise _fail(f"{where}.kind", message)
        _check_fields(raw, [*FIELDS[kind], "kind", "name"], where)
        grid = None
        units = 0
        act = library.ACTIVATIONS["identity"]
        if kind == "dense":
            _require(raw, ["units", "activation"], where)
            units = _check_count(raw["units"], f"{where}.units")
        if kind in GRID_KINDS:
            grid = grid_from(kind, raw, where)
        norm = norm_from(kind, raw, where) if kind in NORM_KINDS else None
        if "activation" in raw:
            act = _activation_from(raw["activation"], f"{where}.activation")
        own = None
        if "regularization" in raw:
            own = _regularization_from(raw["regularization"], f"{where}.regularization", penalty)
        name = _check_identifier(raw["name"], f"{where}.name") if "name" in raw else None
        if name is not None and name in names:
            raise _fail(f"{where}.name", f"{name!r} names layer {names[name]} already")
        if name is not None:
            names[name] = index + 1
        residual = _residual_from(raw["residual"], names, where) if "residual" in raw else None
        layers.append(Layer(units, act, own, kind, grid, norm=norm, residual=residual, name=name))
    inputs = data["inputs"]
    if isinstance(inputs, list):
        inputs = input_shape(inputs)
    return Network(
        name=data["name"],
        inputs=inputs,
        layers=tuple(layers),
        loss=_loss_from(data["loss"]),
        source=source,
        regularization=penalty,
    )


# ---------------------------------------------------------------- files and text

_TOML_POSITION = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")
_TOML_AT_END = re.compile(r"^(?P<msg>.*) \(at end of document\)$")


def load_spec(
    spec: str | os.PathLike[str] | Mapping[str, Any], source: str | None = None
) -> Network:
    """A validated Network from a spec, which is one of:

    - a `pathlib.Path` (or other path object): a TOML spec file;
    - a `str` with a line break in it: TOML text itself (a spec's four fields take four lines,
      and no file name worth reading has a line break);
    - any other `str`: a TOML spec file, or when no such file exists the name of a bundled
      example (see `examples()`);
    - a mapping (a `dict`): the fields as TOML would give them, e.g. `{"name": "tiny",
      "inputs": 2, "loss": "squared_error", "layers": [{"units": 1, "activation": "sigmoid"}]}`.

    `source` names text or a mapping in error messages (default `<string>`, `<dict>`); a file
    is named by its path. Errors are one-line `SpecError`s naming the field, as for a file.
    """
    if isinstance(spec, Mapping):
        return network_from_dict(spec, source or "<dict>")
    if isinstance(spec, str) and ("\n" in spec or "\r" in spec):
        return load_spec_text(spec, source or "<string>")
    if not isinstance(spec, (str, os.PathLike)):
        raise SpecError(
            "a spec is a file path, a bundled example's name, TOML text or a dict, "
            f"not {_describe(spec)}"
        )
    return _load_file(spec)


def _load_file(path: str | os.PathLike[str]) -> Network:
    """Read a TOML spec file, or a bundled example by name."""
    shown = display_path(path)
    file = Path(path)
    try:
        exists = file.exists()
    except (OSError, ValueError):
        exists = False
    if not exists and os.fspath(path) in examples():
        return load_spec_text(_example_text(os.fspath(path)), f"{path} (bundled example)")
    raw = read_bounded(
        file,
        MAX_SPEC_BYTES,
        expected="a TOML spec",
        known=f"bundled examples, usable by name: {', '.join(examples())}",
        error=SpecError,
    )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SpecError(f"{shown}: not UTF-8 text (bad byte at offset {err.start})") from None
    return load_spec_text(text, shown)


def load_spec_text(text: str, source: str = "<string>") -> Network:
    """Parse TOML text into a validated Network; `source` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = " ".join(str(err).split())
        match = _TOML_POSITION.match(message)
        if match:
            raise SpecError(
                f"{source}:{match['line']}:{match['col']}: invalid TOML: {match['msg']}"
            ) from None
        match = _TOML_AT_END.match(message)
        if match:
            lines = text.split("\n")
            line, col = len(lines), len(lines[-1]) + 1
            raise SpecError(
                f"{source}:{line}:{col}: invalid TOML: {match['msg']} (at the end of the file)"
            ) from None
        raise SpecError(f"{source}: invalid TOML: {message}") from None
    except RecursionError:
        raise SpecError(f"{source}: invalid TOML: arrays or tables nested too deeply") from None
    except ValueError:  # tomllib's int() of more than 4300 digits
        raise SpecError(f"{source}: invalid TOML: a number too long to read") from None
    return network_from_dict(data, source)


def examples() -> list[str]:
    """Names of the bundled example specs, each usable by name in `load_spec` and on the
    command line (their TOML is symbackprop/examples/NAME.toml)."""
    folder = resources.files("symbackprop") / "examples"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _example_text(name: str) -> str:
    return (resources.files("symbackprop") / "examples" / f"{name}.toml").read_text("utf-8")
