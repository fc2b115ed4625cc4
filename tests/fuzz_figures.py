"""Fixed-seed fuzzing of every parser, summarised as a Markdown table.

Run with `python -m tests.fuzz_figures [N]` (N inputs per target, default 2000). Inputs come
from `random.Random(0)`, so the table is the same on every run. tests/test_fuzz.py imports the
targets and the input helpers from here and drives them with hypothesis instead.
"""

from __future__ import annotations

import io
import math
import os
import random
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import sympy

import symbackprop
from symbackprop.data import load_data
from symbackprop.errors import SymbackpropError
from symbackprop.expr import ExprError, parse_expression
from symbackprop.gd import gradient_descent
from symbackprop.spec import Network, load_spec_text
from symbackprop.verify import parse_equation, verify

TIME_LIMIT = 2.0  # seconds for any one call

VALID_SPEC = """\
# a valid spec, mutated by the fuzzers
name = "fuzz_net"
inputs = 2
loss = "squared_error"

[[layers]]
units = 3
activation = "sigmoid"

[[layers]]
units = 2
activation = { expr = "tanh(z) + 0.5*z", name = "mine" }
"""

VALID_DICT: dict[str, Any] = {
    "name": "fuzz_net",
    "inputs": 2,
    "loss": "squared_error",
    "layers": [
        {"units": 3, "activation": "sigmoid"},
        {"units": 2, "activation": {"name": "leaky_relu", "slope": 0.1}},
    ],
}

EXPR_TOKENS = [
    "z", "x", "y", "a", "w", "(", ")", "(", ")", "+", "-", "*", "/", "**", "^", ",", " ",
    "exp", "log", "sqrt", "tanh", "max", "min", "abs", "erf", "sin", "1", "0", "2.5", ".",
    "1e308", "1e-400", "9" * 40, "1_000", "e", "j", "__import__", "lambda", "'", '"', "\n",
    "[", "]", "{", "}", "#", "\\", "=", "==", "if", "not", "%", "@", "~", "\x00", "π", "ｚ",
]  # fmt: skip

LATEX_TOKENS = [
    "\\frac", "{", "}", "{", "}", "^", "_", "\\sum", "\\partial", "\\sigma", "'", "=", "+",
    "-", "\\cdot", "\\odot", "\\left(", "\\right)", "(", ")", "a", "z", "w", "W", "b", "y",
    "E", "x", "n", "\\delta", "l", "L", "L-1", "l+1", "j", "k", "i", "1", "2", "0", " ",
    "\\\\", "&", "\\mathbf", "\\top", "T", "e", "\\exp", "\\log", "\\tanh", "\\,", "%",
    "\\begin{align}", "\\end{align}", "$", "\\tag{x}", "\\notag", "\\text{hi}", "9" * 30,
    "\\sum_{j=1}^{n^{(l)}}", "a^{(l)}", "z^{(L)}", "w^{(l)}_{jk}", "\\frac{\\partial E}",
]  # fmt: skip


@cache
def network(name: str = "multi_node") -> Network:
    return symbackprop.load_spec(name)


@cache
def valid_equations() -> tuple[str, ...]:
    """The derivation of multi_node as one-line equations (the align rows of one block joined)."""
    text = symbackprop.render(symbackprop.derive(network()), "latex")
    found = []
    for block in re.findall(r"\\begin\{align\*?\}(.*?)\\end\{align\*?\}", text, re.S):
        block = re.sub(r"\\(?:tag|label)\{[^}]*\}|\\notag|\\nonumber", "", block)
        found.append(" ".join(block.replace("&", "").replace("\\\\", " ").split()))
    return tuple(found)


# ---------------------------------------------------------------- TOML writing


