"""Jobs a sweep planned but never wrote, jobs still running, and job folders that cannot be read: each is listed in
problems.csv with its reason, and the rest is reported. Each test is named after a way a report used to go wrong."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from bench import collect, report, sweeps
from helpers.cli import run_cli
from helpers.configs import NO_XLA, QUICK
from helpers.results import run_record, write_job, write_sweep

FINALS = {"forward": {0: 0.80, 1: 0.84}, "backward": {0: 0.70, 1: 0.74}, "bidirectional-sum": {0: 0.9, 1: 0.93}}
# Hydra's record of `python -m bench.run -m model=forward,backward,bidirectional_sum n_seeds=2`, as much of it as
# the report reads: the sweep's overrides and how job folders are named.
MULTIRUN_YAML = """\
hydra:
  sweep:
    dir: {folder}
    subdir: ${{hydra.job.num}}
  sweeper:
    _target_: hydra._internal.core_plugins.basic_sweeper.BasicSweeper
    max_batch_size: null
    params: null
  overrides:
    hydra:
    - hydra.mode=MULTIRUN
    task:
    - model=forward,backward,bidirectional_sum
    - n_seeds=2
"""


def problems_of(sweep: Path) -> dict[str, tuple[str, str]]:
    """job folder name -> (kind, reason) of its whole-job problem."""
    rows = collect.collect([sweep]).problems
    return {Path(row.run_dir).name: (row.kind, row.reason) for row in rows.itertuples() if pd.isna(row.seed)}


@pytest.fixture
def sweep(tmp_path):
    folder = tmp_path / "sweep"
    write_sweep(folder, FINALS)
    (folder / "multirun.yaml").write_text(MULTIRUN_YAML.format(folder=folder))
    return folder


def hold_lock(sweep: Path) -> None:
    """Makes the sweep's lock name this (live) test process as its writer, as a sweep in progress would."""
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": "python -m bench.run -m ...",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (sweep / ".lock").write_text(json.dumps(holder))


def test_the_job_list_is_hydras_split_of_multirun_yaml(sweep):
    assert sweeps.planned_jobs(sweep) == [
        ["model=forward", "n_seeds=2"],
        ["model=backward", "n_seeds=2"],
        ["model=bidirectional_sum", "n_seeds=2"],
    ]


def test_a_job_that_never_ran_is_listed_as_missing(sweep):
    # a sweep stopped during job 1: job 1 interrupted, job 2 never started
    record = run_record("backward", [0, 1], status="interrupted", error="interrupted (SIGTERM)")
    write_job(sweep / "1", None, record)
    for name in ("metrics.csv", "heldout_by_length.csv"):
        (sweep / "1" / name).unlink()
    os.rename(sweep / "2", sweep.parent / "elsewhere")
    problems = problems_of(sweep)
    assert problems["1"] == ("interrupted", "job status is interrupted: interrupted (SIGTERM)")
    assert problems["2"] == (
        "missing",
        "job 2 (model=bidirectional_sum n_seeds=2) is planned in multirun.yaml but has no folder: it never ran, "
        "or its folder was deleted",
    )


def test_a_deleted_job_folder_is_missing_not_a_silently_vanished_variant(sweep):
    os.rename(sweep / "0", sweep.parent / "deleted")
    assert report.main([str(sweep), "--n-boot", "50"]) == 0
    listed = pd.read_csv(sweep / "report" / "problems.csv")
    assert listed[["kind", "reason"]].values.tolist() == [
        [
            "missing",
            "job 0 (model=forward n_seeds=2) is planned in multirun.yaml but has no folder: it never ran, or its "
            "folder was deleted",
        ]
    ]
    assert "job 0 (model=forward n_seeds=2)" in (sweep / "report" / "report.md").read_text()


def test_without_hydras_record_a_gap_in_the_job_numbers_is_missing(sweep):
    (sweep / "multirun.yaml").unlink()
    os.rename(sweep / "1", sweep.parent / "deleted")
    assert problems_of(sweep)["1"][0] == "missing"


