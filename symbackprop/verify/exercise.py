"""Exercises for students: a worksheet that draws the network and leaves chosen equations of
its derivation blank, a blank answers file to fill in, and the solutions in the same layout.

`--seed N` draws a network of the same shape (the widths, the loss and a softmax output kept)
whose elementwise activations are drawn from `POOL`, so different students get different
answers; every file carries a header line naming the network, the seed, the view and the
kinds asked, which `grade` reads back to rebuild the same questions."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from ..derive import derive
from ..errors import SymbackpropError
from ..ir import Equation, Kind, View
from ..library import UNBOUNDED_FOR_BCE
from ..printing.latex import latex, tex_escape
from ..spec import Network, activation
from .point import check_dense

#: The activations a seeded variant draws from: smooth, so σ' has one form to write.
POOL = ("sigmoid", "tanh", "softplus")
#: What the questions may ask, in the IR's kinds; the default asks all of them but the loss.
KINDS: tuple[Kind, ...] = (
    "dE_da_out",
    "sigma_prime",
    "jacobian",
    "delta",
    "dE_dw",
    "dE_db",
    "dE_da_prev",
)
VIEWS: tuple[View, ...] = ("index", "chain", "vector")
#: The answers file's first line: `% symbackprop answers: network N, seed S, view V, ask K,K`.
HEADER = "% symbackprop answers:"
_HEADER = re.compile(
    r"^% symbackprop answers: network (?P<name>[A-Za-z0-9_.-]+), seed (?P<seed>none|\d{1,9}), "
    r"view (?P<view>\w+), ask (?P<ask>[\w,]+)\s*$",
    re.M,
)
#: A question's marker in an answers file.
QUESTION = re.compile(r"^%\s*question\s+(\d{1,4})\b.*$", re.M)


@dataclass(frozen=True)
class Question:
    """One blank: its number (from 1), the derivation's equation, and its left side printed."""

    number: int
    equation: Equation
    lhs: str

    @property
    def steps(self) -> tuple[str, ...]:
        """The solution: the derivation's right sides, printed."""
        return tuple(latex(r) for r in self.equation.rhs)


@dataclass(frozen=True)
class Exercise:
    """A student's network (the spec's, or its variant for `seed`) and the questions on it."""

    network: Network
    seed: int | None
    view: View
    kinds: tuple[Kind, ...]
    questions: tuple[Question, ...]

    def header(self) -> str:
        seed = "none" if self.seed is None else str(self.seed)
        ask = ",".join(self.kinds)
        return f"{HEADER} network {self.network.name}, seed {seed}, view {self.view}, ask {ask}"


def variant(network: Network, seed: int) -> Network:
    """The network with the same widths and loss, and its elementwise activations drawn from
    POOL by `seed`; a softmax output stays, and so does an output feeding a loss that needs
    outputs in (0, 1) when its draw would leave that range."""
    rng = np.random.default_rng(seed)
    layers = []
    for number, layer in enumerate(network.layers, start=1):
        name = POOL[int(rng.integers(len(POOL)))]
        keep = layer.activation.is_softmax or (
            number == network.depth
            and network.loss.name == "binary_cross_entropy"
            and name in UNBOUNDED_FOR_BCE
        )
        if not keep:
            layer = dataclasses.replace(layer, activation=activation(name))
        layers.append(layer)
    return dataclasses.replace(network, layers=tuple(layers))


def parse_kinds(text: str, where: str = "--ask") -> tuple[Kind, ...]:
    """KIND,KIND,... checked against KINDS (one line naming the bad one otherwise)."""
    out: list[Kind] = []
    for word in text.split(","):
        word = word.strip()
        match = next((k for k in KINDS if k == word), None)
        if match is None:
            raise SymbackpropError(f"{where}: unknown kind {word!r} (known: {', '.join(KINDS)})")
        if match not in out:
            out.append(match)
    return tuple(out)


def make(
    network: Network,
    seed: int | None = None,
    view: View = "index",
    kinds: tuple[Kind, ...] = KINDS,
) -> Exercise:
    """The exercise on `network` (its variant when `seed` is given): one question for each
    equation of a concrete layer, L down to 1, of the asked kinds in `view`."""
    check_dense(network)
    net = network if seed is None else variant(network, seed)
    derivation = derive(net)
    if view not in derivation.views:
        raise SymbackpropError(
            f"view {view!r}: this network has none (a softmax output has no one-neuron chain); "
            f"use {' or '.join(derivation.views)}"
        )
    questions: list[Question] = []
    for layer in reversed(derivation.layers):
        for eq in layer.view(view):
            if eq.kind in kinds:
                questions.append(Question(len(questions) + 1, eq, latex(eq.lhs)))
    if not questions:
        raise SymbackpropError(
            f"no equation of kind {', '.join(kinds)} in the {view} view of {net.name}"
        )
    return Exercise(net, seed, view, kinds, tuple(questions))


def read_header(text: str, source: str) -> tuple[str, int | None, View, tuple[Kind, ...]] | None:
    """(network name, seed, view, kinds) from an answers file's header; None without one."""
    match = _HEADER.search(text[:4096])
    if match is None:
        return None
    line = 1 + text.count("\n", 0, match.start())
    view = match["view"]
    if view not in VIEWS:
        raise SymbackpropError(f"{source}:{line}: unknown view {view!r} in the header")
    kinds = parse_kinds(match["ask"], f"{source}:{line}: ask")
    seed = None if match["seed"] == "none" else int(match["seed"])
    return match["name"], seed, view, kinds


