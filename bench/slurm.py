"""Waiting for a sweep's Slurm job array, with or without Slurm accounting, and naming the jobs that did not finish.

hydra-submitit-launcher waits for each task in turn through ``sacct``. Without Slurm accounting (common on small
clusters) ``sacct`` fails and submitit relies on result files alone, so a task that Slurm cancels or times out
leaves the sweep waiting for ever; with accounting, the first such task ends the sweep with a traceback while the
later tasks run on unwatched. The ``slurm`` preset's launcher (``hydra_plugins/bench_launchers/slurm.py``) submits
the same array and waits here instead: it reads the tasks' states from ``squeue``, which needs no accounting and
still lists a finished task for MinJobAge (300 s by default), until none is pending or running, then reads each
task's result file. Tasks that ended without one are named, with their Slurm state, in one line.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

# Slurm's states of a task that has ended (squeue --states=all lists them for MinJobAge), and ENDED for a task that
# squeue no longer lists, its last state unseen.
ENDED = set("COMPLETED CANCELLED FAILED TIMEOUT NODE_FAIL PREEMPTED OUT_OF_MEMORY BOOT_FAIL DEADLINE ENDED".split())
# A task that ran to its end wrote its result file first; on a shared file system it may take a moment to show here.
# A task that Slurm killed (cancelled, timed out, out of memory) has none to wait for.
MAY_HAVE_RESULT = {"COMPLETED", "FAILED", "ENDED"}
RESULT_GRACE_S = 15.0
MAX_POLL_S = 30.0


class SweepError(Exception):
    """A sweep whose jobs could not all run to their end, as the one line ``bench.run`` prints before exit 1."""


def queue_states(array_ids: Sequence[str]) -> dict[str, str] | None:
    """Slurm state of every task of these arrays that Slurm still knows (``<array>_<task>``: state).

    None when squeue itself failed (the controller did not answer); an empty dict when it no longer knows them.
    """
    command = ["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T", f"--jobs={','.join(array_ids)}"]
    try:
        shown = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("squeue failed (%s); trying again", error)
        return None
    if shown.returncode:
        if "Invalid job id" in shown.stderr:
            return {}
        log.warning("squeue failed (%s); trying again", shown.stderr.strip())
        return None
    states = {}
    for line in shown.stdout.splitlines():
        task, _, state = line.strip().partition("|")
        if task:
            states[task] = state.split()[0] if state else "UNKNOWN"
    return states


def wait_until_ended(jobs: Sequence[Any]) -> dict[str, str]:
    """Waits until every task has a result file or has ended in Slurm; returns each task's last state seen.

    ``jobs`` are submitit's SlurmJob objects of one sweep (``job_id`` like ``1234_5``, ``paths.result_pickle``).
    Polls squeue at once, then every twentieth of the time waited (2 s to 30 s apart), and looks for result files every
    second in between. A task that squeue no longer lists has ended ("ENDED" when its state was never seen).
    """
    array_ids = sorted({job.job_id.split("_")[0] for job in jobs})
    states: dict[str, str] = {}
    started = next_poll = time.monotonic()
    while not all(job.paths.result_pickle.exists() for job in jobs):
        now = time.monotonic()
        if now >= next_poll:
            seen = queue_states(array_ids)
            if seen is not None:
                for job in jobs:
                    ended_before = states.get(job.job_id) in ENDED
                    states[job.job_id] = seen.get(job.job_id) or (states[job.job_id] if ended_before else "ENDED")
                if all(state in ENDED for state in states.values()):
                    break
            next_poll = now + min(MAX_POLL_S, max(2.0, (now - started) / 20))
        time.sleep(1)
    return states


def collect(jobs: Sequence[Any], job_overrides: Sequence[Sequence[str]], first_num: int) -> list[Any]:
    """The JobReturn of every task once all have ended, or SweepError naming each job that ended without a result.

    A job ended without a result when its task has no result file (after up to ``RESULT_GRACE_S`` for one when
    its state says it may have written one), or when submitit caught an error around the job (its result file
    holds "error" and a traceback).
    """
    from submitit.core.utils import FailedJobError

    states = wait_until_ended(jobs)
    grace_ends = time.monotonic() + RESULT_GRACE_S
    returns, lost, failed = [], [], []
    for num, job, what in zip(range(first_num, first_num + len(jobs)), jobs, swept(job_overrides), strict=True):
        state = states.get(job.job_id, "ENDED")
        while state in MAY_HAVE_RESULT and not job.paths.result_pickle.exists() and time.monotonic() < grace_ends:
            time.sleep(1)
        if not job.paths.result_pickle.exists():
            lost.append(f"job {num}{what}: Slurm task {job.job_id} {state}")
            continue
        try:
            returned = job.results()[0]
        except FailedJobError as error:
            lost.append(f"job {num}{what}: Slurm task {job.job_id} raised {last_exception(str(error))}")
            continue
        returns.append(returned)
        if failed_by_itself(returned):
            failed.append(f"job {num}{what}")
    if lost:
        # The sweep ends here, before the end-of-sweep check that would name the jobs that failed by themselves.
        also = f" Failed by themselves: {', '.join(failed)} (see their run.json)." if failed else ""
        raise SweepError(
            f"{len(lost)} of {len(jobs)} job(s) ended without a result: {'; '.join(lost)}.{also} "
            f"Logs: {jobs[0].paths.folder.parent}. Run the same command again to run them again."
        )
    return returns


def failed_by_itself(returned: Any) -> bool:
    """Whether a job's JobReturn is bench.run's record of a failed job (it returns ``{"status": ...}``)."""
    from hydra.core.utils import JobStatus

    if returned.status is not JobStatus.COMPLETED:
        return False
    value = returned.return_value
    return isinstance(value, dict) and value.get("status") == "failed"


def swept(job_overrides: Sequence[Sequence[str]]) -> list[str]:
    """Each job's overrides that differ between the jobs, as `` (key=value ...)`` (empty when none differ)."""
    differing = {
        override.split("=", 1)[0]
        for override in {o for overrides in job_overrides for o in overrides}
        if sum(override in overrides for overrides in job_overrides) < len(job_overrides)
    }
    described = []
    for overrides in job_overrides:
        shown = [override for override in overrides if override.split("=", 1)[0] in differing]
        described.append(f" ({' '.join(shown)})" if shown else "")
    return described


def last_exception(failure: str) -> str:
    """The exception line of the traceback in submitit's FailedJobError text."""
    lines = [line for line in failure.splitlines() if line.strip()]
    rules = [i for i, line in enumerate(lines) if set(line.strip()) == {"-"}]
    return lines[rules[1] - 1].strip() if len(rules) >= 2 else lines[-1].strip()
