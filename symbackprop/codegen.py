"""Derivation -> a standalone NumPy training module, laid out by templates/numpy/module.py.jinja.

Lowering chain: the vectorised equations of the derivation -> NumPy expressions (strict printer)
-> template context of strings -> rendered module, with a checksum header so hand edits are
noticed before an overwrite.  Nothing is derived here: every expression comes from the IR.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import linecache
import os
import re
import sys
import uuid
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from ._version import __version__
from .derive import derive
from .errors import SymbackpropError
from .files import write_atomic
from .ir import Derivation
from .layers import kind_of
from .lower import functional, inplace, readable
from .lower.loss import log_statements, loss, loss_step, penalty_step
from .lower.program import lower
from .optim.inplace import inplace as inplace_optimizers
from .printing.inplace import inplace_code
from .printing.numpy import (
    UnsupportedInCode,
)
from .printing.text import text
from .render import environment
from .shapes import CONV_KINDS
from .spec import Layer, Network

TEMPLATE = "numpy/module.py.jinja"
#: The backends `generate` writes a module for: the template and the context of each.
BACKENDS = ("numpy", "array-api")
Backend = Literal["numpy", "array-api"]
CHECKSUM_LINE = re.compile(r"^# symbackprop-checksum: sha256:(?P<digest>[0-9a-f]{64})$", re.M)
COMMENT_WIDTH = 84


@dataclass(frozen=True)
class GeneratedModule:
    """The text of a generated module and the name it is written under.

    `write(path)` puts it in a file as `symbackprop generate` does; `load()` imports it in
    memory, with no file, as a module to call at once (`load().train(...)`).
    """

    name: str
    source: str

    def write(self, path: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write the module to `path`, atomically; a file there that was edited by hand since
        it was generated (its checksum differs), or not written by symbackprop, is replaced only
        with `force=True` (else SymbackpropError). Returns the path written."""
        target = Path(path)
        write_module(self, target, force=force)
        return target

    def load(self) -> ModuleType:
        """The module imported in memory: a fresh module object each call, run as `import`
        runs a file (its functions, constants and docstring as in the file), not entered in
        `sys.modules`; `inspect.getsource` and tracebacks show its lines."""
        return load_module(self.source, self.name)


