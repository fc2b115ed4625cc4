"""Optimisers beyond plain SGD, each defined once as SymPy update rules (rules.py, PyTorch's
conventions): compiled for `gd --method` (numeric.py), printed as a sheet (sheet.py) and as the
generated module's optimizer_step (codegen.py)."""

from __future__ import annotations

from .rules import OPTIMIZERS, Hyper, Optimizer, State, Update, optimizer

__all__ = ["OPTIMIZERS", "Hyper", "Optimizer", "State", "Update", "optimizer"]
