"""The errors symbackprop reports to people: one line each, mapped to exit status 2 by the CLI."""

from __future__ import annotations


class SymbackpropError(Exception):
    """Input that symbackprop cannot accept; the message is one line, ready to print."""


class SpecError(SymbackpropError):
    """A network spec that is malformed: the message names the file and field."""


class TextError(SymbackpropError):
    """Text a person typed (an expression, an equation) that cannot be read: a one-line
    `message`, the `text`, and the 0-based `offset` of the problem in it (None: no position).
    `caret()` shows the line holding the problem with a '^' under it; the one class that
    draws carets, for expressions, equations and gd's EXPR alike."""

    #: Read the text as one line (line breaks shown as spaces), as an expression's columns are.
    one_line = False

    def __init__(self, message: str, text: str = "", offset: int | None = None) -> None:
        super().__init__(message, text, offset)  # all three, so that it pickles
        self.message = message
        self.text = text
        self.offset = offset

    def __str__(self) -> str:
        return self.message

    @property
    def _lines(self) -> str:
        return self.text.replace("\r", " ").replace("\n", " ") if self.one_line else self.text

    @property
    def line(self) -> int:
        """The 1-based line of the problem."""
        return 1 + self._lines.count("\n", 0, self.offset or 0)

    @property
    def column(self) -> int | None:
        """The 0-based column of the problem on its line, or None without a position."""
        if self.offset is None:
            return None
        return self.offset - (self._lines.rfind("\n", 0, self.offset) + 1)

    def where(self) -> str:
        """'line 2, column 7: ' (1-based), or '' without a position."""
        if self.column is None:
            return ""
        return f"line {self.line}, column {self.column + 1}: "

    def caret(self) -> str:
        """The line holding the problem and a '^' under its column; '' without a position."""
        if self.offset is None or self.column is None:
            return ""
        text = self._lines
        start = text.rfind("\n", 0, self.offset) + 1
        end = text.find("\n", self.offset)
        line = text[start : len(text) if end < 0 else end]
        shown = "".join(c if c.isprintable() and not c.isspace() else " " for c in line)
        return f"{shown}\n{' ' * self.column}^"

    def caret_lines(self, indent: str = "  ") -> str:
        """caret() as lines to print after the message, each indented; '' without one."""
        return "".join(f"\n{indent}{line}" for line in self.caret().splitlines())
