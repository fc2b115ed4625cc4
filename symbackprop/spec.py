"""Network specs: frozen dataclasses, and the TOML loader that validates them at the edge."""

from __future__ import annotations

import difflib
import keyword
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import sympy

from . import library
from .errors import SpecError
from .expr import ExprError, parse_expression
from .library import A, Y, Z, Activation, Loss

MAX_LAYERS = 1024
MAX_UNITS = 1_000_000
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Layer:
    """One layer: its number of units and its activation."""

    units: int
    activation: Activation


@dataclass(frozen=True)
class Network:
    """A feed-forward network: `inputs` features, layers 1..L, and a loss on layer L."""

    name: str
    inputs: int
    layers: tuple[Layer, ...]
    loss: Loss
    source: str = field(default="<python>", compare=False)

    def __post_init__(self) -> None:
        _check_network(self)

    @property
    def sizes(self) -> tuple[int, ...]:
        """Units per layer, inputs first: n^(0), n^(1), ..., n^(L)."""
        return (self.inputs, *(layer.units for layer in self.layers))

    @property
    def depth(self) -> int:
        """L, the number of layers with weights."""
        return len(self.layers)


def activation(name: str, *, slope: float | None = None) -> Activation:
    """A built-in activation by name (`slope` only for leaky_relu)."""
    if name not in library.ACTIVATIONS:
        raise SpecError(f"unknown activation {name!r}{_suggest(name, library.ACTIVATIONS)}")
    if slope is not None:
        if name != "leaky_relu":
            raise SpecError(f"'slope' applies only to leaky_relu, not {name!r}")
        return library.leaky_relu(_number(slope, "slope"))
    return library.ACTIVATIONS[name]


def loss(name: str) -> Loss:
    """A built-in loss by name."""
    if name not in library.LOSSES:
        raise SpecError(f"unknown loss {name!r}{_suggest(name, library.LOSSES)}")
    return library.LOSSES[name]


def custom_activation(expr: str, name: str = "custom") -> Activation:
    """An elementwise activation from an expression in z, parsed by the whitelist parser."""
    _check_identifier(name, "name")
    parsed = _parse(expr, {"z": Z})
    if Z not in parsed.free_symbols:
        raise SpecError(f"activation {expr!r} does not depend on z")
    return Activation(name, parsed, builtin=False)


def custom_loss(expr: str, name: str = "custom_loss") -> Loss:
    """A per-unit loss from an expression in a and y, parsed by the whitelist parser."""
    _check_identifier(name, "name")
    parsed = _parse(expr, {"a": A, "y": Y})
    if A not in parsed.free_symbols:
        raise SpecError(f"loss {expr!r} does not depend on a")
    return Loss(name, parsed, builtin=False)


def _parse(text: str, variables: Mapping[str, sympy.Symbol]) -> sympy.Expr:
    try:
        return parse_expression(text, variables)
    except ExprError as err:
        raise SpecError(f"expression {text!r}: {err.message}") from None


def _number(value: object, what: str) -> sympy.Expr:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{what} must be a number, got {_describe(value)}")
    if not -1e6 < value < 1e6:
        raise SpecError(f"{what} must be between -1e6 and 1e6, got {value!r}")
    return sympy.Rational(repr(value))


