"""The spec loader: valid specs give the right network; every bad spec is one clear SpecError.

Each invalid case asserts that the message is a single line, starts with the source it was
given, and names the field (``layers[1]``, ``units``, ``loss.expr``, ``line:column`` ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sympy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop import (
    Layer,
    Network,
    SpecError,
    activation,
    custom_activation,
    custom_loss,
    library,
    load_spec,
    loss,
)
from symbackprop.library import A, Activation, Loss, Y, Z
from symbackprop.spec import (
    MAX_LAYERS,
    MAX_SPEC_BYTES,
    MAX_UNITS,
    examples,
    load_spec_text,
    network_from_dict,
)

SOURCE = "net.toml"


def spec(
    *,
    name: str = '"net"',
    inputs: str = "2",
    loss: str = '"squared_error"',
    layers: tuple[tuple[str, str], ...] = (("3", '"tanh"'), ("2", '"sigmoid"')),
    extra: str = "",
) -> str:
    """A TOML spec with every value written as TOML source, so each can be made bad."""
    text = f"name = {name}\ninputs = {inputs}\nloss = {loss}\n{extra}"
    for units, act in layers:
        text += f"\n[[layers]]\nunits = {units}\nactivation = {act}\n"
    return text


def rejected(text: str, source: str = SOURCE) -> str:
    """The SpecError message for `text`, checked to be one line that starts with `source`."""
    with pytest.raises(SpecError) as info:
        load_spec_text(text, source)
    return checked_message(info.value, source)


def checked_message(err: BaseException, source: str | None = None) -> str:
    message = str(err)
    assert message.strip(), "empty error message"
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    for python_detail in ("Traceback", "SpecError", "ExprError", "<class", "Error:"):
        assert python_detail not in message, message
    if source is not None:
        assert message.startswith(f"{source}: ") or message.startswith(f"{source}:"), message
    return message


def parse(text: str) -> Network:
    return load_spec_text(text, SOURCE)


# ---------------------------------------------------------------- valid specs


def test_bundled_example_by_name() -> None:
    net = load_spec("seed_chain")
    assert net.name == "seed_chain"
    assert net.sizes == (1, 1, 1, 1)
    assert net.depth == 3
    assert [layer.activation.name for layer in net.layers] == ["sigmoid"] * 3
    assert net.loss == library.LOSSES["squared_error"]
    assert "seed_chain" in net.source


def test_every_bundled_example_loads() -> None:
    names = examples()
    assert {"seed_chain", "classifier", "multi_node"} <= set(names)
    for name in names:
        assert load_spec(name).name == name


def test_classifier_example_has_softmax_output() -> None:
    net = load_spec("classifier")
    assert net.sizes == (2, 8, 2)
    assert [layer.activation.name for layer in net.layers] == ["tanh", "softmax"]
    assert net.layers[-1].activation.is_softmax
    assert net.loss.name == "cross_entropy"


def test_basic_spec() -> None:
    net = parse(spec(inputs="4", layers=(("5", '"relu"'), ("3", '"identity"'))))
    assert net.name == "net"
    assert net.sizes == (4, 5, 3)
    assert net.layers[0] == Layer(5, library.ACTIVATIONS["relu"])
    assert net.layers[1].activation.name == "identity"
    assert net.loss.name == "squared_error"
    assert net.source == SOURCE


def test_layers_as_inline_array() -> None:
    text = (
        'name = "net"\ninputs = 2\nloss = "half_squared_error"\n'
        'layers = [{ units = 3, activation = "softplus" }, { units = 1, activation = "sigmoid" }]\n'
    )
    net = parse(text)
    assert net.sizes == (2, 3, 1)
    assert net.loss.name == "half_squared_error"


def test_activation_table_with_builtin_name() -> None:
    net = parse(spec(layers=(("3", '{ name = "tanh" }'), ("1", '"sigmoid"'))))
    assert net.layers[0].activation == library.ACTIVATIONS["tanh"]


def test_leaky_relu_default_and_custom_slope() -> None:
    default = parse(spec(layers=(("3", '"leaky_relu"'), ("1", '"sigmoid"'))))
    custom = parse(spec(layers=(("3", '{ name = "leaky_relu", slope = 0.2 }'), ("1", '"sigmoid"'))))
    default_expr = default.layers[0].activation.expr
    assert default_expr is not None
    assert default_expr.subs(Z, -2) == sympy.Rational(-2, 100)
    leaky = custom.layers[0].activation
    assert leaky.name == "leaky_relu" and leaky.expr is not None
    assert leaky.expr.subs(Z, -2) == sympy.Rational(-2, 5)  # exactly 0.2 * -2, no float error
    assert leaky.expr.subs(Z, 3) == 3
    assert activation("leaky_relu", slope=0.2) == leaky


def test_same_leaky_slope_in_several_layers() -> None:
    act = '{ name = "leaky_relu", slope = 0.1 }'
    net = parse(spec(layers=(("3", act), ("4", act), ("1", '"sigmoid"'))))
    assert net.layers[0].activation == net.layers[1].activation


def test_custom_activation_and_loss() -> None:
    text = spec(
        loss='{ expr = "(a - y)**4", name = "quartic" }',
        layers=(("3", '{ expr = "z/(1 + abs(z))", name = "softsign" }'), ("1", '"identity"')),
    )
    net = parse(text)
    act = net.layers[0].activation
    assert act.name == "softsign" and not act.builtin
    assert sympy.simplify(act.expr - Z / (1 + sympy.Abs(Z))) == 0
    assert net.loss.name == "quartic" and not net.loss.builtin
    assert sympy.expand(net.loss.expr - (A - Y) ** 4) == 0


def test_custom_defaults_names_and_repeats() -> None:
    same = '{ expr = "z**3" }'
    net = parse(spec(loss='{ expr = "abs(a - y)" }', layers=(("3", same), ("2", same))))
    assert net.layers[0].activation.name == "custom"
    assert net.layers[0].activation == net.layers[1].activation
    assert net.loss.name == "custom_loss"


def test_loss_table_with_builtin_name() -> None:
    assert parse(spec(loss='{ name = "squared_error" }')).loss == loss("squared_error")


def test_binary_cross_entropy_with_sigmoid() -> None:
    net = parse(spec(loss='"binary_cross_entropy"'))
    assert net.loss.name == "binary_cross_entropy"


def test_limits_are_inclusive() -> None:
    net = parse(spec(inputs=str(MAX_UNITS), layers=(("1", '"tanh"'),)))
    assert net.sizes == (MAX_UNITS, 1)


def test_load_spec_file_matches_text(tmp_path: Path) -> None:
    text = spec()
    path = tmp_path / "my net.toml"
    path.write_text(text, encoding="utf-8")
    from_file = load_spec(path)
    assert from_file == load_spec_text(text)
    assert from_file.source == str(path)
    assert load_spec(str(path)) == from_file


def test_load_spec_accepts_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + spec().encode())
    assert load_spec(path).sizes == (2, 3, 2)


# ---------------------------------------------------------------- load_spec: text, dict, names

TINY = {
    "name": "tiny",
    "inputs": 2,
    "loss": "squared_error",
    "layers": [{"units": 3, "activation": "tanh"}, {"units": 2, "activation": "sigmoid"}],
}


def test_load_spec_reads_toml_text_when_it_has_a_line_break() -> None:
    text = spec()
    assert load_spec(text) == load_spec_text(text)
    assert load_spec(text).source == "<string>"
    assert load_spec(text, source="mine").source == "mine"
    assert load_spec(text.replace("\n", "\r\n")) == load_spec_text(text)


def test_load_spec_reads_a_dict() -> None:
    net = load_spec(TINY)
    assert net == network_from_dict(TINY)
    assert (net.name, net.sizes, net.source) == ("tiny", (2, 3, 2), "<dict>")
    assert load_spec(TINY, source="cell 3").source == "cell 3"


def test_a_string_without_a_line_break_is_a_path_or_a_bundled_name(tmp_path: Path) -> None:
    (tmp_path / "seed_chain").write_text(spec(name='"mine"'), encoding="utf-8")
    assert load_spec(str(tmp_path / "seed_chain")).name == "mine"
    assert load_spec("seed_chain").name == "seed_chain"  # no such file here: the example
    with pytest.raises(SpecError, match=r"name = 1: no such file \(bundled examples"):
        load_spec("name = 1")  # one line of TOML is a file name, and says so


def test_text_and_dict_errors_name_the_field_as_a_file_does() -> None:
    bad = {**TINY, "layers": [{"units": 0, "activation": "tanh"}]}
    assert checked_message(_spec_error(bad), "<dict>") == (
        "<dict>: layers[0].units (layer 1): must be between 1 and 1000000, got 0"
    )
    assert "cell 3: loss:" in checked_message(
        _spec_error({**TINY, "loss": "nope"}, "cell 3"), "cell 3"
    )
    assert checked_message(_spec_error(spec(inputs="0")), "<string>").startswith(
        "<string>: inputs: "
    )
    assert checked_message(_spec_error("name = 1\ninputs ="), "<string>").startswith("<string>:2:")


@pytest.mark.parametrize("value", [3, None, b"name = 1\n", ["seed_chain"]], ids=repr)
def test_load_spec_names_what_it_accepts(value: object) -> None:
    message = checked_message(_spec_error(value))
    assert "a file path, a bundled example's name, TOML text or a dict" in message


def _spec_error(value: object, source: str | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(value, source)  # type: ignore[arg-type]
    return info.value


def test_examples_is_public() -> None:
    import symbackprop

    assert symbackprop.examples() == examples()
    assert "examples" in symbackprop.__all__
    assert "examples()" in (load_spec.__doc__ or "")


def test_file_beats_example_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("seed_chain").write_text(spec(name='"local"'), encoding="utf-8")
    assert load_spec("seed_chain").name == "local"


def test_network_from_dict() -> None:
    data = {
        "name": "d",
        "inputs": 3,
        "loss": "squared_error",
        "layers": [{"units": 2, "activation": {"expr": "sin(z)", "name": "wave"}}],
    }
    net = network_from_dict(data, "dict")
    assert net.sizes == (3, 2)
    assert net.layers[0].activation.expr == sympy.sin(Z)


def test_python_objects() -> None:
    net = Network(
        "py",
        2,
        (Layer(3, activation("tanh")), Layer(2, activation("softmax"))),
        loss("cross_entropy"),
    )
    assert net.sizes == (2, 3, 2)
    assert net.depth == 2
    assert net.layers[1].activation.is_softmax
    same = load_spec_text(
        spec(
            name='"py"',
            loss='"cross_entropy"',
            layers=(("3", '"tanh"'), ("2", '"softmax"')),
        )
    )
    assert net == same


def test_python_layers_as_list_are_stored_as_tuple() -> None:
    net = Network("py", 1, [Layer(1, activation("sigmoid"))], loss("squared_error"))  # type: ignore[arg-type]
    assert isinstance(net.layers, tuple)
    hash(net)


def test_python_custom_objects() -> None:
    act = custom_activation("z**2 + z", name="poly")
    assert act.name == "poly" and act.expr == Z**2 + Z and not act.builtin
    lss = custom_loss("(a - y)**2 / 3", name="third")
    assert lss.expr == (A - Y) ** 2 / 3
    net = Network("py", 1, (Layer(2, act),), lss)
    assert net.loss is lss


# ---------------------------------------------------------------- invalid TOML files


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('name = "net"\ninputs = = 2\n', 2, 10),
        ('name = "net\ninputs = 2\n', 1, 12),
        ('name = "net"\nname = "again"\n', 2, None),
        ('name = "net"\n[[layers]\n', 2, None),
        ('name = "net"\ninputs = 2\nloss = "sq', 3, 11),  # ends inside a string
        ("\ufeffname = 1\n", 1, 1),  # a byte order mark in text (load_spec strips it)
    ],
)
def test_toml_syntax_error_has_line_and_column(text: str, line: int, column: int | None) -> None:
    message = rejected(text)
    col = r"\d+" if column is None else str(column)
    assert re.match(rf"{re.escape(SOURCE)}:{line}:{col}: invalid TOML: \S", message), message


# ---------------------------------------------------------------- invalid fields

BAD_SPECS: list[tuple[str, str, list[str]]] = [
    # (id, spec text, substrings the message must contain)
    ("empty", "", ["empty", "name", "inputs", "loss", "layers"]),
    ("only-comment", "# nothing\n", ["empty"]),
    ("no-name", spec().replace('name = "net"\n', ""), ["name", "missing"]),
    ("no-inputs", spec().replace("inputs = 2\n", ""), ["inputs", "missing"]),
    ("no-loss", spec().replace('loss = "squared_error"\n', ""), ["loss", "missing"]),
    ("no-layers", spec(layers=()), ["layers", "missing"]),
    ("empty-layers", spec(layers=(), extra="layers = []\n"), ["layers", "at least one"]),
    ("layers-number", spec(layers=(), extra="layers = 3\n"), ["layers", "[[layers]]"]),
    ("layers-table", spec(layers=(), extra="[layers]\nunits = 1\n"), ["layers", "[[layers]]"]),
    (
        "no-units",
        spec(layers=(("3", '"tanh"'),)).replace("units = 3\n", ""),
        ["layers[0]", "units", "missing"],
    ),
    (
        "no-activation",
        spec(layers=(("3", '"tanh"'),)).replace('activation = "tanh"\n', ""),
        ["layers[0]", "activation", "missing"],
    ),
    (
        "units-zero",
        spec(layers=(("3", '"tanh"'), ("0", '"tanh"'))),
        ["layers[1]", "units", "between 1 and", "0"],
    ),
    ("units-negative", spec(layers=(("-4", '"tanh"'),)), ["layers[0]", "units", "-4"]),
    (
        "units-too-big",
        spec(layers=(("10_000_000", '"tanh"'),)),
        ["layers[0]", "units", str(MAX_UNITS)],
    ),
    (
        "units-bool",
        spec(layers=(("true", '"tanh"'),)),
        ["layers[0]", "units", "whole number", "boolean", "true"],
    ),
    (
        "units-float",
        spec(layers=(("2.5", '"tanh"'),)),
        ["layers[0]", "units", "whole number", "2.5"],
    ),
    (
        "units-float-whole",
        spec(layers=(("2.0", '"tanh"'),)),
        ["layers[0]", "units", "whole number"],
    ),
    ("units-string", spec(layers=(('"3"', '"tanh"'),)), ["layers[0]", "units", "string"]),
    ("units-date", spec(layers=(("1979-05-27", '"tanh"'),)), ["layers[0]", "units", "date"]),
    ("units-array", spec(layers=(("[3]", '"tanh"'),)), ["layers[0]", "units", "array"]),
    ("inputs-zero", spec(inputs="0"), ["inputs", "between 1 and"]),
    ("inputs-bool", spec(inputs="false"), ["inputs", "boolean"]),
    ("inputs-float", spec(inputs="1.5"), ["inputs", "whole number", "1.5"]),
    ("name-not-identifier", spec(name='"my net"'), ["name", "identifier", "'my net'"]),
    ("name-digit", spec(name='"1net"'), ["name", "identifier"]),
    ("name-keyword", spec(name='"lambda"'), ["name", "identifier"]),
    ("name-empty", spec(name='""'), ["name", "identifier"]),
    ("name-too-long", spec(name='"' + "n" * 65 + '"'), ["name", "64"]),
    ("name-number", spec(name="3"), ["name", "identifier"]),
    ("name-dunder", spec(name='"__init__"'), ["name", "'__'"]),
    ("name-non-ascii", spec(name='"réseau"'), ["name", "identifier"]),
    (
        "unknown-top-field",
        spec(extra="input = 3\n"),
        ["unknown field 'input'", "did you mean 'inputs'"],
    ),
    (
        "misspelt-top-field",
        spec().replace("inputs", "inptus"),
        ["'inptus'", "did you mean 'inputs'"],
    ),
    (
        "unknown-layer-field",
        spec(layers=(("3", '"tanh"'),)).replace("units", "unit"),
        ["layers[0]", "unknown field 'unit'", "did you mean 'units'"],
    ),
    (
        "unknown-activation-field",
        spec(layers=(("3", '{ nme = "tanh" }'),)),
        ["layers[0]", "activation", "'nme'", "did you mean 'name'"],
    ),
    ("unknown-loss-field", spec(loss='{ exp = "a" }'), ["loss", "'exp'", "did you mean 'expr'"]),
    (
        "unknown-activation",
        spec(layers=(("3", '"tanh"'), ("2", '"sigmod"'))),
        ["layers[1]", "activation", "'sigmod'", "did you mean 'sigmoid'"],
    ),
    (
        "activation-number",
        spec(layers=(("3", "7"),)),
        ["layers[0]", "activation", "a name or a table"],
    ),
    (
        "activation-empty-table",
        spec(layers=(("3", "{}"),)),
        ["layers[0]", "activation", "name", "expr"],
    ),
    (
        "activation-name-number",
        spec(layers=(("3", "{ name = 7 }"),)),
        ["layers[0]", "activation.name", "string"],
    ),
    (
        "slope-on-tanh",
        spec(layers=(("3", '{ name = "tanh", slope = 0.1 }'),)),
        ["layers[0]", "slope", "leaky_relu", "'tanh'"],
    ),
    (
        "slope-on-expr",
        spec(layers=(("3", '{ expr = "z", slope = 0.1 }'),)),
        ["layers[0]", "slope", "leaky_relu"],
    ),
    (
        "slope-bool",
        spec(layers=(("3", '{ name = "leaky_relu", slope = true }'),)),
        ["slope", "number", "boolean"],
    ),
    (
        "slope-string",
        spec(layers=(("3", '{ name = "leaky_relu", slope = "0.1" }'),)),
        ["slope", "number"],
    ),
    ("slope-nan", spec(layers=(("3", '{ name = "leaky_relu", slope = nan }'),)), ["slope", "nan"]),
    ("slope-inf", spec(layers=(("3", '{ name = "leaky_relu", slope = inf }'),)), ["slope", "inf"]),
    (
        "slope-huge",
        spec(layers=(("3", '{ name = "leaky_relu", slope = 1e300 }'),)),
        ["slope", "between"],
    ),
    (
        "two-leaky-slopes",
        spec(
            layers=(
                ("3", '{ name = "leaky_relu", slope = 0.1 }'),
                ("2", '{ name = "leaky_relu", slope = 0.3 }'),
            )
        ),
        ["layers[1]", "activation", "slope"],
    ),
    (
        "softmax-hidden",
        spec(layers=(("3", '"softmax"'), ("2", '"sigmoid"'))),
        ["layers[0]", "softmax", "output"],
    ),
    (
        "softmax-one-unit",
        spec(layers=(("3", '"tanh"'), ("1", '"softmax"'))),
        ["layers[1]", "softmax", "2 units"],
    ),
    (
        "cross-entropy-no-softmax",
        spec(loss='"cross_entropy"'),
        ["loss", "cross_entropy", "softmax"],
    ),
    (
        "bce-identity",
        spec(loss='"binary_cross_entropy"', layers=(("3", '"tanh"'), ("1", '"identity"'))),
        ["loss", "binary_cross_entropy", "identity"],
    ),
    (
        "unknown-loss",
        spec(loss='"squared_eror"'),
        ["loss", "'squared_eror'", "did you mean 'squared_error'"],
    ),
    ("loss-number", spec(loss="2"), ["loss", "a name or a table"]),
    ("loss-empty-table", spec(loss="{}"), ["loss", "expr"]),
    ("loss-name-number", spec(loss="{ name = 2 }"), ["loss.name", "string"]),
    (
        "two-unnamed-custom",
        spec(layers=(("3", '{ expr = "z**3" }'), ("2", '{ expr = "z**2" }'))),
        ["layers[1]", "activation", "'custom'", "name"],
    ),
    (
        "two-custom-same-name",
        spec(
            layers=(("3", '{ expr = "z**3", name = "c" }'), ("2", '{ expr = "z**2", name = "c" }'))
        ),
        ["layers[1]", "'c'", "name"],
    ),
    (
        "custom-named-builtin",
        spec(layers=(("3", '{ expr = "z**3", name = "tanh" }'),)),
        ["layers[0]", "activation.name", "'tanh'", "built-in"],
    ),
    (
        "custom-loss-named-builtin",
        spec(loss='{ expr = "a", name = "cross_entropy" }'),
        ["loss.name", "built-in"],
    ),
    (
        "custom-name-bad",
        spec(layers=(("3", '{ expr = "z**3", name = "my act" }'),)),
        ["activation.name", "identifier"],
    ),
    (
        "custom-name-dunder",
        spec(layers=(("3", '{ expr = "z**3", name = "__x__" }'),)),
        ["activation.name", "'__'"],
    ),
    (
        "custom-loss-name-bad",
        spec(loss='{ expr = "a", name = "1st" }'),
        ["loss.name", "identifier"],
    ),
    (
        "expr-number",
        spec(layers=(("3", "{ expr = 3 }"),)),
        ["layers[0]", "activation.expr", "string"],
    ),
    ("loss-expr-number", spec(loss="{ expr = 3 }"), ["loss.expr", "string"]),
    (
        "expr-empty",
        spec(layers=(("3", '{ expr = "" }'),)),
        ["layers[0]", "activation.expr", "empty"],
    ),
    (
        "expr-unknown-symbol",
        spec(layers=(("3", '{ expr = "z + q" }'),)),
        ["layers[0]", "activation.expr", "'q'"],
    ),
    (
        "expr-unknown-function",
        spec(layers=(("3", '{ expr = "sigm(z)" }'),)),
        ["activation.expr", "'sigm'"],
    ),
    ("expr-uses-a", spec(layers=(("3", '{ expr = "a * z" }'),)), ["activation.expr", "'a'"]),
    ("expr-syntax", spec(layers=(("3", '{ expr = "z +* 2" }'),)), ["activation.expr", "syntax"]),
    ("expr-newline", spec(layers=(("3", '{ expr = "z +\\n 2" }'),)), ["activation.expr"]),
    (
        "expr-no-z",
        spec(layers=(("3", '{ expr = "2 + 3" }'),)),
        ["activation.expr", "does not depend on z"],
    ),
    ("loss-expr-no-a", spec(loss='{ expr = "y**2" }'), ["loss.expr", "does not depend on a"]),
    ("loss-expr-z", spec(loss='{ expr = "(a - z)**2" }'), ["loss.expr", "'z'"]),
    (
        "expr-too-long",
        spec(layers=(("3", '{ expr = "' + "z+" * 600 + 'z" }'),)),
        ["activation.expr", "too long"],
    ),
    (
        "expr-too-deep",
        spec(layers=(("3", '{ expr = "' + "(" * 100 + "z" + ")" * 100 + '" }'),)),
        ["activation.expr", "nested"],
    ),
    (
        "expr-deep-calls",
        spec(layers=(("3", '{ expr = "' + "sin(" * 80 + "z" + ")" * 80 + '" }'),)),
        ["activation.expr", "nested"],
    ),
    (
        "expr-tower",
        spec(layers=(("3", '{ expr = "z**(10**10**10)" }'),)),
        ["activation.expr", "too large"],
    ),
    (
        "expr-big-power",
        spec(layers=(("3", '{ expr = "z**10**10" }'),)),
        ["activation.expr", "too large"],
    ),
    (
        "expr-big-number",
        spec(layers=(("3", '{ expr = "1e400 * z" }'),)),
        ["activation.expr", "too large"],
    ),
    (
        "expr-big-int",
        spec(layers=(("3", '{ expr = "' + "9" * 60 + ' * z" }'),)),
        ["activation.expr", "too large"],
    ),
    (
        "expr-big-exp",
        spec(layers=(("3", '{ expr = "exp(exp(exp(10))) * z" }'),)),
        ["activation.expr", "too large"],
    ),
    ("expr-division-by-zero", spec(layers=(("3", '{ expr = "z / 0" }'),)), ["activation.expr"]),
    (
        "expr-not-differentiable",
        spec(layers=(("3", '{ expr = "0**z" }'),)),
        ["layers[0]", "activation", "differentiate"],
    ),
    ("loss-not-differentiable", spec(loss='{ expr = "0**a" }'), ["loss", "differentiate"]),
    ("expr-complex", spec(layers=(("3", '{ expr = "(-1)**z" }'),)), ["layers[0]", "complex"]),
    ("expr-imaginary", spec(layers=(("3", '{ expr = "log(-1) * z" }'),)), ["complex"]),
    ("loss-complex", spec(loss='{ expr = "(-2)**a" }'), ["loss", "complex"]),
]


@pytest.mark.parametrize(
    ("text", "needles"), [c[1:] for c in BAD_SPECS], ids=[c[0] for c in BAD_SPECS]
)
def test_bad_spec_is_one_line_naming_the_field(text: str, needles: list[str]) -> None:
    message = rejected(text)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_too_many_layers() -> None:
    text = spec(layers=(("1", '"tanh"'),) * (MAX_LAYERS + 1))
    message = rejected(text)
    assert "layers" in message and str(MAX_LAYERS) in message


def test_long_values_are_shortened_in_messages() -> None:
    huge = "x" * 5000
    for text in (
        spec(name=f'"{huge}"'),
        spec(layers=(("3", f'"{huge}"'),)),
        spec(layers=(("3", '{ expr = "z + ' + huge + '" }'),)),
        spec(extra=f"{huge} = 1\n"),
    ):
        assert len(rejected(text)) < 600


def test_control_characters_stay_escaped() -> None:
    message = rejected(spec(layers=(("3", '"tan\\nh\\r"'),)))
    assert "\\n" in message


# ---------------------------------------------------------------- code injection: nothing runs

INJECTIONS = [
    "__import__('os').system('touch {marker}')",
    "open('{marker}', 'w')",
    "exec(\"open('{marker}', 'w')\")",
    "eval(\"open('{marker}', 'w')\")",
    "(lambda: open('{marker}', 'w'))()",
    "z.__class__.__init__.__globals__['os'].system('touch {marker}')",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "__builtins__",
    "globals()",
    "z if open('{marker}', 'w') else z",
    "sin(z).func.__module__",
]


def toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize(
    "field", ["activation.expr", "loss.expr", "name", "activation", "activation.name", "loss"]
)
def test_injection_is_refused_and_nothing_runs(tmp_path: Path, payload: str, field: str) -> None:
    marker = tmp_path / "pwned"
    value = toml_string(payload.format(marker=marker))
    text = {
        "activation.expr": spec(layers=(("3", f"{{ expr = {value} }}"),)),
        "loss.expr": spec(loss=f"{{ expr = {value} }}"),
        "name": spec(name=value),
        "activation": spec(layers=(("3", value),)),
        "activation.name": spec(layers=(("3", f'{{ expr = "z", name = {value} }}'),)),
        "loss": spec(loss=value),
    }[field]
    message = rejected(text)
    assert field.split(".")[0] in message
    assert not marker.exists()


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_through_python_api(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "pwned"
    text = payload.format(marker=marker)
    for build in (
        lambda: custom_activation(text),
        lambda: custom_loss(text),
        lambda: custom_activation("z", name=text),
        lambda: activation(text),
        lambda: loss(text),
    ):
        with pytest.raises(SpecError) as info:
            build()
        checked_message(info.value)
    assert not marker.exists()


# ---------------------------------------------------------------- files


def test_missing_file_lists_bundled_examples(tmp_path: Path) -> None:
    for missing in (tmp_path / "nope.toml", tmp_path / "nope"):
        with pytest.raises(SpecError) as info:
            load_spec(missing)
        message = checked_message(info.value, str(missing))
        assert "no such file" in message
        for name in examples():
            assert name in message


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    assert "directory" in checked_message(info.value, str(tmp_path))


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(spec(name='"caf\xe9"').encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert "UTF-8" in checked_message(info.value, str(path))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.toml"
    path.write_bytes(b"")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert "empty" in checked_message(info.value, str(path))


def test_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.toml"
    path.write_bytes(b"# " + b"x" * MAX_SPEC_BYTES + b"\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert "too large" in checked_message(info.value, str(path))


def test_file_name_too_long(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / ("n" * 5000 + ".toml"))
    assert len(checked_message(info.value)) < 400


def test_file_name_with_newline_stays_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad\nname.toml"
    path.write_text(spec(inputs="0"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert "inputs" in checked_message(info.value)


def test_toml_error_in_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "net"\n\ninputs 2\n', encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert checked_message(info.value).startswith(f"{path}:3:")


# ---------------------------------------------------------------- Python objects


def net_with(
    *layers: Layer, lss: Loss | None = None, name: str = "py", inputs: object = 2
) -> Network:
    return Network(name, inputs, tuple(layers), lss or loss("squared_error"))  # type: ignore[arg-type]


TANH = activation("tanh")


PY_CASES: list[tuple[Callable[[], object], list[str]]] = [
    (lambda: net_with(Layer(0, TANH)), ["layers[0]", "units", "between"]),
    (lambda: net_with(Layer(2, TANH), Layer(-1, TANH)), ["layers[1]", "units"]),
    (lambda: net_with(Layer(2.5, TANH)), ["layers[0]", "units", "whole number"]),  # type: ignore[arg-type]
    (lambda: net_with(Layer(True, TANH)), ["layers[0]", "units", "boolean"]),
    (lambda: net_with(Layer(10**5000, TANH)), ["layers[0]", "units"]),
    (lambda: net_with(Layer(2, TANH), inputs=0), ["inputs"]),
    (lambda: net_with(Layer(2, TANH), inputs=None), ["inputs"]),
    (lambda: net_with(Layer(2, TANH), name="no way"), ["name", "identifier"]),
    (lambda: net_with(Layer(2, TANH), name="__class__"), ["name", "'__'"]),
    (lambda: net_with(), ["layers", "at least one"]),
    (lambda: net_with(Layer(2, "tanh")), ["layers[0]", "activation"]),  # type: ignore[arg-type]
    (lambda: Network("py", 2, (Layer(2, TANH),), "squared_error"), ["loss"]),  # type: ignore[arg-type]
    (lambda: Network("py", 2, (3,), loss("squared_error")), ["layers"]),  # type: ignore[arg-type]
    (
        lambda: net_with(Layer(2, activation("softmax")), Layer(2, TANH)),
        ["layers[0]", "softmax", "output"],
    ),
    (
        lambda: net_with(Layer(1, activation("softmax")), lss=loss("cross_entropy")),
        ["softmax", "2"],
    ),
    (lambda: net_with(Layer(2, TANH), lss=loss("cross_entropy")), ["loss", "softmax"]),
    (
        lambda: net_with(Layer(1, activation("relu")), lss=loss("binary_cross_entropy")),
        ["loss", "binary_cross_entropy", "relu"],
    ),
    (
        lambda: net_with(Layer(2, custom_activation("z**3")), Layer(2, custom_activation("z**2"))),
        ["layers[1]", "'custom'"],
    ),
    (
        lambda: net_with(Layer(2, Activation("f", sympy.Function("f")(Z), builtin=False))),
        ["layers[0]", "differentiate"],
    ),
    (
        lambda: net_with(Layer(2, Activation("q", Z + sympy.Symbol("q"), builtin=False))),
        ["layers[0]", "activation"],
    ),
    (
        lambda: net_with(Layer(2, Activation("bad name", Z, builtin=False))),
        ["layers[0]", "name"],
    ),
    (
        lambda: net_with(Layer(2, TANH), lss=Loss("l", sympy.Function("g")(A), builtin=False)),
        ["loss"],
    ),
    (lambda: activation("sigmod"), ["'sigmod'", "did you mean 'sigmoid'"]),
    (lambda: activation("tanh", slope=0.5), ["slope", "leaky_relu"]),
    (lambda: activation("leaky_relu", slope=True), ["slope", "boolean"]),
    (lambda: activation("leaky_relu", slope=float("nan")), ["slope"]),
    (lambda: loss("cross_entropi"), ["did you mean 'cross_entropy'"]),
    (lambda: custom_activation("z + w"), ["'w'"]),
    (lambda: custom_activation("z**(10**10**10)"), ["too large"]),
    (lambda: custom_activation("7"), ["does not depend on z"]),
    (lambda: custom_activation("z", name="sigmoid"), ["built-in"]),
    (lambda: custom_activation("z", name="for"), ["identifier"]),
    (lambda: custom_activation(3), ["string"]),  # type: ignore[arg-type]
    (lambda: custom_loss("y - 1"), ["does not depend on a"]),
    (lambda: custom_loss("a", name="squared_error"), ["built-in"]),
    (lambda: network_from_dict([], "list"), ["list", "table"]),  # type: ignore[arg-type]
    (
        lambda: network_from_dict(
            {"name": "d", "inputs": 1, "loss": "squared_error", "layers": [{"units": 1}]}, "d"
        ),
        ["d: ", "layers[0]", "activation", "missing"],
    ),
]


@pytest.mark.parametrize(
    ("build", "needles"), PY_CASES, ids=["+".join(c[1])[:40] for c in PY_CASES]
)
def test_python_construction_errors(build: Callable[[], object], needles: list[str]) -> None:
    with pytest.raises(SpecError) as info:
        build()
    message = checked_message(info.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_the_timing_of_a_tower_is_immediate() -> None:
    import time

    start = time.perf_counter()
    rejected(spec(layers=(("3", '{ expr = "z**(10**10**10)" }'),)))
    rejected(spec(layers=(("3", '{ expr = "2**(10**10**10) * z" }'),)))
    assert time.perf_counter() - start < 2


# ---------------------------------------------------------------- property: nothing but SpecError

_FRAGMENTS = st.sampled_from(
    [
        *[
            "z",
            "a",
            "y",
            "1",
            "0",
            "2.5",
            "1e308",
            "10",
            "**",
            "*",
            "/",
            "+",
            "-",
            "(",
            ")",
            ",",
            "exp",
            "log",
            "sqrt",
            "abs",
            "max",
            "min",
            "sin",
            "tanh",
            "erf",
        ],
        *[".", "__class__", "lambda", ":", "[", "]", "'", "\\", "#", "="],
        " ",
        "\n",
        "9" * 40,
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENTS, max_size=14).map("".join))
def test_any_expression_text_gives_an_activation_or_one_line_error(text: str) -> None:
    try:
        act = custom_activation(text, name="fuzz")
    except SpecError as err:
        checked_message(err)
    else:
        assert act.expr is not None and Z in act.expr.free_symbols


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_any_text_gives_a_network_or_one_line_error(text: str) -> None:
    try:
        load_spec_text(text, "fuzz.toml")
    except SpecError as err:
        checked_message(err, "fuzz.toml")


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["name", "inputs", "loss", "layers", "slope", "units"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["units", "activation", "expr", "name", "slope"]),
                    inner,
                    max_size=3,
                )
            ),
            max_leaves=8,
        ),
    )
)
def test_any_mapping_gives_a_network_or_one_line_error(data: dict[str, object]) -> None:
    try:
        net = network_from_dict(data, "data")
    except SpecError as err:
        checked_message(err, "data")
    else:
        assert net.depth >= 1


@pytest.mark.parametrize(
    ("text", "prefix"),
    [
        (spec(layers=(("3", '"tanh"'), ("2", '"sigmod"'))), "layers[1].activation (layer 2): "),
        (spec(layers=(("0", '"tanh"'),)), "layers[0].units (layer 1): "),
        (spec(layers=(("3", '{ expr = "z + q" }'),)), "layers[0].activation.expr (layer 1): "),
        (spec(layers=(("3", '"tanh"'),)).replace("units", "unit"), "layers[0] (layer 1): "),
        (spec(inputs="0"), "inputs: "),
        (spec(loss='{ expr = "q" }'), "loss.expr: "),
    ],
)
def test_message_format_is_file_then_field(text: str, prefix: str) -> None:
    assert rejected(text).startswith(f"{SOURCE}: {prefix}")
