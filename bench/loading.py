"""SIGINT and SIGTERM while a command loads its libraries, which takes seconds (pandas, matplotlib, TensorFlow).

Nothing is written before the libraries are loaded, so the process ends at once with its one line and the shell's
status (128 + the signal's number), without unwinding: a KeyboardInterrupt raised inside an import can be
swallowed by a library's ``except:``, or turned into a RuntimeError by a class body, and the command would go on as
if nothing had happened. Each command puts its own handlers in place once it starts working.

This module imports only the standard library, so it can be imported before everything else.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def interrupted(name: str) -> str:
    """How a run or sweep says a signal ended it: ``interrupted`` for SIGINT (Ctrl-C), ``interrupted by SIGTERM``."""
    return "interrupted" if name == "SIGINT" else f"interrupted by {name}"


def end_at_once_on_signals(line: Callable[[str], str]) -> None:
    """Until other handlers replace these, SIGINT or SIGTERM prints ``line(name)`` (name: ``SIGINT`` or
    ``SIGTERM``) on stderr and ends the process with status 128 + the signal's number."""

    def end(signum: int, _frame: object) -> None:
        print(line(signal.Signals(signum).name), file=sys.stderr)
        sys.stderr.flush()
        os._exit(128 + signum)

    for signum in SIGNALS:
        signal.signal(signum, end)
