"""Running the project's commands as a user does, in a process of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil


def run_cli(*args: str, cwd: Path, module: str = "bench.run", timeout: float = 600) -> subprocess.CompletedProcess:
    """Runs ``python -m <module> args`` in ``cwd`` and returns the finished process with text output."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def alive(process: psutil.Process) -> bool:
    """Running, not ended: a killed process whose parent has ended may stay a zombie until the system reaps it."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
