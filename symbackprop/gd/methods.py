"""`gd --method`: several optimisers of symbackprop.optim from the same start on the same
function; a table per method, the iterations each took to reach the tolerance, one plot."""

from __future__ import annotations

import argparse
import sys

from ..cli.exits import EXIT_FAILED, EXIT_OK
from ..errors import SymbackpropError
from ..files import display_path
from ..optim.numeric import settings
from ..optim.rules import LR, optimizer
from .engine import MAX_STEPS, GDResult, check_settings, gradient_descent, parse_start, read_problem
from .plot import PLOT_ALL_STEPS, check_plot, matplotlib, plot_paths
from .report import comparison, summary, table

#: What --steps and --tol are with --method when not given.
STEPS, TOL = 1000, 1e-6
#: The most methods one comparison runs.
MAX_METHODS = 16

Method = tuple[str, dict[str, float]]


def parse_methods(text: str, flag: str = "--method") -> list[Method]:
    """--method NAME[:KEY=VALUE...],...: each optimiser with the hyper-parameters it sets,
    checked against its rule (unknown names and keys, values out of range: one line)."""
    methods: list[Method] = []
    for part in text.split(","):
        name, *pairs = (piece.strip() for piece in part.split(":"))
        opt = optimizer(name)
        options: dict[str, float] = {}
        for pair in pairs:
            key, sep, value = (piece.strip() for piece in pair.partition("="))
            if not sep:
                raise SymbackpropError(
                    f"{flag} {name}: malformed {pair!r}, expected KEY=VALUE such as lr=0.1"
                )
            try:
                options[key] = float(value)
            except ValueError:
                raise SymbackpropError(f"{flag} {name}: {key}={value!r} is not a number") from None
        settings(opt, options)  # bad keys and values fail here, before any work
        methods.append((name, options))
    if len(methods) > MAX_METHODS:
        raise SymbackpropError(f"--method lists {len(methods)} methods; at most {MAX_METHODS}")
    return methods


def label(result: GDResult) -> str:
    """A method and its hyper-parameters: adam (lr 0.1, beta1 0.9, ...)."""
    values = ", ".join(f"{key} {value:g}" for key, value in result.options)
    return f"{result.method} ({values})"


def short_label(result: GDResult) -> str:
    """A method, its learning rate and what it sets away from the defaults: momentum (lr 0.04)."""
    defaults = optimizer(result.method).defaults
    shown = [
        f"{key} {value:g}"
        for key, value in result.options
        if key == LR.name or value != defaults[key]
    ]
    return f"{result.method} ({', '.join(shown)})"


def compare(args: argparse.Namespace) -> int:
    """The `gd --method` command: 0 when done, 1 when one of the methods diverged."""
    if args.latex:
        raise SymbackpropError("--latex works out plain gradient descent; leave out --method")
    methods = parse_methods(args.method)
    steps = STEPS if args.steps is None else args.steps
    tol = TOL if args.tol is None else args.tol
    every = max(1, steps // 10) if args.every is None else args.every
    rates = [
        options.get(LR.name, args.lr if args.lr is not None else optimizer(name).defaults["lr"])
        for name, options in methods
    ]
    for rate in rates:
        check_settings(rate, steps, tol, every)
    if steps * len(methods) > MAX_STEPS:  # bounded time: as many steps as one plain descent
        raise SymbackpropError(
            f"--steps {steps} for {len(methods)} methods is {steps * len(methods):,} steps in all;"
            f" at most {MAX_STEPS:,}"
        )
    start = parse_start(args.start)
    if args.plot is not None:
        _, names, _ = read_problem(args.expr, start, args.var)
        check_plot(args.plot, len(names))
        matplotlib()
    keep = 1 if args.plot is not None and steps <= PLOT_ALL_STEPS else every
    results = []
    for (name, options), rate in zip(methods, rates, strict=True):
        result = gradient_descent(
            args.expr,
            start,
            rate,
            steps,
            tol,
            args.var,
            keep_every=keep,
            method=name,
            options=options,
        )
        results.append(result)
        rule = f"{label(result)}, the rule of `symbackprop optimizers {name}`"
        if len(results) > 1:
            sys.stdout.write("\n")
        sys.stdout.write(table(result, every, rule=rule, head=len(results) == 1))
        print(summary(result))
    sys.stdout.write("\n" + comparison(results))
    if args.plot is not None:
        plot_paths(results, args.plot, [short_label(result) for result in results])
        print(f"wrote {display_path(args.plot)}")
    diverged = any(result.stop == "diverging" for result in results)
    return EXIT_FAILED if diverged else EXIT_OK