def test_a_report_taken_mid_sweep_says_jobs_are_still_to_come(sweep, caplog):
    hold_lock(sweep)
    write_job(sweep / "1", None, None)  # started: Hydra made its folder, the job has not written yet
    for name in ("metrics.csv", "heldout_by_length.csv", "run.json"):
        (sweep / "1" / name).unlink(missing_ok=True)
    os.rename(sweep / "2", sweep.parent / "later")
    problems = problems_of(sweep)
    assert problems["1"][0] == "running" and "the sweep is still running (pid" in problems["1"][1]
    assert problems["2"][0] == "pending" and problems["2"][1].startswith(
        "job 2 (model=bidirectional_sum n_seeds=2) has not started yet: the sweep is still running (pid"
    )
    assert "2 job(s) still to come" in caplog.text


def test_a_running_job_whose_process_ended_is_interrupted_not_running(sweep):
    # above Linux's largest pid (2**22), so no process has it
    record = {**run_record("backward", [0, 1], status="running"), "pid": 2**22 + 7, "host": socket.gethostname()}
    (sweep / "1" / "run.json").write_text(json.dumps(record))
    kind, reason = problems_of(sweep)["1"]
    assert kind == "interrupted" and "has ended without recording why" in reason
    record["pid"] = os.getpid()
    (sweep / "1" / "run.json").write_text(json.dumps(record))
    assert problems_of(sweep)["1"][0] == "running"


def test_a_file_where_a_job_folder_should_be_is_skipped_and_listed(sweep):
    os.rename(sweep / "1", sweep.parent / "moved")
    (sweep / "1").write_text("not a folder")
    (sweep / "2").rename(sweep.parent / "gone")
    (sweep / "2").symlink_to(sweep.parent / "nowhere")
    assert report.main([str(sweep), "--n-boot", "50"]) == 0
    listed = pd.read_csv(sweep / "report" / "problems.csv").set_index("run_dir")
    assert listed.loc[str(sweep / "1"), "reason"] == "a file where a job folder should be"
    assert listed.loc[str(sweep / "2"), "reason"].startswith("a link to ")
    assert set(listed["kind"]) == {"unreadable"}
    assert set(pd.read_csv(sweep / "report" / "summary.csv")["variant"]) == {"forward"}


def test_an_unreadable_job_folder_is_skipped_not_the_whole_report(sweep, monkeypatch):
    # tests run as root, where chmod does not stop reading: what is in the folder fails as it would for another
    # user after chmod 000
    real_stat = Path.stat

    def stat(path: Path, *args, **kwargs):
        if path.parent == sweep / "1":
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    assert report.main([str(sweep), "--n-boot", "50"]) == 0
    listed = pd.read_csv(sweep / "report" / "problems.csv")
    assert listed["kind"].tolist() == ["unreadable"]
    assert listed["reason"].iloc[0] == f"cannot read {sweep / '1' / 'run.json'}: Permission denied"
    assert set(pd.read_csv(sweep / "report" / "summary.csv")["variant"]) == {"forward", "bidirectional-sum"}


def test_a_file_inside_a_job_that_cannot_be_read_skips_that_job(sweep, monkeypatch):
    real_read_text = Path.read_text

    def read_text(path: Path, *args, **kwargs) -> str:
        if path == sweep / "1" / "run.json":
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    problems = problems_of(sweep)
    assert problems["1"][0] == "damaged" and "run.json is not readable JSON (PermissionError)" in problems["1"][1]


@pytest.mark.slow
def test_a_real_sweeps_record_names_the_job_whose_folder_was_deleted(tmp_path):
    folder = tmp_path / "sweep"
    overrides = ["-m", "model=forward,backward", "n_seeds=2", *QUICK, NO_XLA, f"hydra.sweep.dir={folder}"]
    finished = run_cli(*overrides, cwd=tmp_path, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert problems_of(folder) == {}
    os.rename(folder / "1", tmp_path / "deleted")
    kind, reason = problems_of(folder)["1"]
    assert kind == "missing"
    assert (
        reason.startswith("job 1 (model=backward n_seeds=2 train.epochs=20 ")
        and "is planned in multirun.yaml" in reason
    )
