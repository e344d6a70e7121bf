"""How the slurm preset waits for a job array (bench.slurm), with squeue's answers scripted: runs without Slurm.

submitit's own SlurmJob objects read real result files; only the squeue command is a script that prints what a
test wrote. tests/clusters/test_slurm.py runs the same code against a real Slurm cluster.
"""

from __future__ import annotations

import os
import stat

import pytest
from hydra.core.utils import JobReturn, JobStatus
from submitit.core.utils import cloudpickle_dump
from submitit.slurm.slurm import SlurmJob

from bench import slurm

# prints the answer on stdout, or on stderr with a non-zero status, as squeue does
SQUEUE = """#!/bin/sh
here="$(dirname "$0")"
if [ "$(cat "$here/status")" = 0 ]; then cat "$here/answer"; else cat "$here/answer" >&2; fi
exit "$(cat "$here/status")"
"""


@pytest.fixture
def squeue(tmp_path, monkeypatch):
    """Makes ``squeue`` print what the test passes (output, exit status)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "squeue"
    script.write_text(SQUEUE)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(slurm, "RESULT_GRACE_S", 0.5)

    def answer(output: str, status: int = 0) -> None:
        (bin_dir / "answer").write_text(output)
        (bin_dir / "status").write_text(str(status))

    return answer


def jobs_of(folder, array: str, count: int) -> list[SlurmJob]:
    return [SlurmJob(folder=folder / "%j", job_id=f"{array}_{task}", tasks=[0]) for task in range(count)]


def finish(job: SlurmJob, value: object) -> None:
    job.paths.result_pickle.parent.mkdir(parents=True, exist_ok=True)
    cloudpickle_dump(("success", value), job.paths.result_pickle)


def returned(value: object) -> JobReturn:
    """What a job of bench.run gives back through Hydra: a completed JobReturn holding main()'s return."""
    job_return = JobReturn()
    job_return.status = JobStatus.COMPLETED
    job_return.return_value = value
    return job_return


OVERRIDES = [["model=forward", "seed=0"], ["model=forward", "seed=1"], ["model=backward", "seed=0"]]


def test_jobs_that_slurm_ended_without_a_result_are_named_with_their_state(squeue, tmp_path):
    jobs = jobs_of(tmp_path, "41", 3)
    finish(jobs[1], returned({"status": "completed"}))
    squeue("41_0|CANCELLED\n41_1|COMPLETED\n41_2|TIMEOUT\n")
    with pytest.raises(slurm.SweepError) as raised:
        slurm.collect(jobs, OVERRIDES, first_num=0)
    assert str(raised.value) == (
        "2 of 3 job(s) ended without a result: "
        "job 0 (model=forward seed=0): Slurm task 41_0 CANCELLED; "
        "job 2 (model=backward seed=0): Slurm task 41_2 TIMEOUT. "
        f"Logs: {tmp_path}. Run the same command again to run them again."
    )


def test_jobs_that_failed_by_themselves_are_named_too_when_others_ended_without_a_result(squeue, tmp_path):
    jobs = jobs_of(tmp_path, "45", 3)
    finish(jobs[0], returned({"status": "completed"}))
    finish(jobs[1], returned({"status": "failed"}))
    squeue("45_0|COMPLETED\n45_1|COMPLETED\n45_2|OUT_OF_MEMORY\n")
    with pytest.raises(slurm.SweepError) as raised:
        slurm.collect(jobs, OVERRIDES, first_num=0)
    assert str(raised.value).startswith(
        "1 of 3 job(s) ended without a result: job 2 (model=backward seed=0): Slurm task 45_2 OUT_OF_MEMORY. "
        "Failed by themselves: job 1 (model=forward seed=1) (see their run.json). Logs: "
    )


def test_every_job_with_a_result_returns_it_in_order(squeue, tmp_path):
    jobs = jobs_of(tmp_path, "42", 3)
    for num, job in enumerate(jobs):
        finish(job, returned({"num": num}))
    squeue("", status=1)  # never asked: every result is there
    collected = slurm.collect(jobs, OVERRIDES, first_num=0)
    assert [job_return.return_value for job_return in collected] == [{"num": 0}, {"num": 1}, {"num": 2}]


def test_tasks_that_squeue_no_longer_knows_have_ended(squeue, tmp_path):
    jobs = jobs_of(tmp_path, "43", 2)
    finish(jobs[0], returned({"status": "completed"}))
    squeue("slurm_load_jobs error: Invalid job id specified\n", status=1)
    with pytest.raises(slurm.SweepError, match=r"1 of 2 job\(s\) .*: job 1 \(seed=1\): Slurm task 43_1 ENDED\."):
        slurm.collect(jobs, [["seed=0"], ["seed=1"]], first_num=0)


def test_a_failing_squeue_is_asked_again_not_taken_for_an_ended_task(squeue, tmp_path, monkeypatch):
    calls = []

    def queue_states(array_ids):
        calls.append(array_ids)
        return None if len(calls) == 1 else {"44_0": "FAILED"}

    monkeypatch.setattr(slurm, "queue_states", queue_states)
    (job,) = jobs_of(tmp_path, "44", 1)
    with pytest.raises(slurm.SweepError, match="Slurm task 44_0 FAILED"):
        slurm.collect([job], [["seed=0"]], first_num=5)
    assert calls == [["44"], ["44"]]


def test_queue_states_reads_one_line_per_task(squeue):
    squeue("7_0|RUNNING\n7_1|PENDING\n7_2|CANCELLED by 0\n")
    assert slurm.queue_states(["7"]) == {"7_0": "RUNNING", "7_1": "PENDING", "7_2": "CANCELLED"}
    squeue("", status=1)
    assert slurm.queue_states(["7"]) is None


def test_only_the_overrides_that_differ_name_a_job():
    assert slurm.swept(OVERRIDES) == [" (model=forward seed=0)", " (model=forward seed=1)", " (model=backward seed=0)"]
    assert slurm.swept([["model=forward", "seed=0"]]) == [""]