# ---------------------------------------------------------------- the documents

_PREAMBLE = (
    "\\documentclass[11pt]{article}\n"
    "\\usepackage[utf8]{inputenc}\n"
    "\\usepackage[T1]{fontenc}\n"
    "\\usepackage{amsmath,amssymb}\n"
    "\\usepackage[margin=2cm]{geometry}\n"
    "\\usepackage{adjustbox}\n"
    "\\usepackage{tikz}\n"
    "\\allowdisplaybreaks\n"
)


def _who(ex: Exercise) -> str:
    return "" if ex.seed is None else f" (sheet {ex.seed})"


def _network_section(ex: Exercise) -> list[str]:
    from ..diagram import overview
    from ..render import environment

    net = ex.network
    sizes = " \\to ".join(str(n) for n in net.sizes)
    lines = [
        "\\section*{The network}",
        f"Layer sizes ${sizes}$ (inputs first), loss \\texttt{{{tex_escape(net.loss.name)}}}; "
        "units are numbered from 1.",
        "\\begin{itemize}",
    ]
    for number, layer in enumerate(net.layers, start=1):
        act = layer.activation
        if act.is_softmax:
            formula = "$a_i = e^{z_i} / \\sum_{m} e^{z_m}$ (softmax)"
        else:
            assert act.expr is not None
            formula = f"$\\sigma(z) = {latex(act.expr)}$ (\\texttt{{{tex_escape(act.name)}}})"
        out = f" (the output, $L = {net.depth}$)" if number == net.depth else ""
        lines.append(f"  \\item Layer {number}{out}: {layer.units} units, {formula}.")
    lines.append("\\end{itemize}")
    drawing = environment().from_string(
        '<% import "derivation/diagram.tex.jinja" as dg %><< dg.tikz(d) >>'
    )
    lines += [
        "\\begin{center}",
        "\\begin{adjustbox}{max width=\\linewidth}",
        drawing.render(d=overview(net, latex)).strip(),
        "\\end{adjustbox}",
        "\\end{center}",
    ]
    derivation_layers = derive(net).layers
    given = [eq for ld in derivation_layers for eq in ld.forward if eq.view == ex.view]
    output = derivation_layers[-1].view(ex.view)
    given += [eq for eq in output if eq.kind == "loss"]
    if given:
        lines += ["The forward pass and the loss:", "\\begin{align*}"]
        rows = [f"{latex(eq.lhs)} &= {latex(eq.rhs[-1])}" for eq in given]
        lines += [" \\\\\n".join(rows), "\\end{align*}"]
    return lines


def worksheet(ex: Exercise) -> str:
    """The worksheet: the network, drawn and written out, and each question's left side."""
    name = tex_escape(ex.network.name)
    lines = [
        f"% symbackprop worksheet: {ex.header().removeprefix(HEADER).strip()}",
        _PREAMBLE.rstrip("\n"),
        "\\begin{document}",
        f"\\section*{{Back-propagation exercise: \\texttt{{{name}}}{_who(ex)}}}",
        *_network_section(ex),
        "\\section*{Questions}",
        "Work out each derivative below in the notation of the lecture, as a chain of steps. "
        "Write your answers in \\texttt{answers.tex}: each after its left side, one step a "
        "row (\\verb|&= ...| rows of the \\verb|align*|).",
        "\\begin{enumerate}",
    ]
    for q in ex.questions:
        lines.append(f"  \\item $\\displaystyle {q.lhs} = $ \\hrulefill\\par\\vspace{{2.2cm}}")
    lines += ["\\end{enumerate}", "\\end{document}", ""]
    return "\n".join(lines)


def _answers(ex: Exercise, solved: bool) -> str:
    name = tex_escape(ex.network.name)
    title = "Solutions" if solved else "Answers"
    lines = [
        ex.header(),
        "% Write each answer after its left side; more steps: end the row with \\\\ and go on",
        "% with &= on the next. Keep the % question lines: grade reads them.",
        _PREAMBLE.rstrip("\n"),
        "\\begin{document}",
        f"\\section*{{{title}: \\texttt{{{name}}}{_who(ex)}}}",
    ]
    for q in ex.questions:
        steps = q.steps if solved else ("",)
        first = f"{q.lhs} &= {steps[0]}".rstrip()
        rows = [f"{first} \\tag{{{q.number}}}", *(f"&= {s}" for s in steps[1:])]
        lines += [
            f"% question {q.number}",
            "\\begin{align*}",
            " \\\\\n".join(rows),
            "\\end{align*}",
        ]
    lines += ["\\end{document}", ""]
    return "\n".join(lines)


def answers(ex: Exercise) -> str:
    """The answers file a student fills in (each question's left side, then `&=`)."""
    return _answers(ex, solved=False)


def solutions(ex: Exercise) -> str:
    """The solutions: the answers file filled in with the derivation's steps (`grade` gives it
    full marks)."""
    return _answers(ex, solved=True)
