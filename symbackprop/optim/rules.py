"""The optimisers' update rules, each defined once as SymPy assignments, as PyTorch computes them.

Every rule is a list of `Update`s run in order, each overwriting its target (w the parameter, g
its gradient, the state v, m, s, and local values such as m̂): the sheet of `symbackprop
optimizers`, the `gd --method` engine and the generated module's optimizer_step are all printed
or compiled from these expressions. Hyper-parameters are symbols with PyTorch's defaults
(torch.optim.SGD, Adagrad, RMSprop, Adam, AdamW, 2.x), `momentum` and `nesterov` being SGD with
momentum 0.9, without and with Nesterov's correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Expr, Symbol

#: The parameter (the lecture's w), its gradient ∂E/∂w and the step number t = 1, 2, ...
P = Symbol("p", real=True)
G = Symbol("g", real=True)
T = Symbol("t", integer=True, positive=True)
#: State kept between steps, one array per parameter.
V = Symbol("v", real=True)
M = Symbol("m", real=True)
S = Symbol("s", nonnegative=True)
#: Values computed within one step.
M_HAT = Symbol("m_hat", real=True)
S_HAT = Symbol("s_hat", nonnegative=True)
LR_T = Symbol("lr_t", positive=True)
#: Hyper-parameters, named as PyTorch's arguments (betas=(beta1, beta2)).
LR = Symbol("lr", positive=True)
MU = Symbol("momentum", nonnegative=True)
TAU = Symbol("dampening", nonnegative=True)
LAMBDA = Symbol("weight_decay", nonnegative=True)
BETA1 = Symbol("beta1", nonnegative=True)
BETA2 = Symbol("beta2", nonnegative=True)
EPS = Symbol("eps", positive=True)
ALPHA = Symbol("alpha", nonnegative=True)
KAPPA = Symbol("lr_decay", nonnegative=True)
S0 = Symbol("initial_accumulator_value", nonnegative=True)

#: How each symbol is written on the sheet: (LaTeX, text).
DISPLAY: dict[Symbol, tuple[str, str]] = {
    P: ("w", "w"),
    G: ("g", "g"),
    T: ("t", "t"),
    V: ("v", "v"),
    M: ("m", "m"),
    S: ("s", "s"),
    M_HAT: (r"\hat{m}", "m̂"),
    S_HAT: (r"\hat{s}", "ŝ"),
    LR_T: (r"\eta_t", "η_t"),
    LR: (r"\eta", "η"),
    MU: (r"\mu", "μ"),
    TAU: (r"\tau", "τ"),
    LAMBDA: (r"\lambda", "λ"),
    BETA1: (r"\beta_1", "β₁"),
    BETA2: (r"\beta_2", "β₂"),
    EPS: (r"\epsilon", "ε"),
    ALPHA: (r"\alpha", "α"),
    KAPPA: (r"\kappa", "κ"),
    S0: ("s_0", "s₀"),
}


@dataclass(frozen=True)
class Hyper:
    """A hyper-parameter: its symbol (named as PyTorch's argument), default and meaning."""

    symbol: Symbol
    default: float
    meaning: str

    @property
    def name(self) -> str:
        """The argument name, as PyTorch spells it (beta1, beta2 for its betas pair)."""
        return str(self.symbol.name)


@dataclass(frozen=True)
class State:
    """A state array kept per parameter between steps, and what it starts at (0 or a hyper)."""

    symbol: Symbol
    initial: Expr
    meaning: str

    @property
    def name(self) -> str:
        """Its key in the generated module's state dict."""
        return str(self.symbol.name)


@dataclass(frozen=True)
class Update:
    """One assignment of a step, `target ← expr`, tagged (adam.2) for the comments citing it."""

    tag: str
    target: Symbol
    expr: Expr


@dataclass(frozen=True)
class Optimizer:
    """An optimiser: its update rule as ordered assignments over w, g, t, its state and hypers."""

    name: str
    title: str
    torch: str
    note: str
    hypers: tuple[Hyper, ...]
    state: tuple[State, ...]
    updates: tuple[Update, ...]

    @property
    def defaults(self) -> dict[str, float]:
        """Hyper-parameter name -> default value."""
        return {h.name: h.default for h in self.hypers}

    @property
    def locals(self) -> tuple[Symbol, ...]:
        """Values an update assigns that are neither the parameter, the gradient nor state."""
        kept = {P, G, *(s.symbol for s in self.state)}
        return tuple(dict.fromkeys(u.target for u in self.updates if u.target not in kept))


def _rule(name: str, updates: list[tuple[Symbol, Expr]]) -> tuple[Update, ...]:
    """Tag the assignments name.1, name.2, ... in order."""
    return tuple(Update(f"{name}.{i}", target, expr) for i, (target, expr) in enumerate(updates, 1))


_LR = {"sgd": 1e-3, "adagrad": 1e-2, "rmsprop": 1e-2, "adam": 1e-3}
_DECAY = Hyper(LAMBDA, 0.0, "L2 penalty added to the gradient")


def _decay_step() -> tuple[Symbol, Expr]:
    """g ← g + λ w: torch's weight_decay, an L2 penalty λ w²/2 folded into the gradient."""
    with sympy.evaluate(False):
        return (G, G + LAMBDA * P)


def _sgd_family() -> list[Optimizer]:
    """torch.optim.SGD: plain, with (dampened) momentum, and Nesterov's momentum."""
    torch = "torch.optim.SGD"
    lr = Hyper(LR, _LR["sgd"], "learning rate")
    mu = Hyper(MU, 0.9, "momentum factor; torch's default, 0, is plain sgd")
    # torch.optim.SGD starts the buffer at the first gradient itself, undamped, hence t = 1
    with sympy.evaluate(False):  # kept as written, in the order the sheet prints
        buffer = sympy.Piecewise((G, sympy.Eq(T, 1)), (MU * V + (1 - TAU) * G, True))
        plain, heavy = P - LR * G, P - LR * V
        nesterov = [(V, MU * V + G), (G, G + MU * V), (P, P - LR * G)]
    velocity = State(V, sympy.S.Zero, "the momentum buffer (torch's momentum_buffer)")
    return [
        Optimizer(
            "sgd",
            "Stochastic gradient descent",
            f"{torch}(params, lr=1e-3, weight_decay=0)",
            "the lecture's update, with torch's optional weight decay",
            (lr, _DECAY),
            (),
            _rule("sgd", [_decay_step(), (P, plain)]),
        ),
        Optimizer(
            "momentum",
            "SGD with momentum",
            f"{torch}(params, lr=1e-3, momentum=0.9, dampening=0, weight_decay=0)",
            "the buffer is the first gradient at t = 1, as in torch",
            (lr, mu, Hyper(TAU, 0.0, "dampening of the gradient in the buffer"), _DECAY),
            (velocity,),
            _rule("momentum", [_decay_step(), (V, buffer), (P, heavy)]),
        ),
        Optimizer(
            "nesterov",
            "SGD with Nesterov momentum",
            f"{torch}(params, lr=1e-3, momentum=0.9, nesterov=True, weight_decay=0)",
            "torch's form: the step looks ahead along the buffer (dampening must be 0)",
            (lr, mu, _DECAY),
            (velocity,),
            _rule("nesterov", [_decay_step(), *nesterov]),
        ),
    ]


def _adaptive() -> list[Optimizer]:
    """Adagrad, RMSprop, Adam and AdamW, as torch.optim computes them."""
    eps8 = Hyper(EPS, 1e-8, "added to the root of s, for stability")
    square = State(S, sympy.S.Zero, "the running average of g squared (torch's exp_avg_sq)")
    first = State(M, sympy.S.Zero, "the running average of g (torch's exp_avg)")
    with sympy.evaluate(False):  # kept as written, in the order the sheet prints
        adam_steps: list[tuple[Symbol, Expr]] = [
            (M, BETA1 * M + (1 - BETA1) * G),
            (S, BETA2 * S + (1 - BETA2) * G**2),
            (M_HAT, M / (1 - BETA1**T)),
            (S_HAT, S / (1 - BETA2**T)),
            (P, P - LR * M_HAT / (sympy.sqrt(S_HAT) + EPS)),
        ]
        adagrad = [
            _decay_step(),
            (LR_T, LR / (1 + (T - 1) * KAPPA)),
            (S, S + G**2),
            (P, P - LR_T * G / (sympy.sqrt(S) + EPS)),
        ]
        rmsprop = [
            _decay_step(),
            (S, ALPHA * S + (1 - ALPHA) * G**2),
            (P, P - LR * G / (sympy.sqrt(S) + EPS)),
        ]
        decoupled = (P, P * (1 - LR * LAMBDA))
    betas = (
        Hyper(BETA1, 0.9, "decay of the average of g (torch's betas[0])"),
        Hyper(BETA2, 0.999, "decay of the average of g squared (torch's betas[1])"),
    )
    return [
        Optimizer(
            "adagrad",
            "Adagrad",
            "torch.optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,"
            " initial_accumulator_value=0, eps=1e-10)",
            "Duchi, Hazan and Singer (2011)",
            (
                Hyper(LR, _LR["adagrad"], "learning rate"),
                Hyper(KAPPA, 0.0, "learning-rate decay per step"),
                _DECAY,
                Hyper(S0, 0.0, "the value s starts at"),
                Hyper(EPS, 1e-10, "added to the root of s, for stability"),
            ),
            (State(S, S0, "the sum of every g squared so far (torch's sum)"),),
            _rule("adagrad", adagrad),
        ),
        Optimizer(
            "rmsprop",
            "RMSprop",
            "torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0)",
            "Hinton's lecture 6e (2012); torch's momentum and centered variants are not included",
            (
                Hyper(LR, _LR["rmsprop"], "learning rate"),
                Hyper(ALPHA, 0.99, "decay of s"),
                eps8,
                _DECAY,
            ),
            (State(S, sympy.S.Zero, "the running average of g squared (torch's square_avg)"),),
            _rule("rmsprop", rmsprop),
        ),
        Optimizer(
            "adam",
            "Adam",
            "torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)",
            "Kingma and Ba (2015), bias-corrected, eps added after the square root; amsgrad is"
            " not included",
            (Hyper(LR, _LR["adam"], "learning rate"), *betas, eps8, _DECAY),
            (first, square),
            _rule("adam", [_decay_step(), *adam_steps]),
        ),
        Optimizer(
            "adamw",
            "AdamW",
            "torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2)",
            "Loshchilov and Hutter (2019): the weight decay is decoupled from the gradient",
            (
                Hyper(LR, _LR["adam"], "learning rate"),
                *betas,
                eps8,
                Hyper(LAMBDA, 1e-2, "decoupled weight decay, applied to w directly"),
            ),
            (first, square),
            _rule("adamw", [decoupled, *adam_steps]),
        ),
    ]


#: Every optimiser, by name, in the order the sheet lists them.
OPTIMIZERS: dict[str, Optimizer] = {opt.name: opt for opt in [*_sgd_family(), *_adaptive()]}


def optimizer(name: str) -> Optimizer:
    """The optimiser called `name`; an unknown name is a one-line SymbackpropError."""
    from ..errors import SymbackpropError

    if name not in OPTIMIZERS:
        raise SymbackpropError(f"unknown optimizer {name!r} (known: {', '.join(OPTIMIZERS)})")
    return OPTIMIZERS[name]
