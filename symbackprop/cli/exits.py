"""The exit statuses of every symbackprop command, in one table.

The README's "Exit codes" section lists exactly these (tests/test_startup.py checks it), and the
help epilogs are written from `status_line`.
"""

from __future__ import annotations

EXIT_OK = 0
#: A check failed: a gradient off, a self-check disagreement, an equation that does not hold or
#: does not apply to the network, gradient descent diverging.
EXIT_FAILED = 1
#: Bad input: reported in one line, nothing written.
EXIT_BAD_INPUT = 2
#: Ctrl-C (128 + SIGINT, what a shell reports).
EXIT_INTERRUPTED = 130
#: The reader of standard output went away (128 + SIGPIPE): stopped quietly.
EXIT_BROKEN_PIPE = 141

#: Each status and the words that open its meaning, here, in the help and in the README.
MEANINGS: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_FAILED: "a check failed",
    EXIT_BAD_INPUT: "bad input",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_BROKEN_PIPE: "broken pipe",
}


def status_line(ok: str = MEANINGS[EXIT_OK], failed: str | None = MEANINGS[EXIT_FAILED]) -> str:
    """'Exit status: 0 done, 1 a check failed, 2 bad input.' for a help epilog; a command says
    what 0 and 1 mean for it, and `failed=None` leaves 1 out for one that never fails a check."""
    parts = [f"{EXIT_OK} {ok}"]
    if failed is not None:
        parts.append(f"{EXIT_FAILED} {failed}")
    parts.append(f"{EXIT_BAD_INPUT} {MEANINGS[EXIT_BAD_INPUT]}")
    return f"Exit status: {', '.join(parts)}."
