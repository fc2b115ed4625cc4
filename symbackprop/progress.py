"""Progress lines for long runs: drawn in place on a terminal, silent in pipes and under CI."""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import IO

#: What long computations call as they go: report(what, done, total), e.g. ("epoch", 3, 100).
Report = Callable[[str, int, int], None]

_BAR_WIDTH = 30
_INTERVAL_S = 0.1


def on_terminal(stream: IO[str]) -> bool:
    """Whether progress belongs on `stream`: it is a terminal and the CI variable is not set."""
    if os.environ.get("CI"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _columns(stream: IO[str]) -> int:
    """The width of the terminal behind `stream` (at least 20); COLUMNS, if set, wins."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = 0
    if columns <= 0 or os.environ.get("COLUMNS"):  # unknown (a new pseudo-terminal) or set
        columns = shutil.get_terminal_size().columns
    return max(columns, 20)


class Progress:
    """`what 37/100 [#####.....] note` redrawn in place at most 10 times a second.

    It draws only when its stream (stderr by default) is a terminal and CI is not set; otherwise
    every call does nothing. `keep` leaves the last line on screen when closed, else erases it.
    """

    def __init__(self, stream: IO[str] | None = None, *, keep: bool = True) -> None:
        chosen = sys.stderr if stream is None else stream
        self.stream = chosen if on_terminal(chosen) else None
        self.keep = keep
        self.columns = _columns(self.stream) - 1 if self.stream is not None else 0
        self.what = ""
        self.last = -math.inf
        self.drawn = 0  # characters on the line now

    def __call__(self, what: str, done: int, total: int, note: str = "") -> None:
        """Report `done` of `total`; drawn when `what` changes, when done, or every 0.1 s."""
        if self.stream is None:
            return
        now = time.monotonic()
        if what == self.what and done < total and now - self.last < _INTERVAL_S:
            return
        self.what, self.last = what, now
        filled = _BAR_WIDTH * min(done, total) // total if total > 0 else _BAR_WIDTH
        bar = "#" * filled + "." * (_BAR_WIDTH - filled)
        line = f"{what} {done:>{len(str(total))}}/{total} [{bar}]" + (f" {note}" if note else "")
        line = line[: self.columns]
        self.stream.write("\r" + line.ljust(self.drawn))
        self.stream.flush()
        self.drawn = len(line)

    def close(self) -> None:
        """End the line (or erase it when not `keep`), so that what follows starts afresh."""
        if self.stream is None or not self.drawn:
            return
        self.stream.write("\n" if self.keep else "\r" + " " * self.drawn + "\r")
        self.stream.flush()
        self.what, self.last, self.drawn = "", -math.inf, 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
