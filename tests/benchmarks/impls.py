"""Every implementation of one training step behind one interface, for the benchmark workers.

An implementation is made from a network, initial parameters, X and Y; `step(lr)` performs one
full SGD step (forward, loss, gradients, update of every parameter) and returns the loss before
it; `params()` returns the current parameters as NumPy arrays. PyTorch and JAX are imported
only by their own implementations (optional extras: `pip install -e ".[bench]"`).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from .handopt import GemmOnly, HandOptimised, naive_step
from .nets import Net

Params = dict[str, np.ndarray]
THREADS = int(os.environ.get("SYMBACKPROP_BENCH_THREADS", "2"))


class Impl(Protocol):
    def step(self, lr: float) -> float: ...

    def params(self) -> Params: ...


class NumPyStep:
    """A NumPy step function applied in place to copies of the parameters."""

    def __init__(
        self, fn: Callable[[Params, np.ndarray, np.ndarray, float], float], params: Params, X, Y
    ) -> None:  # type: ignore[no-untyped-def]
        self.fn, self.X, self.Y = fn, X, Y
        self.state = {k: v.copy() for k, v in params.items()}

    def step(self, lr: float) -> float:
        return self.fn(self.state, self.X, self.Y, lr)

    def params(self) -> Params:
        return self.state


def load_generated(path: str | Path) -> ModuleType:
    """Import a generated module from its file (without importing symbackprop)."""
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TorchStep:
    """PyTorch eager autograd (or torch.compile of forward + loss), update with one foreach op."""

    def __init__(self, net: Net, params: Params, X, Y, *, compile: bool = False) -> None:  # type: ignore[no-untyped-def]
        import torch

        torch.set_num_threads(THREADS)
        self.torch = torch
        self.keys = list(params)
        self.tensors = [torch.tensor(params[k]).requires_grad_() for k in self.keys]
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)
        self.net = net
        self.loss = torch.compile(self._loss) if compile else self._loss

    def _loss(self, tensors: list[Any], X: Any, Y: Any) -> Any:
        torch = self.torch
        a = X
        for i, act in enumerate(self.net.activations):
            z = torch.nn.functional.linear(a, tensors[2 * i], tensors[2 * i + 1])
            if act == "softmax":
                return -(Y * torch.log_softmax(z, dim=1)).sum() / X.shape[0]
            a = torch.sigmoid(z) if act == "sigmoid" else torch.tanh(z) if act == "tanh" else z
        return ((a - Y) ** 2).sum() / X.shape[0]

    def step(self, lr: float) -> float:
        for t in self.tensors:
            t.grad = None
        value = self.loss(self.tensors, self.X, self.Y)
        value.backward()
        with self.torch.no_grad():
            self.torch._foreach_add_(self.tensors, [t.grad for t in self.tensors], alpha=-lr)
        return float(value.item())

    def params(self) -> Params:
        return {k: t.detach().numpy().copy() for k, t in zip(self.keys, self.tensors, strict=True)}


class JaxStep:
    """JAX: jit(value_and_grad(loss)) with the update inside the compiled step, buffers donated."""

    def __init__(self, net: Net, params: Params, X, Y) -> None:  # type: ignore[no-untyped-def]
        import jax
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        self.jax, self.net = jax, net
        self.keys = list(params)
        self.state = [jnp.asarray(params[k]) for k in self.keys]
        self.X, self.Y = jnp.asarray(X), jnp.asarray(Y)

        def loss(tensors: list[Any], X: Any, Y: Any) -> Any:
            a = X
            for i, act in enumerate(net.activations):
                z = a @ tensors[2 * i].T + tensors[2 * i + 1]
                if act == "softmax":
                    return -jnp.sum(Y * jax.nn.log_softmax(z, axis=1)) / X.shape[0]
                a = jax.nn.sigmoid(z) if act == "sigmoid" else jnp.tanh(z) if act == "tanh" else z
            return jnp.sum((a - Y) ** 2) / X.shape[0]

        def step(tensors: list[Any], X: Any, Y: Any, lr: Any) -> Any:
            value, grads = jax.value_and_grad(loss)(tensors, X, Y)
            return value, [t - lr * g for t, g in zip(tensors, grads, strict=True)]

        self._step = jax.jit(step, donate_argnums=0)

    def step(self, lr: float) -> float:
        value, self.state = self._step(self.state, self.X, self.Y, lr)
        return float(value)

    def params(self) -> Params:
        return {k: np.asarray(t).copy() for k, t in zip(self.keys, self.state, strict=True)}


IMPLEMENTATIONS = (
    "generated",
    "hand_optimised",
    "hand_optimised_exp",
    "naive",
    "torch_eager",
    "torch_compile",
    "jax_jit",
    "gemm_only",
)
OPTIONAL = {"torch_eager": "torch", "torch_compile": "torch", "jax_jit": "jax"}


def available(name: str) -> bool:
    """Whether an implementation's framework is installed."""
    needs = OPTIONAL.get(name)
    return needs is None or importlib.util.find_spec(needs) is not None


def make(name: str, net: Net, params: Params, X, Y, module: str | None = None) -> Impl:  # type: ignore[no-untyped-def]
    """The implementation `name` for this network and data (module: the generated file)."""
    if name == "generated":
        assert module is not None
        return NumPyStep(load_generated(module).sgd_step, params, X, Y)
    if name == "hand_optimised":
        return NumPyStep(HandOptimised(net).step, params, X, Y)
    if name == "hand_optimised_exp":
        return NumPyStep(HandOptimised(net, exp_sigmoid=True).step, params, X, Y)
    if name == "naive":
        return NumPyStep(lambda p, x, y, lr: naive_step(net, p, x, y, lr), params, X, Y)
    if name == "gemm_only":
        return NumPyStep(GemmOnly(net).step, params, X, Y)
    if name in ("torch_eager", "torch_compile"):
        return TorchStep(net, params, X, Y, compile=name == "torch_compile")
    if name == "jax_jit":
        return JaxStep(net, params, X, Y)
    raise ValueError(f"unknown implementation {name!r}")