def toml_value(value: Any) -> str:
    """`value` as a TOML value (inline tables and arrays for containers)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(type(value))


def toml_string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def toml_document(data: dict[str, Any]) -> str:
    """Top-level keys first, then `layers` as [[layers]] sections when it is a list of tables."""
    lines = []
    layers = data.get("layers")
    sections = isinstance(layers, list) and all(isinstance(x, dict) for x in layers)
    for key, value in data.items():
        if key == "layers" and sections:
            continue
        lines.append(f"{toml_string(key)} = {toml_value(value)}")
    if sections:
        assert isinstance(layers, list)
        for layer in layers:
            lines.append("[[layers]]")
            lines.extend(f"{toml_string(k)} = {toml_value(v)}" for k, v in layer.items())
    return "\n".join(lines) + "\n"


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a nested dict/list, for choosing the field to mutate."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            found += paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found += paths(v, (*prefix, i))
    return found


def mutate_dict(data: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    """A copy of `data` with the field at `path` replaced by `value` (or deleted)."""
    if isinstance(data, dict):
        data = dict(data)
    elif isinstance(data, list):
        data = list(data)
    key = path[0]
    if len(path) == 1:
        if delete:
            del data[key]
        else:
            data[key] = value
    else:
        data[key] = mutate_dict(data[key], path[1:], value, delete)
    return data


# ---------------------------------------------------------------- NPZ writing


def npz_bytes(arrays: dict[str, Any], compressed: bool = False) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def corrupt(raw: bytes, rng: random.Random) -> bytes:
    """`raw` truncated, or with a few bytes overwritten."""
    if rng.random() < 0.4:
        return raw[: rng.randrange(len(raw) + 1)]
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


# ---------------------------------------------------------------- targets


def call_spec(text: str) -> object:
    return load_spec_text(text, "fuzz.toml")


def call_expr(text: str) -> object:
    return parse_expression(text, {n: sympy.Symbol(n) for n in ("z", "a", "y")})


def call_gd(args: tuple[str, Any, float, int]) -> object:
    expr, start, lr, steps = args
    return gradient_descent(expr, start, lr, steps)


def call_latex(text: str) -> object:
    parse_equation(text)
    return verify(network(), text)


def call_data(args: tuple[bytes, str], suffix: str = ".csv") -> object:
    """`args` is (file contents, bundled spec name: multi_node or classifier)."""
    raw, spec = args
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / f"data{suffix}"
        file.write_bytes(raw)
        return load_data(file, network(spec))


def call_npz(args: tuple[bytes, str]) -> object:
    return call_data(args, ".npz")


TARGETS: dict[str, Callable[[Any], object]] = {
    "spec (TOML)": call_spec,
    "expression": call_expr,
    "gd": call_gd,
    "verify (LaTeX)": call_latex,
    "data (CSV)": call_data,
    "data (NPZ)": call_npz,
}
# parse_expression is an inner API: its callers turn ExprError into a SymbackpropError.
ALLOWED: tuple[type[Exception], ...] = (SymbackpropError, ExprError)


def run_one(target: Callable[[Any], object], value: Any) -> tuple[str, str, float]:
    """('result' | 'error' | 'UNEXPECTED', message, seconds); never raises."""
    start = time.perf_counter()
    try:
        target(value)
        outcome, message = "result", ""
    except ALLOWED as err:
        outcome, message = "error", str(err)
        if "\n" in message:
            outcome, message = "UNEXPECTED", f"multi-line message: {message!r}"
    except Exception as err:  # recording what escaped is the point
        outcome, message = "UNEXPECTED", f"{type(err).__name__}: {err}"
    return outcome, message, time.perf_counter() - start


def check(target: Callable[[Any], object], value: Any) -> None:
    """The fuzz property: a result or a clean one-line error, within TIME_LIMIT."""
    outcome, message, seconds = run_one(target, value)
    assert outcome != "UNEXPECTED", f"{message} for input {value!r:.300}"
    assert seconds < TIME_LIMIT, f"took {seconds:.2f} s for input {value!r:.300}"


# ---------------------------------------------------------------- random inputs (no hypothesis)


def rand_text(rng: random.Random, size: int = 60) -> str:
    pools = [
        lambda: chr(rng.randrange(32, 127)),
        lambda: chr(rng.randrange(0, 0x3000)),
        lambda: rng.choice("\n\r\t\x00\"'\\[]{}=#"),
    ]
    return "".join(rng.choice(pools)() for _ in range(rng.randrange(size)))


def rand_bytes(rng: random.Random, size: int = 200) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(size)))


def rand_scalar(rng: random.Random) -> Any:
    makers: list[Callable[[], Any]] = [
        lambda: rng.randint(-(10**6), 10**6),
        lambda: rng.choice([0, -1, 10**6 + 1, 2**63, -(2**64), 10**100]),
        lambda: rng.choice([0.0, -0.0, 1e308, -1e-320, math.inf, -math.inf, math.nan]),
        lambda: rng.uniform(-10, 10),
        lambda: rng.random() < 0.5,
        lambda: rand_text(rng, 20),
        lambda: rng.choice(["sigmoid", "relu", "softmax", "cross_entropy", "z**2", ""]),
        lambda: rng.choice(['a"b', "x\ny", "__import__('os').system('ls')", "exp(" * 70]),
        lambda: [rand_scalar_flat(rng) for _ in range(rng.randrange(4))],
        lambda: {rand_text(rng, 6) or "k": rand_scalar_flat(rng)},
        lambda: {"expr": rand_expr(rng), "name": rng.choice(["f", "mine", "", "1x", "relu"])},
        lambda: {
            "name": rng.choice(["leaky_relu", "relu", "?"]),
            "slope": rand_scalar_flat(rng),
        },
    ]
    return rng.choice(makers)()


def rand_scalar_flat(rng: random.Random) -> Any:
    return rng.choice([1, -3, 0.5, math.nan, "s", True, 10**30])


def rand_spec(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.1:
        return rand_text(rng, 200)
    if kind < 0.25:  # character-level mutations of the valid text
        text = list(VALID_SPEC)
        for _ in range(rng.randint(1, 5)):
            i = rng.randrange(len(text))
            op = rng.randrange(3)
            if op == 0:
                del text[i]
            elif op == 1:
                text.insert(i, rng.choice('"[]{}=\n#.,\\x0-9'))
            else:
                text[i] = chr(rng.randrange(32, 127))
        return "".join(text)
    path = rng.choice(paths(VALID_DICT))
    delete = rng.random() < 0.15
    return toml_document(mutate_dict(VALID_DICT, path, rand_scalar(rng), delete))


def rand_expr(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rand_grammatical(rng, 4)
    return "".join(rng.choice(EXPR_TOKENS) for _ in range(rng.randrange(30)))


def rand_grammatical(rng: random.Random, depth: int) -> str:
    """A well-formed expression of z, a, y, numbers, operators and functions."""
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(["z", "a", "y", "2", "0.5", "1e300", "1e-300", "0", "-1", "10**400"])
    op = rng.choice(["+", "-", "*", "/", "**", "f", "-u"])
    if op == "f":
        name = rng.choice(["exp", "log", "sqrt", "tanh", "abs", "erf", "cosh", "sin"])
        return f"{name}({rand_grammatical(rng, depth - 1)})"
    if op == "-u":
        return f"-({rand_grammatical(rng, depth - 1)})"
    return f"({rand_grammatical(rng, depth - 1)}){op}({rand_grammatical(rng, depth - 1)})"


def rand_gd(rng: random.Random) -> tuple[str, Any, float, int]:
    expr = rand_expr(rng).replace("z", "x") if rng.random() < 0.7 else rand_text(rng, 30)
    if rng.random() < 0.3:
        expr = rng.choice(["x**2", "exp(x)", "(x-1)**2 + y**2", "log(x)", "sqrt(x)", "1/x"])
    start: Any = rng.choice(
        [rng.uniform(-5, 5), math.nan, math.inf, 1e308, {"x": 1.0, "y": -1.0}, {"q": 1.0}, 0.0]
    )
    lr = rng.choice([0.1, 1e-300, 1e300, -1.0, math.nan, math.inf, 0.0, 1.5])
    steps = rng.choice([0, 1, 10, 200, -1])
    return expr, start, lr, steps


def rand_latex(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "".join(rng.choice(LATEX_TOKENS) for _ in range(rng.randrange(40)))
    text = list(rng.choice(valid_equations()))
    for _ in range(rng.choice([0, 1, 1, 1, 2, 4])):
        i = rng.randrange(len(text))
        op = rng.randrange(3)
        if op == 0:
            del text[i]
        elif op == 1:
            text.insert(i, rng.choice("{}^_=\\()+-0123456789lLajkE "))
        else:
            text[i] = chr(rng.randrange(32, 127))
    return "".join(text)


def rand_cell(rng: random.Random) -> str:
    return rng.choice(
        [
            str(rng.uniform(-3, 3)),
            str(rng.randint(0, 3)),
            rng.choice(["nan", "inf", "-inf", "", " ", "1e999", "0x1", "1,5", '"1"', "abc"]),
            rng.choice(["x1", "x2", "y1", "y2", "label", "﻿1", "1_0", "--1"]),
            rand_text(rng, 6),
        ]
    )


def rand_spec_name(rng: random.Random) -> str:
    return rng.choice(["multi_node", "classifier"])


def rand_csv(rng: random.Random) -> tuple[bytes, str]:
    spec = rand_spec_name(rng)
    if rng.random() < 0.2:
        return rand_bytes(rng), spec
    rows = []
    width = rng.choice([1, 3, 4, 4, 4, 5, 6])
    if rng.random() < 0.5:
        rows.append(",".join(f"c{i}" for i in range(width)))
    for _ in range(rng.randrange(8)):
        cells = [rng.choice("01") if rng.random() < 0.8 else rand_cell(rng) for _ in range(width)]
        if rng.random() < 0.05:
            cells.append("1")
        rows.append(rng.choice([";", "\t"]).join(cells) if rng.random() < 0.05 else ",".join(cells))
    raw = rng.choice(["\n", "\r\n", "\r"]).join(rows).encode("utf-8", "surrogatepass")
    return raw, spec


def rand_array(rng: random.Random) -> np.ndarray:
    shape = rng.choice([(), (0,), (4,), (4, 2), (4, 2), (4, 3), (3, 2), (0, 2), (4, 2, 1), (4, 1)])
    pool = [0.0, 1.0] * 10 + [0.5, -2.0, 3.0, 1e300, math.nan, math.inf]
    values = np.array([rng.choice(pool) for _ in range(int(np.prod(shape)))]).reshape(shape)
    kind = rng.randrange(9)
    if kind == 0:
        return values.astype(object)
    if kind == 1:
        return values.astype(np.complex128)
    if kind == 2:
        return values.astype(str)
    if kind == 3:
        return np.asarray(np.nan_to_num(np.clip(values, -7, 7)), dtype=np.int64)
    if kind == 4:
        return np.asarray(np.nan_to_num(values), dtype=bool)
    if kind == 5:
        return np.asarray(np.clip(values, -1e4, 1e4), dtype=np.float16)
    return values


def rand_npz(rng: random.Random) -> tuple[bytes, str]:
    return rand_npz_bytes(rng), rand_spec_name(rng)


def rand_npz_bytes(rng: random.Random) -> bytes:
    arrays = {"X": rand_array(rng), "Y": rand_array(rng)}
    if rng.random() < 0.1:
        del arrays[rng.choice(["X", "Y"])]
    if rng.random() < 0.1:
        arrays["Z"] = rand_array(rng)
    raw = npz_bytes(arrays, rng.random() < 0.3)
    choice = rng.random()
    if choice < 0.3:
        return corrupt(raw, rng)
    if choice < 0.35:
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr("X.npy", rand_bytes(rng))
        return zipped.getvalue()
    return raw


GENERATORS: dict[str, Callable[[random.Random], Any]] = {
    "spec (TOML)": rand_spec,
    "expression": rand_expr,
    "gd": rand_gd,
    "verify (LaTeX)": rand_latex,
    "data (CSV)": rand_csv,
    "data (NPZ)": rand_npz,
}

# Fixed hostile inputs every run includes (deep nesting, huge sizes, empty input).
EXTREMES: dict[str, list[Any]] = {
    "spec (TOML)": [
        "",
        "a = " + "[" * 10_000 + "]" * 10_000,
        "a = " + "{b=" * 2000 + "1" + "}" * 2000,
        "x" * 10**6,
        "inputs = " + "9" * 5000,
    ],
    "expression": [
        "",
        "(" * 10_000 + "z" + ")" * 10_000,
        "-" * 5000 + "z",
        "z" * 10**6,
        "9**9**9**9",
    ],
    "gd": [
        ("(" * 10_000 + "x" + ")" * 10_000, 1.0, 0.1, 10),
        ("-" * 5000 + "x", 1.0, 0.1, 10),
        ("x" * 10**6, 1.0, 0.1, 10),
        ("", 1.0, 0.1, 10),
    ],
    "verify (LaTeX)": [
        "",
        "a = " + "(" * 10_000 + "a" + ")" * 10_000,
        "a = " + "-" * 5000 + "a",
        "a^{(1)} = " + "{" * 10_000 + "1" + "}" * 10_000,
        "x" * 10**6,
        "a^{(1)} = 10^{" * 3 + "999" + "}" * 3,
    ],
    "data (CSV)": [
        (b"", "multi_node"),
        (b"\xff\xfe", "multi_node"),
        (b"x1,x2,y1,y2\n" + b"1,2,0,1\n" * 50_000, "multi_node"),
        (b"x1,x2,label\n" + b"1,2,1e300\n", "classifier"),
        (b"1," * 100_000 + b"1\n", "multi_node"),
    ],
    "data (NPZ)": [
        (b"PK\x03\x04", "multi_node"),
        (npz_bytes({"X": np.zeros((3, 2)), "Y": np.array([None] * 3)}), "multi_node"),
        (npz_bytes({"X": np.zeros((3, 2)), "Y": np.array([0, 1, 9])}), "classifier"),
        (npz_bytes({"X": np.zeros((10**6, 2)), "Y": np.zeros((10**6, 2))}), "multi_node"),
    ],
}


def figures(count: int) -> str:
    rows = [
        "| target | inputs run | results | clean errors | distinct error messages"
        " | worst time per input | unexpected exceptions |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    problems = []
    for name, target in TARGETS.items():
        rng = random.Random(0)
        inputs = EXTREMES[name] + [GENERATORS[name](rng) for _ in range(count)]
        tally = {"result": 0, "error": 0, "UNEXPECTED": 0}
        messages: set[str] = set()
        worst = 0.0
        for value in inputs:
            outcome, message, seconds = run_one(target, value)
            tally[outcome] += 1
            worst = max(worst, seconds)
            if outcome == "error":
                messages.add(normalise(message))
            elif outcome == "UNEXPECTED":
                problems.append(f"{name}: {message[:200]} for input {value!r:.200}")
        rows.append(
            f"| {name} | {len(inputs)} | {tally['result']} | {tally['error']} | {len(messages)}"
            f" | {worst:.3f} s | {tally['UNEXPECTED']} |"
        )
    return "\n".join([*rows, "", *problems])


def normalise(message: str) -> str:
    """A message with quoted parts and numbers stripped, so that variants count once."""
    message = re.sub(r"\S*data\.(csv|npz)", "FILE", message)
    message = re.sub(r"'[^']*'|\"[^\"]*\"|\([^()]*\)", "Q", message)
    return re.sub(r"[-+]?\d[\d.eE+-]*", "N", message)


#: The most address space any one input may add to the process (bytes): run from main(), the
#: campaign sets RLIMIT_AS to what the process holds after its imports plus this, so an input
#: that tries to allocate more gets a MemoryError, counted as an unexpected exception.
MEMORY_BOUND = 1024**3


def bound_memory(extra: int = MEMORY_BOUND) -> int | None:
    """Limit the process's address space to its present size plus `extra`; the limit set, or
    None where there is no /proc or no resource module (the campaign then runs unbounded)."""
    try:
        import resource

        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[0])
    except (ImportError, OSError, ValueError):
        return None
    limit = pages * os.sysconf("SC_PAGE_SIZE") + extra
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    return limit


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 2000
    for target in TARGETS.values():  # import what each target needs before measuring
        run_one(target, "")
    limit = bound_memory()
    print(f"address space bounded at {limit:,} bytes" if limit else "memory not bounded")
    print(figures(count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
