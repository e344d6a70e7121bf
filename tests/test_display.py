"""Progress bars on a terminal, progress lines everywhere else."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys

import pytest
from rich.console import Console

from bench import display
from helpers.cli import run_cli
from helpers.configs import NO_XLA, QUICK

TWO_JOBS = ["-m", "model=forward,backward", *QUICK, NO_XLA]


def run_in_terminal(*args: str, cwd) -> tuple[int, str]:
    """Runs ``python -m bench.run args`` with a pseudo-terminal as stdout and stderr; returns (exit code, screen)."""
    main, secondary = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.run", *args], cwd=cwd, env=env, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    screen = b"".join(chunks).decode("utf-8", "replace")
    return process.wait(timeout=600), re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)  # without colours


@pytest.mark.slow
def test_a_sweep_on_a_terminal_draws_bars_for_the_sweep_and_each_job(tmp_path):
    code, screen = run_in_terminal(*TWO_JOBS, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert code == 0, screen[-2000:]
    assert "━" in screen  # rich's bar
    assert "sweep" in screen and "2/2" in screen and "jobs" in screen
    assert "job 2/2 | backward seed 0" in screen and "20/20" in screen and "left" in screen
    assert "| epoch 20/20 |" not in screen  # the bar replaces the progress lines
    assert "job 2/2 | backward seed 0 | completed" in screen  # log lines still show, above the bars


@pytest.mark.slow
def test_output_to_a_file_gets_progress_lines_and_no_bar(tmp_path):
    result = run_cli(*TWO_JOBS, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "job 2/2 | backward seed 0 | epoch 20/20 |" in result.stdout
    assert "━" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout  # no terminal control codes in a file


def test_a_single_run_on_a_terminal_gets_its_own_bar_and_a_sweep_job_elsewhere_gets_none(monkeypatch):
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120)
    monkeypatch.setattr(display, "_terminal", lambda: terminal)
    assert display.job_bar("job 1/2 | forward seed 0", 10, in_sweep=True) is None  # a worker of a parallel sweep
    bar = display.job_bar("forward seed 0", 10, in_sweep=False)
    bar.update(10, 10, "train loss 0.5000")
    bar.close()
    assert display._live is None  # the run's display ends with the run
    shown = screen.getvalue()
    assert "forward seed 0" in shown and "10/10" in shown and "train loss 0.5000" in shown

    monkeypatch.setattr(display, "_terminal", lambda: None)  # output to a file: no bar, the caller logs lines
    assert display.job_bar("forward seed 0", 10, in_sweep=False) is None
