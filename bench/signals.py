"""SIGTERM and SIGINT: a run or sweep stops with its jobs recorded as interrupted and their rows kept.

The process that started the run or sweep exits 143 (SIGTERM) or 130 (SIGINT) with one line, after the worker
processes of a parallel launcher have recorded their jobs and ended. Inside a job the first signal raises, so the
job records itself; the job's last files are written whole whatever arrives while they are. joblib's executor
(loky) kills every worker once one of them ends, so no worker ends while another still records its job.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil

from bench import loading, plan, store

log = logging.getLogger("bench.run")

SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long a stopping sweep waits for its workers to record their jobs as interrupted.
WORKER_GRACE_S = 30.0


class Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into an exception so the job can record itself as interrupted."""


def interruption(signum: int) -> KeyboardInterrupt:
    """The exception a signal raises: KeyboardInterrupt for SIGINT (as Python does), Interrupted for SIGTERM."""
    return KeyboardInterrupt() if signum == signal.SIGINT else Interrupted(signal.Signals(signum).name)


def exit_code(error: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a process that a signal ended."""
    return 128 + (signal.SIGTERM if isinstance(error, Interrupted) else signal.SIGINT)


def describe(error: KeyboardInterrupt) -> str:
    """``interrupted by SIGTERM`` for a signal this module raised, else ``interrupted``."""
    return loading.interrupted(str(error) if isinstance(error, Interrupted) else "SIGINT")


class JobSignals:
    """SIGTERM and SIGINT while a job runs: the first one raises, so the job records itself as interrupted.

    Later signals wait, so that the job records itself whole; so do all signals once the job writes its last files
    (:meth:`hold`): the rows are written whole and run.json says how the job ended. A signal that waited is raised
    when the job is done, unless it is already stopping. The first signal is remembered (``received``): where a
    library swallowed what it raised, training raises it again at its next progress step
    (:meth:`watching`), or the job raises it when done; where a library turned it into another error, the
    job records itself as interrupted, not failed.
    """

    def __init__(self) -> None:
        self.armed, self.received, self.waiting, self.previous = True, 0, 0, {}

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.armed:
            self.armed, self.received = False, signum
            raise interruption(signum)
        self.waiting = self.waiting or signum

    def hold(self) -> None:
        self.armed = False

    def watching(self, progress: Callable[[int, int], None]) -> Callable[[int, int], None]:
        """Training's progress callback ``progress(done, total)``, first raising the signal that came if training
        still goes on: a library swallowed what the signal raised."""

        def report(done: int, total: int) -> None:
            if self.received:
                raise interruption(self.received)
            progress(done, total)

        return report

    def __enter__(self) -> JobSignals:
        # Signal handlers belong to the main thread; a launcher running jobs in threads keeps its own.
        if threading.current_thread() is threading.main_thread():
            self.previous = {signum: signal.signal(signum, self._handle) for signum in SIGNALS}
        return self

    def __exit__(self, error_type: type | None, *_: Any) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        if error_type is None and (self.received or self.waiting):
            raise interruption(self.received or self.waiting)


_stopping = 0  # the signal that stops the run or sweep, once one came


def _stop(signum: int, _frame: Any) -> None:
    global _stopping
    if _stopping:
        return  # already stopping: the workers are being waited for
    _stopping = signum
    stop_workers()
    raise interruption(signum)


def raise_if_stopping() -> None:
    """Raises the signal that came outside a job, before another job starts: a library may have swallowed it."""
    if _stopping:
        raise interruption(_stopping)


def stop_on_signals() -> None:
    """In the process that starts a run or sweep: on SIGTERM or SIGINT outside a job, first let the workers
    record their jobs as interrupted and end (:func:`stop_workers`), then raise."""
    for signum in SIGNALS:
        signal.signal(signum, _stop)


_worker_parent: int | None = None  # in a joblib worker: the process that started it


def prepare_worker(sweep_dir: Path) -> None:
    """In a joblib worker, at each job's start: the worker ends when the process that started it does
    (:func:`end_with_parent`), and a signal between two jobs ends it as :func:`end_worker` does."""

    def end_between_jobs(signum: int, _frame: Any) -> None:
        end_worker(128 + signum, sweep_dir)

    end_with_parent()
    for signum in SIGNALS:
        signal.signal(signum, end_between_jobs)


def end_worker(code: int, sweep_dir: Path) -> None:
    """Ends this joblib worker with exit status ``code``, once no other worker of the sweep has a job that says
    running (at most WORKER_GRACE_S); signals that come meanwhile are ignored, since the worker is ending.

    loky kills every worker (SIGKILL) as soon as one of them ends, so a worker that ended first would cut short the
    records that the others are still writing.
    """
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    deadline = time.monotonic() + WORKER_GRACE_S
    while time.monotonic() < deadline and _other_workers_running(sweep_dir):
        time.sleep(0.05)
    logging.shutdown()
    os._exit(code)


def _other_workers_running(sweep_dir: Path) -> bool:
    if _worker_parent is None or os.getppid() != _worker_parent:
        return False  # the process that started the workers has ended, and its loky with it: nothing kills them
    try:
        others = {child.pid for child in psutil.Process(_worker_parent).children()} - {os.getpid()}
        folders = [child for child in sweep_dir.iterdir() if child.is_dir()]
    except (psutil.Error, OSError):
        return False
    return bool(others & _running_pids(folders))


def end_with_parent(poll_s: float = 1.0) -> None:
    """In a worker process: SIGTERM to itself once the process that started it has ended.

    That process holds the folder's lock; killed without a chance to stop its workers (SIGKILL), it would leave
    them writing into a folder that the next sweep may already own. Their jobs are recorded as interrupted instead.
    """
    global _worker_parent
    if _worker_parent is not None:
        return
    _worker_parent = parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def stop_workers() -> None:
    """Asks every process this one started to stop (SIGTERM) and waits for those running a job of the plan.

    Workers running a job are asked first: a worker that ends has loky kill the others (SIGKILL), so the others
    are asked only once those jobs are recorded. Workers record their job as interrupted and exit; a worker that
    has not ended after WORKER_GRACE_S is killed. Processes that ignore SIGTERM and run no job (joblib's resource
    tracker) are left to end with us.
    """
    children = psutil.Process().children(recursive=True)
    busy = [child for child in children if child.pid in _plan_running_pids()]
    _ask_to_stop(busy)
    _wait_for(busy)
    rest = [child for child in children if child not in busy]
    _ask_to_stop(rest)
    # a worker that took a job meanwhile records it too
    _wait_for([child for child in rest if child.pid in _plan_running_pids()])


def _ask_to_stop(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            continue


def _wait_for(workers: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(workers, timeout=WORKER_GRACE_S)
    for worker in alive:
        log.warning("worker %d has not recorded its job within %.0f s; killed", worker.pid, WORKER_GRACE_S)
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.kill()


def _plan_running_pids() -> set[int]:
    jobs = plan.current().jobs if plan.current() else []
    return _running_pids(job.folder for job in jobs)


def _running_pids(folders: Iterable[Path]) -> set[int]:
    """The processes on this host that the run.json files of ``folders`` name as running a job."""
    records = (store.read_run(folder) or {} for folder in folders)
    return {r.get("pid") for r in records if r.get("status") == store.RUNNING and r.get("host") == socket.gethostname()}
