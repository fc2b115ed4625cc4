"""The errors symbackprop reports to people: one line each, mapped to exit status 2 by the CLI."""

from __future__ import annotations


class SymbackpropError(Exception):
    """Input that symbackprop cannot accept; the message is one line, ready to print."""


class SpecError(SymbackpropError):
    """A network spec that is malformed: the message names the file and field."""
