"""Progress bars on a terminal (rich): one for the sweep's jobs, one for the current job's epochs.

Bars are drawn only when standard output is a terminal and the jobs run in this process (a single run, or a
sweep on Hydra's basic launcher); anywhere else (a file, a cluster job, CI, parallel workers) the caller logs
its progress lines instead. While the bars are live, log lines are printed above them.

Typical use: :func:`start_sweep` from the sweep callback, :func:`job_bar` at the start of each job, then
``bar.update(...)`` as epochs finish and ``bar.close()`` when the job ends, and :func:`end_sweep`.
"""

from __future__ import annotations

import atexit
import logging
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class _Live:
    """A live rich display and the log handlers it redirects above its bars."""

    def __init__(self, console: Console):
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TextColumn("elapsed,"),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=console,
        )
        self.sweep_task: Any = None
        self.jobs_done = 0
        self.progress.start()
        # a sweep that stops early (an error line, SystemExit) must not leave the terminal mid-display
        atexit.register(self.stop)
        # Logging handlers hold the real stdout; point them at rich's proxy so lines land above the bars.
        self.redirected = [
            (handler, handler.setStream(sys.stdout if handler.stream is sys.__stdout__ else sys.stderr))
            for handler in logging.getLogger().handlers
            if type(handler) is logging.StreamHandler and handler.stream in (sys.__stdout__, sys.__stderr__)
        ]

    def stop(self) -> None:
        for handler, stream in self.redirected:
            handler.setStream(stream)
        self.redirected = []
        self.progress.stop()


_live: _Live | None = None


def _terminal() -> Console | None:
    console = Console(file=sys.stdout)
    return console if console.is_terminal and not console.is_dumb_terminal else None


class JobBar:
    """The bar of one job's epochs; it also moves the sweep's bar by the job's share."""

    def __init__(self, live: _Live, description: str, epochs: int, owns_display: bool):
        self.live, self.owns_display = live, owns_display
        self.task = live.progress.add_task(description, total=epochs, status="")

    def update(self, done: int, total: int, status: str) -> None:
        progress = self.live.progress
        progress.update(self.task, completed=done, total=total, status=status)
        if self.live.sweep_task is not None:
            progress.update(self.live.sweep_task, completed=self.live.jobs_done + done / total)
        progress.refresh()

    def close(self) -> None:
        global _live
        self.live.progress.remove_task(self.task)
        if self.live.sweep_task is not None:
            self.live.jobs_done += 1
            self.live.progress.update(self.live.sweep_task, completed=self.live.jobs_done)
        if self.owns_display:
            self.live.stop()
            _live = None


def start_sweep(total_jobs: int) -> None:
    """Shows the sweep's bar when standard output is a terminal."""
    global _live
    console = _terminal()
    if console is None or _live is not None:
        return
    _live = _Live(console)
    _live.sweep_task = _live.progress.add_task("sweep", total=total_jobs, status="jobs")


def end_sweep() -> None:
    """Stops the sweep's bars, if any are drawn."""
    global _live
    if _live is not None:
        _live.stop()
        _live = None


def job_bar(description: str, epochs: int, in_sweep: bool) -> JobBar | None:
    """A bar for one job, or None when progress should be logged as lines instead.

    Args:
        description: the job's name on its bar.
        epochs: the job's epochs (the bar's total).
        in_sweep: the job belongs to a sweep; it gets a bar only under a sweep bar of this process.
    """
    global _live
    if _live is None:
        console = None if in_sweep else _terminal()
        if console is None:
            return None
        _live = _Live(console)
        return JobBar(_live, description, epochs, owns_display=True)
    return JobBar(_live, description, epochs, owns_display=False)