def load_module(source: str, name: str) -> ModuleType:
    """Import generated source in memory (see `GeneratedModule.load`). Its code is named
    `<symbackprop generated NAME DIGEST>` in tracebacks, DIGEST the source's SHA-256 prefix,
    and its lines are kept in `linecache` under that name (once per distinct source)."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    filename = f"<symbackprop generated {name} {digest}>"
    unique = f"_symbackprop_{name}_{uuid.uuid4().hex}"
    code = compile(source, filename, "exec", dont_inherit=True)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = importlib.util.module_from_spec(ModuleSpec(unique, None))
    sys.modules[unique] = module  # while it runs, as an import has it
    try:
        exec(code, module.__dict__)  # noqa: S102 - symbackprop's own generated code
    finally:
        del sys.modules[unique]
    return module


def generate(network: Network | Derivation, backend: Backend = "numpy") -> GeneratedModule:
    """The module for a network (or an existing derivation of one): NumPy with its in-place
    training step (the default), or `"array-api"`: pure functions for any array library."""
    derivation = network if isinstance(network, Derivation) else derive(network)
    if backend not in BACKENDS:
        expected = ", ".join(BACKENDS)
        raise SymbackpropError(f"unknown backend {backend!r}; expected one of {expected}")
    try:
        if backend == "numpy":
            template, context = TEMPLATE, _context(derivation)
        elif not derivation.network.dense_only:
            layers = derivation.network.layers
            kinds = sorted({layer.kind for layer in layers} - {"dense"})
            if any(layer.residual is not None for layer in layers):
                kinds.append("residual")
            raise SymbackpropError(
                f"{derivation.network.source}: the array-API backend does not support"
                f" {', '.join(kinds)} layers yet; use the NumPy backend"
            )
        else:
            context = functional.context(derivation)
            context["helpers"] = _helpers(context)
            template = "array_api/module.py.jinja"
        body = environment("python").get_template(template).render(**context)
    except UnsupportedInCode as err:
        library = "NumPy" if backend == "numpy" else "array-API"
        message = f"{derivation.network.source}: cannot generate {library} code: {err}"
        raise SymbackpropError(message) from None
    notice = (
        f"# Generated by symbackprop {__version__} from the spec {derivation.network.name!r}."
        "\n# Do not edit by hand: regenerate with `symbackprop generate`.\n"
    )
    digest = hashlib.sha256((notice + body).encode("utf-8")).hexdigest()
    checksum = f"# symbackprop-checksum: sha256:{digest}\n"
    return GeneratedModule(derivation.network.name, notice + checksum + body)


def checksum_ok(content: str) -> bool | None:
    """Whether a generated file is unchanged since generation; None if it has no checksum."""
    match = CHECKSUM_LINE.search(content)
    if match is None:
        return None
    covered = content[: match.start()] + content[match.end() + 1 :]
    return hashlib.sha256(covered.encode("utf-8")).hexdigest() == match["digest"]


def write_module(module: GeneratedModule, path: str | Path, *, force: bool = False) -> None:
    """Write atomically; refuse to overwrite a file edited by hand (or not ours) unless forced."""
    target = Path(path)
    if target.is_file() and not force:
        try:
            existing = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            existing = ""
        state = checksum_ok(existing)
        if state is None:
            raise SymbackpropError(
                f"{target}: exists and was not generated by symbackprop; use --force to replace it"
            )
        if not state:
            raise SymbackpropError(
                f"{target}: was edited by hand since it was generated (checksum differs);"
                " use --force to overwrite it"
            )
    write_atomic(target, module.source)


def _in_place(layer: Layer) -> bool:
    """Whether the in-place schedule (sgd_step's buffers) knows this layer's kind; a kind
    without it still gets every readable function, and sgd_step by way of them."""
    return bool(getattr(kind_of(layer), "IN_PLACE", False))


def _context(derivation: Derivation) -> dict[str, Any]:
    net = derivation.network
    depth = net.depth
    layers = readable.layer_facts(derivation)
    found = loss(derivation)
    per_unit, log_a, log_1ma, output_kind = (
        found.per_unit,
        found.log_a,
        found.log_1ma,
        found.output_kind,
    )
    loss_lines, loss_scratch = inplace_code(per_unit, "terms", f"s{depth}_")
    logs_from_z = output_kind == "sigmoid" and per_unit.has(log_a, log_1ma)
    program = lower(derivation)
    loss_fetched, loss_code = loss_step(found, depth, readable.NUMPY)
    context: dict[str, Any] = {
        "name": net.name,
        "sizes": list(net.sizes),
        "depth": depth,
        "activations": [
            layer.activation.name if layer.has_parameters else layer.kind for layer in net.layers
        ],
        "layout": net.layout,
        "loss_name": net.loss.name,
        "layers": layers,
        "loss": loss_fetched,
        "loss_code": loss_code,
        "loss_comment": f"E = {text(net.loss.expr)} per output unit, summed over the units",
        "loss_equation": readable.comment(derivation.layers[-1].require("index", "loss")),
        "uses_log_a": per_unit.has(log_a),
        "uses_log_1ma": per_unit.has(log_1ma),
        "output_kind": output_kind,
        "forward": readable.forward(program),
        "backward": readable.backward(program),
        "loss_lines": loss_lines,
        "readable_kinds": sorted({layer.kind for layer in net.layers if not _in_place(layer)}),
        "input_shape": f"({', '.join(str(s) for s in net.input_shape)})" if net.input_shape else "",
        "conv": any(layer.kind in CONV_KINDS for layer in net.layers),
        "stats": [
            {"n": number, "units": layer.units, "momentum": float(layer.norm.momentum)}
            for number, layer in enumerate(net.layers, start=1)
            if layer.kind == "batchnorm" and layer.norm is not None
        ],
    }
    if not context["readable_kinds"]:
        fast = inplace.layers(program, net.sizes, loss_lines, logs_from_z)
        top = fast[-1]
        top.scratch = list(range(1, max(len(top.scratch), loss_scratch) + 1))
        context["shared"] = inplace.shared(fast)
        context["buffer_lines"] = inplace.buffer_lines(
            fast,
            context["shared"],
            depth=depth,
            uses_log_a=context["uses_log_a"],
            uses_log_1ma=context["uses_log_1ma"],
        )
        context["step_lines"] = inplace.step_lines(
            fast,
            depth=depth,
            logs=log_statements(found, depth),
            loss_lines=loss_lines,
            loss_equation=context["loss_equation"],
            penalty=derivation.network.regularized,
        )
    context["penalty"] = penalty_step(derivation, readable.NUMPY)
    context["optimizers"] = inplace_optimizers()
    context["helpers"] = _helpers(context)
    return context


#: The module's own functions that printed code may call, and the helpers each one needs.
HELPERS = {
    "_erf": ("_erf", "_erf_erfc"),
    "_erfc": ("_erfc", "_erf_erfc"),
    "_softmax": ("_softmax", "_shifted"),
    "_log_softmax": ("_log_softmax", "_shifted"),
    "_log_sigmoid": ("_log_sigmoid",),
    "_conv2d": ("_conv2d", "_windows"),
    "_conv2d_weights": ("_conv2d_weights", "_windows"),
    "_conv2d_inputs": ("_conv2d_inputs",),
    "_conv1d": ("_conv1d", "_conv2d", "_windows"),
    "_conv1d_weights": ("_conv1d_weights", "_conv2d_weights", "_windows"),
    "_conv1d_inputs": ("_conv1d_inputs", "_conv2d_inputs"),
    "_maxpool2d": ("_maxpool2d", "_windows"),
    "_maxpool2d_inputs": ("_maxpool2d_inputs", "_windows"),
    "_avgpool2d": ("_avgpool2d", "_windows"),
    "_avgpool2d_inputs": ("_avgpool2d_inputs",),
}
_CALL = re.compile(r"(?<![\w.])(_[a-z]\w*)\(")


def _helpers(context: Any) -> set[str]:
    """The helper functions called anywhere in the context's printed code."""
    found: set[str] = set()
    if isinstance(context, str):
        for name in _CALL.findall(context):
            found.update(HELPERS.get(name, ()))
    elif isinstance(context, dict):
        for value in context.values():
            found |= _helpers(value)
    elif isinstance(context, list | tuple):
        for value in context:
            found |= _helpers(value)
    elif dataclasses.is_dataclass(context):  # a schedule's Step or Group
        for item in dataclasses.fields(context):
            found |= _helpers(getattr(context, item.name))
    return found
