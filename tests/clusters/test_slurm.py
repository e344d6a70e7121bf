"""The slurm preset on a real single-node Slurm cluster (clusters/slurm_cluster.py), with and without accounting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli
from omegaconf import OmegaConf
from sweeps import SMALL, sweep

from clusters.support import MODELS_AND_SEEDS, job_folders_match, use

pytestmark = pytest.mark.slow
WITHOUT_ACCOUNTING = pytest.mark.parametrize("slurm", [False], ids=["without accounting"], indirect=True)
SLURM = ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=5"]
# Jobs that train until Slurm ends them, returning to Python every 1000 epochs to notice SIGTERM.
ENDLESS = ["train.epochs=100000000", "train.eval_every=1000", "data.heldout_size=64", "train.jit_compile=false"]


def slurm_task(job: Path) -> str:
    """The Slurm task (``<array>_<index>``) that ran a job: Hydra's job id under submitit."""
    return OmegaConf.load(job / ".hydra" / "hydra.yaml").hydra.job.id


def status(job: Path) -> str | None:
    try:
        return json.loads((job / "run.json").read_text())["status"]
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def wait_for(condition, what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout_s:.0f} s"
        time.sleep(0.5)


@WITHOUT_ACCOUNTING
def test_the_slurm_preset_gives_the_basic_launchers_numbers_and_a_rerun_skips_every_job(
    slurm, basic_sweep, tmp_path, monkeypatch
):
    use(monkeypatch, slurm["env"])
    folder = tmp_path / "sweep"
    jobs = sweep(folder, *SLURM, *MODELS_AND_SEEDS, *SMALL)
    job_folders_match(jobs, basic_sweep)
    # each job ran as one task of a single Slurm job array
    tasks = {num: slurm_task(folder / str(num)) for num in jobs}
    assert len({task.split("_")[0] for task in tasks.values()}) == 1
    assert sorted(task.split("_")[1] for task in tasks.values()) == ["0", "1", "2", "3"]

    names = ("run.json", "metrics.csv")
    files = {num: {name: (folder / str(num) / name).read_bytes() for name in names} for num in jobs}
    again = sweep(folder, *SLURM, *MODELS_AND_SEEDS, *SMALL)
    for num, job in again.items():
        # a new array ran, and each of its tasks found its job completed and left the folder as it was
        assert slurm_task(folder / str(num)).split("_")[0] != tasks[num].split("_")[0]
        assert any("completed earlier with the same config, skipped" in line for line in job["log"])
        assert {name: (folder / str(num) / name).read_bytes() for name in files[num]} == files[num]


def test_a_cancelled_and_a_timed_out_task_end_the_sweep_with_one_line(slurm, tmp_path, monkeypatch):
    use(monkeypatch, slurm["env"])
    folder = tmp_path / "sweep"
    overrides = [*SLURM, "hydra.launcher.timeout_min=1", "model=forward,bidirectional", "seed=0", *ENDLESS]
    command = [sys.executable, "-m", "bench.run", "-m", *overrides, f"hydra.sweep.dir={folder}"]
    output = tmp_path / "sweep.out"
    env = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    with output.open("w") as out:
        running = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
        try:
            # job 0 is cancelled once it trains; job 1 trains until Slurm ends it at its one-minute limit
            wait_for(lambda: status(folder / "0") == "running", "training in job 0", 180)
            subprocess.run(["scancel", slurm_task(folder / "0")], check=True)
            _, errors = running.communicate(timeout=300)  # a sweep that hangs fails here
        finally:
            running.kill()
            running.wait()
    array = slurm_task(folder / "0").split("_")[0]
    assert running.returncode == 1, errors
    assert "Traceback" not in errors + output.read_text()
    assert errors.strip().splitlines()[-1] == (
        "bench.run: 2 of 2 job(s) ended without a result: "
        f"job 0 (model=forward): Slurm task {array}_0 CANCELLED; "
        f"job 1 (model=bidirectional): Slurm task {array}_1 TIMEOUT. "
        f"Logs: {folder / '.submitit'}. Run the same command again to run them again."
    )
    # SIGTERM reached both jobs while they trained: each recorded itself as interrupted, with the rows it had
    assert status(folder / "0") == status(folder / "1") == "interrupted"
    assert len((folder / "1" / "metrics.csv").read_text().splitlines()) > 1000
    if slurm["accounting"]:
        wait_for(lambda: accounted(array) == ["CANCELLED", "TIMEOUT"], "accounting records", 60)


def accounted(array: str) -> list[str]:
    """The states that Slurm accounting holds for the tasks of ``array``."""
    shown = subprocess.run(
        ["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State", f"--jobs={array}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split("|")[1].split()[0] for line in sorted(shown.stdout.splitlines())]


@WITHOUT_ACCOUNTING
def test_a_sweep_that_sbatch_refuses_ends_with_one_line(slurm, tmp_path, monkeypatch):
    use(monkeypatch, slurm["env"])
    folder = tmp_path / "sweep"
    finished = run_cli(
        "-m", *SLURM, "hydra.launcher.partition=nowhere", *SMALL, f"hydra.sweep.dir={folder}", cwd=tmp_path, timeout=120
    )
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr + finished.stdout
    assert finished.stderr.strip().splitlines()[-1] == (
        "bench.run: sbatch refused the sweep: invalid partition specified: nowhere; "
        "Batch job submission failed: Invalid partition name specified"
    )
