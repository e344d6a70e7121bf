"""Processes of a test cluster: those that carry MARKER=<cluster folder> in their environment or hold a file in it.

Daemons get the marker from the cluster module, and what they start inherits it; a job submitted from a test
inherits it from the test's environment. A process that clears its environment (Slurm's slurmstepd) still holds
the cluster's log file open. That is how a cluster is stopped and checked whole: by the ids of its processes,
never by a program's name, so other clusters on the machine are left alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

MARKER = "BENCH_TEST_CLUSTER"


def carrying(folder: Path) -> list[psutil.Process]:
    """The running processes of the cluster in ``folder``, this process and its parents excluded."""
    own = {os.getpid(), *(parent.pid for parent in psutil.Process().parents())}
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid not in own and process.status() != psutil.STATUS_ZOMBIE:
                if process.environ().get(MARKER) == str(folder) or holds_a_file_in(process.pid, folder):
                    found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def holds_a_file_in(pid: int, folder: Path) -> bool:
    """Whether the process has a file under ``folder`` open (deleted ones included)."""
    prefix = f"{folder}/"
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor).startswith(prefix):
                return True
        except OSError:
            continue
    return False


def describe(processes: list[psutil.Process]) -> list[str]:
    """``pid name`` for each process still alive."""
    described = []
    for process in processes:
        try:
            described.append(f"{process.pid} {process.name()}")
        except psutil.NoSuchProcess:
            continue
    return described


def leftovers(folder: Path) -> list[str]:
    """``pid name`` of each process of the cluster in ``folder`` still running: empty once it is stopped."""
    return describe(carrying(folder.resolve()))


def parse_command_line(doc: str, *options: str) -> argparse.Namespace:
    """``start|stop FOLDER`` and the given flags, for the cluster modules run as scripts."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("folder", type=Path)
    for option in options:
        parser.add_argument(option, action="store_true")
    return parser.parse_args()


def exit_if_running(program: str, folder: Path) -> None:
    """Exits non-zero, naming them, if processes of the cluster in ``folder`` are still running."""
    left = leftovers(folder)
    if left:
        sys.exit(f"{program}: still running: {', '.join(left)}")


def end(processes: list[psutil.Process], grace_s: float) -> None:
    """SIGTERM, then SIGKILL for those still alive after ``grace_s``; waits for (and reaps) them all."""
    for process in processes:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=5)


def start(command: list[str], folder: Path, log: Path, env: dict[str, str] | None = None) -> psutil.Process:
    """Starts a daemon in the foreground of a session of its own, marked as the cluster's, output to ``log``."""
    environment = {**os.environ, **(env or {}), MARKER: str(folder)}
    with log.open("ab") as output:
        started = subprocess.Popen(
            command,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return psutil.Process(started.pid)


def wait_until(ready: Callable[[], bool], what: str, timeout_s: float, daemon: psutil.Process, log: Path) -> None:
    """Polls ``ready`` until it holds; fails with the end of ``log`` if the daemon exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        exited = not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE
        if exited or time.monotonic() > deadline:
            if exited:
                daemon.wait(timeout=5)  # reaps it
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
            state = "exited" if exited else f"not ready after {timeout_s:.0f} s"
            raise RuntimeError(f"{what} {state}; end of {log}:\n{tail}")
        time.sleep(0.1)
