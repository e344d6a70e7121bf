"""Interrupted and failed sweeps: resume, isolation, interruption records, and nothing half-written."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

SWEEP = [
    "-m",
    "model=forward",
    "seed=0,1,2",
    "train.epochs=20",
    "train.eval_every=10",
    "data.heldout_size=64",
    "train.jit_compile=false",
]


def job_metrics(sweep: Path) -> dict[str, pd.DataFrame]:
    return {job.name: pd.read_csv(job / "metrics.csv") for job in sorted(sweep.iterdir()) if job.is_dir()}


def status(job: Path) -> str | None:
    try:
        return json.loads((job / "run.json").read_text())["status"]
    except (OSError, ValueError):
        return None


def start(*args: str, cwd: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.Popen(
        [sys.executable, "-m", "bench.run", *args],
        cwd=cwd,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_killed_sweep_run_again_ends_with_the_results_of_an_uninterrupted_one(tmp_path):
    reference = tmp_path / "uninterrupted"
    assert run_cli(*SWEEP, f"hydra.sweep.dir={reference}", cwd=tmp_path).returncode == 0

    sweep = tmp_path / "killed"
    process = start(*SWEEP, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    wait_for(lambda: status(sweep / "1") == "running")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert status(sweep / "0") == "completed" and status(sweep / "2") is None

    resumed = run_cli(*SWEEP, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.count("skipped") == 1
    expected, actual = job_metrics(reference), job_metrics(sweep)
    assert expected.keys() == actual.keys() == {"0", "1", "2"}
    for job in expected:
        pd.testing.assert_frame_equal(actual[job], expected[job])
        assert not actual[job].duplicated(["seed", "epoch", "split"]).any()

    before = {job: (sweep / job / "metrics.csv").stat().st_mtime_ns for job in actual}
    # settings of how jobs run (runtime.*) do not make a finished job stale
    again = run_cli(*SWEEP, "runtime.progress_every_s=1", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("skipped") == 3
    assert before == {job: (sweep / job / "metrics.csv").stat().st_mtime_ns for job in actual}


@pytest.mark.slow
@pytest.mark.parametrize("override", ["runtime.rerun=true", "train.learning_rate=0.002"])
def test_a_forced_rerun_or_a_changed_setting_runs_completed_jobs_again(tmp_path, override):
    sweep = tmp_path / "sweep"
    args = [*SWEEP[:2], "seed=0", *SWEEP[3:], f"hydra.sweep.dir={sweep}"]
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    again = run_cli(*args, override, cwd=tmp_path)
    assert again.returncode == 0 and "skipped" not in again.stdout
    if override.startswith("train."):
        assert json.loads((sweep / "0" / "run.json").read_text())["config"]["train"]["learning_rate"] == 0.002


@pytest.mark.slow
def test_a_diverging_job_fails_alone_and_the_sweep_names_it_and_exits_non_zero(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        *SWEEP[:2], "seed=0", *SWEEP[3:], "train.learning_rate=1e38,0.001", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "1 job(s) failed: 0 (forward: seed 0: loss is nan at epoch" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert status(sweep / "0") == "failed" and status(sweep / "1") == "completed"
    failed = json.loads((sweep / "0" / "run.json").read_text())
    assert failed["seed_status"]["0"]["status"] == "failed" and failed["seed_status"]["0"]["epoch"] >= 1
    kept = pd.read_csv(sweep / "0" / "metrics.csv").query("split == 'train'")
    assert len(kept) == failed["seed_status"]["0"]["epoch"] - 1


@pytest.mark.slow
def test_fail_fast_stops_the_sweep_at_the_first_failed_job(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        *SWEEP[:2],
        "seed=0",
        *SWEEP[3:],
        "train.learning_rate=1e38,0.001",
        "runtime.fail_fast=true",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert status(sweep / "0") == "failed" and not (sweep / "1").exists()


def epochs_logged(log_file: Path) -> int:
    """The highest epoch a job's progress lines have reported so far."""
    text = log_file.read_text() if log_file.exists() else ""
    return max((int(found) for found in re.findall(r"epoch (\d+)/", text)), default=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum, code, engine, epochs",
    [(signal.SIGTERM, 143, "fast", 1000), (signal.SIGINT, 130, "fast", 1000), (signal.SIGTERM, 143, "reference", 20)],
)
def test_a_signal_records_the_job_as_interrupted_with_whole_files(tmp_path, signum, code, engine, epochs):
    run_dir = tmp_path / "run"
    process = start(
        "model=forward",
        f"engine={engine}",
        "train.epochs=10000000",
        "train.eval_every=500",
        "data.heldout_size=64",
        "train.jit_compile=false",
        "runtime.progress_every_s=0.1",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    wait_for(lambda: epochs_logged(run_dir / "run.log") >= epochs)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert stderr.strip().splitlines()[-1].startswith("bench.run: interrupted")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "interrupted" and record["seed_status"]["0"]["status"] == "interrupted"
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert (metrics["split"] == "train").sum() >= epochs
    assert not list(run_dir.glob(".*.tmp"))
