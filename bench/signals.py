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
import threading
import time
from collections.abc import Callable, Iterable, Iterator
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


def ignore_from_now() -> None:
    """Ignores SIGTERM and SIGINT: the process is ending, and says how once it has recorded its jobs."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@contextlib.contextmanager
def ending() -> Iterator[None]:
    """While the command records how it ended and says so, SIGTERM and SIGINT are ignored; after that, they end
    it at once and silently, should the libraries' clean-up hang."""
    ignore_from_now()
    try:
        yield
    finally:
        for signum in SIGNALS:
            signal.signal(signum, signal.SIG_DFL)


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
    records that the others are still writing. The signal goes on to the process that started the sweep, so that
    a worker stopped on its own (``kill <pid>``) stops the sweep in order; that process ignores it if it is
    stopping already.
    """
    ignore_from_now()
    if _worker_parent is not None and os.getppid() == _worker_parent:
        with contextlib.suppress(OSError):
            os.kill(_worker_parent, code - 128)
    _wait_for_other_workers(sweep_dir)
    logging.shutdown()
    os._exit(code)


def _wait_for_other_workers(sweep_dir: Path) -> None:
    """Waits until no job folder of ``sweep_dir`` says running in another live worker of this worker's parent.

    The folders are all read again only once those last seen running are done, so that a sweep of many jobs costs
    little to watch.
    """
    deadline = time.monotonic() + WORKER_GRACE_S
    while time.monotonic() < deadline:
        busy = [folder for folder in _job_folders(sweep_dir) if _running_in_other_worker(folder)]
        if not busy:
            return
        while busy and time.monotonic() < deadline:
            time.sleep(0.1)
            busy = [folder for folder in busy if _running_in_other_worker(folder)]


def _job_folders(sweep_dir: Path) -> list[Path]:
    try:
        return [child for child in sweep_dir.iterdir() if child.is_dir()]
    except OSError:
        return []


def _running_in_other_worker(folder: Path) -> bool:
    if _worker_parent is None or os.getppid() != _worker_parent:
        return False  # the process that started the workers has ended, and its loky with it: nothing kills them
    record = store.read_run(folder)
    if not plan.running_here(record):
        return False
    try:
        others = {child.pid for child in psutil.Process(_worker_parent).children()} - {os.getpid()}
    except psutil.Error:
        return False
    return record.get("pid") in others


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
    """Asks the processes this one started to stop (SIGTERM) and waits until no job of the plan says running.

    Each worker records its job as interrupted and ends once the others have recorded theirs (:func:`end_worker`);
    one between two jobs ends without starting another. A worker whose job is not recorded within WORKER_GRACE_S is
    killed; one that has recorded its job but not ended within a few seconds too. Processes that ignore SIGTERM and
    run no job (joblib's resource tracker) are left to end with us.
    """
    asked: dict[int, psutil.Process] = {}
    recording: dict[int, psutil.Process] = {}
    deadline = time.monotonic() + WORKER_GRACE_S
    while True:
        children = {child.pid: child for child in psutil.Process().children(recursive=True) if _alive(child)}
        _ask_to_stop([child for pid, child in children.items() if pid not in asked])
        asked.update(children)
        running = _running_pids(job.folder for job in (plan.current().jobs if plan.current() else []))
        unrecorded = [child for pid, child in children.items() if pid in running]
        recording.update((worker.pid, worker) for worker in unrecorded)
        if not unrecorded or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for worker in unrecorded:
        log.warning("worker %d has not recorded its job within %.0f s; killed", worker.pid, WORKER_GRACE_S)
    _, lingering = psutil.wait_procs(list(recording.values()), timeout=0 if unrecorded else 5)
    for worker in lingering:
        with contextlib.suppress(psutil.NoSuchProcess):
            worker.kill()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _ask_to_stop(processes: list[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGTERM)


def _running_pids(folders: Iterable[Path]) -> set[int]:
    """The processes on this host that the run.json files of ``folders`` name as running a job."""
    records = (store.read_run(folder) for folder in folders)
    return {record.get("pid") for record in records if plan.running_here(record)}