def _check_identifier(name: object, what: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
        raise SpecError(
            f"{what} must be a Python identifier (letters, digits, _; at most 64 characters),"
            f" got {_describe(name)}"
        )
    return name


def _check_network(net: Network) -> None:
    _check_identifier(net.name, "name")
    _check_count(net.inputs, "inputs")
    if not net.layers:
        raise SpecError("layers: at least one layer is needed")
    if len(net.layers) > MAX_LAYERS:
        raise SpecError(f"layers: at most {MAX_LAYERS} layers, got {len(net.layers)}")
    seen: dict[str, Activation] = {}
    for number, layer in enumerate(net.layers, start=1):
        where = f"layers[{number - 1}] (layer {number})"
        _check_count(layer.units, f"{where}.units")
        act = layer.activation
        if act.is_softmax and number != len(net.layers):
            raise SpecError(f"{where}.activation: softmax is allowed only on the output layer")
        if act.is_softmax and layer.units < 2:
            raise SpecError(f"{where}.activation: softmax needs at least 2 units")
        if act.name in seen and seen[act.name] != act:
            raise SpecError(
                f"{where}.activation: two different activations are named {act.name!r};"
                " give each custom activation its own name"
            )
        seen[act.name] = act
    output = net.layers[-1].activation
    if net.loss.name == "cross_entropy" and net.loss.builtin and not output.is_softmax:
        raise SpecError("loss: cross_entropy needs softmax on the output layer")
    if net.loss.name == "binary_cross_entropy" and output.name in library.UNBOUNDED_FOR_BCE:
        raise SpecError(
            f"loss: binary_cross_entropy needs outputs in (0, 1), but the output layer uses"
            f" {output.name}; use sigmoid"
        )


def _check_count(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{what} must be a whole number, got {_describe(value)}")
    if not 1 <= value <= MAX_UNITS:
        raise SpecError(f"{what} must be between 1 and {MAX_UNITS}, got {value}")


def _describe(value: object) -> str:
    kinds = {bool: "a boolean", str: "a string", int: "a number", float: "a number"}
    kind = kinds.get(type(value), "a table" if isinstance(value, dict) else "a list")
    text = repr(value)
    return f"{kind} ({text if len(text) <= 40 else text[:37] + '...'})"


def _suggest(name: str, choices: Mapping[str, object] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(sorted(choices))})"


def _check_fields(table: Mapping[str, Any], allowed: list[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise SpecError(f"{where}unknown field {key!r}{_suggest(key, allowed)}")


def _activation_from(value: object, where: str) -> Activation:
    if isinstance(value, str):
        return activation(value)
    if not isinstance(value, dict):
        raise SpecError(f"{where}: expected a name or a table, got {_describe(value)}")
    _check_fields(value, ["name", "expr", "slope"], f"{where}: ")
    if "expr" in value:
        if "slope" in value:
            raise SpecError(f"{where}: 'slope' applies only to leaky_relu")
        expr = value["expr"]
        if not isinstance(expr, str):
            raise SpecError(f"{where}.expr must be a string, got {_describe(expr)}")
        name = value.get("name", "custom")
        if isinstance(name, str) and name in library.ACTIVATIONS:
            raise SpecError(f"{where}.name: {name!r} is a built-in activation; pick another name")
        return custom_activation(expr, name)
    if "name" not in value:
        raise SpecError(f"{where}: give either name = \"...\" or expr = \"...\"")
    name = value["name"]
    if not isinstance(name, str):
        raise SpecError(f"{where}.name must be a string, got {_describe(name)}")
    return activation(name, slope=value.get("slope"))


def _loss_from(value: object) -> Loss:
    if isinstance(value, str):
        return loss(value)
    if not isinstance(value, dict):
        raise SpecError(f"loss: expected a name or a table, got {_describe(value)}")
    _check_fields(value, ["name", "expr"], "loss: ")
    if "expr" not in value:
        if isinstance(value.get("name"), str):
            return loss(value["name"])
        raise SpecError("loss: give either a built-in name or expr = \"...\"")
    if not isinstance(value["expr"], str):
        raise SpecError(f"loss.expr must be a string, got {_describe(value['expr'])}")
    name = value.get("name", "custom_loss")
    if isinstance(name, str) and name in library.LOSSES:
        raise SpecError(f"loss.name: {name!r} is a built-in loss; pick another name")
    return custom_loss(value["expr"], name)


def network_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> Network:
    """Build and validate a Network from parsed TOML (or any mapping of the same shape)."""
    try:
        return _network_from_dict(data, source)
    except SpecError as err:
        raise SpecError(f"{source}: {err}") from None


def _network_from_dict(data: Mapping[str, Any], source: str) -> Network:
    _check_fields(data, ["name", "inputs", "loss", "layers"], "")
    for key in ("name", "inputs", "loss", "layers"):
        if key not in data:
            raise SpecError(f"missing field {key!r}")
    raw_layers = data["layers"]
    if not isinstance(raw_layers, list) or not all(isinstance(x, dict) for x in raw_layers):
        raise SpecError("layers must be an array of tables ([[layers]] sections)")
    layers = []
    for index, raw in enumerate(raw_layers):
        where = f"layers[{index}] (layer {index + 1})"
        _check_fields(raw, ["units", "activation"], f"{where}: ")
        for key in ("units", "activation"):
            if key not in raw:
                raise SpecError(f"{where}: missing field {key!r}")
        _check_count(raw["units"], f"{where}.units")
        layers.append(Layer(raw["units"], _activation_from(raw["activation"], f"{where}.activation")))
    return Network(
        name=data["name"],
        inputs=data["inputs"],
        layers=tuple(layers),
        loss=_loss_from(data["loss"]),
        source=source,
    )


_TOML_POSITION = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")


def load_spec(path: str | Path) -> Network:
    """Read a TOML spec file, or a bundled example by name (see `examples()`)."""
    file = Path(path)
    if not file.exists() and str(path) in examples():
        return load_spec_text(_example_text(str(path)), f"{path} (bundled example)")
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        hint = f"; bundled examples: {', '.join(examples())}" if file.suffix != ".toml" else ""
        raise SpecError(f"{path}: no such file{hint}") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, expected a TOML file") from None
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({err.strerror})") from None
    return load_spec_text(text, str(path))


def load_spec_text(text: str, source: str = "<string>") -> Network:
    """Parse TOML text into a validated Network; `source` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        match = _TOML_POSITION.match(str(err))
        if match:
            raise SpecError(
                f"{source}:{match['line']}:{match['col']}: invalid TOML: {match['msg']}"
            ) from None
        raise SpecError(f"{source}: invalid TOML: {err}") from None
    return network_from_dict(data, source)


def examples() -> list[str]:
    """Names of the bundled example specs."""
    folder = resources.files("symbackprop") / "examples"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def _example_text(name: str) -> str:
    return (resources.files("symbackprop") / "examples" / f"{name}.toml").read_text("utf-8")
