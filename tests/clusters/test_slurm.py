"""The slurm preset on a real single-node Slurm cluster (clusters/slurm_cluster.py), with and without accounting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from clusters.support import MODELS_AND_SEEDS, job_folders_match, use
from helpers.cli import run_cli
from helpers.configs import NO_XLA, QUICK
from helpers.sweeps import sweep

pytestmark = pytest.mark.slow
SLURM = ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=5"]
# Jobs that train until Slurm ends them, returning to Python every 1000 epochs to notice SIGTERM.
ENDLESS = ["train.epochs=100000000", "train.eval_every=1000", "data.heldout_size=64", NO_XLA]


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


def test_the_slurm_preset_gives_the_basic_launchers_numbers_and_a_rerun_skips_every_job(
    slurm, basic_sweep, tmp_path, monkeypatch
):
    use(monkeypatch, slurm["plain"]["env"])
    folder = tmp_path / "sweep"
    jobs = sweep(folder, *SLURM, *MODELS_AND_SEEDS, *QUICK, NO_XLA)
    job_folders_match(jobs, basic_sweep)
    # each job ran as one task of a single Slurm job array
    tasks = {num: slurm_task(folder / str(num)) for num in jobs}
    assert len({task.split("_")[0] for task in tasks.values()}) == 1
    assert sorted(task.split("_")[1] for task in tasks.values()) == ["0", "1", "2", "3"]

    names = ("run.json", "metrics.csv")
    files = {num: {name: (folder / str(num) / name).read_bytes() for name in names} for num in jobs}
    again = sweep(folder, *SLURM, *MODELS_AND_SEEDS, *QUICK, NO_XLA)
    for num, job in again.items():
        # a new array ran, and each of its tasks found its job completed and left the folder as it was
        assert slurm_task(folder / str(num)).split("_")[0] != tasks[num].split("_")[0]
        assert any("completed earlier with the same config, skipped" in line for line in job["log"])
        assert {name: (folder / str(num) / name).read_bytes() for name in files[num]} == files[num]


def start_endless_sweep(cluster: dict, folder: Path) -> subprocess.Popen:
    """Two jobs that train until Slurm ends them, with a one-minute time limit; stdout to ``<folder>.out``."""
    overrides = [*SLURM, "hydra.launcher.timeout_min=1", "model=forward,bidirectional", "seed=0", *ENDLESS]
    command = [sys.executable, "-m", "bench.run", "-m", *overrides, f"hydra.sweep.dir={folder}"]
    env = {key: value for key, value in {**os.environ, **cluster["env"]}.items() if key != "HYDRA_FULL_ERROR"}
    with folder.with_suffix(".out").open("w") as out:
        return subprocess.Popen(command, cwd=folder.parent, env=env, stdout=out, stderr=subprocess.PIPE, text=True)


def test_a_cancelled_and_a_timed_out_task_end_the_sweep_with_one_line(slurm, tmp_path):
    # the same sweep on both clusters at once; job 0 is cancelled once it trains, job 1 trains until Slurm ends it
    # at its one-minute limit
    folders = {name: tmp_path / name for name in slurm}
    running = {name: start_endless_sweep(slurm[name], folders[name]) for name in slurm}
    errors = {}
    try:
        for name, cluster in slurm.items():
            job = folders[name] / "0"
            wait_for(lambda job=job: status(job) == "running", f"training in job 0 on {name}", 240)
            subprocess.run(["scancel", slurm_task(job)], check=True, env={**os.environ, **cluster["env"]})
        for name, sweep_process in running.items():
            errors[name] = sweep_process.communicate(timeout=300)[1]  # a sweep that hangs fails here
    finally:
        for sweep_process in running.values():
            sweep_process.kill()
            sweep_process.wait()
    for name, folder in folders.items():
        array = slurm_task(folder / "0").split("_")[0]
        assert running[name].returncode == 1, errors[name]
        assert "Traceback" not in errors[name] + folder.with_suffix(".out").read_text()
        assert errors[name].strip().splitlines()[-1] == (
            "bench.run: 2 of 2 job(s) ended without a result: "
            f"job 0 (model=forward): Slurm task {array}_0 CANCELLED; "
            f"job 1 (model=bidirectional): Slurm task {array}_1 TIMEOUT. "
            f"Logs: {folder / '.submitit'}. Run the same command again to run them again."
        )
        # SIGTERM reached job 0 while it trained: it recorded itself as interrupted; job 1 is not complete either
        # (interrupted, or still "running" if Slurm's time limit came before its training started), so a rerun
        # runs both again
        assert status(folder / "0") == "interrupted"
        assert status(folder / "1") in {"interrupted", "running", None}
    # the accounting cluster recorded the same states
    array = slurm_task(folders["accounting"] / "0").split("_")[0]
    wait_for(lambda: accounted(array, slurm["accounting"]["env"]) == ["CANCELLED", "TIMEOUT"], "sacct records", 60)


def accounted(array: str, env: dict[str, str]) -> list[str]:
    """The states that Slurm accounting holds for the tasks of ``array``."""
    shown = subprocess.run(
        ["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State", f"--jobs={array}"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return [line.split("|")[1].split()[0] for line in sorted(shown.stdout.splitlines())]


def test_a_sweep_that_sbatch_refuses_ends_with_one_line(slurm, tmp_path, monkeypatch):
    use(monkeypatch, slurm["plain"]["env"])
    folder = tmp_path / "sweep"
    finished = run_cli(
        "-m",
        *SLURM,
        "hydra.launcher.partition=nowhere",
        *QUICK,
        NO_XLA,
        f"hydra.sweep.dir={folder}",
        cwd=tmp_path,
        timeout=120,
    )
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr + finished.stdout
    assert finished.stderr.strip().splitlines()[-1] == (
        "bench.run: sbatch refused the sweep: invalid partition specified: nowhere; "
        "Batch job submission failed: Invalid partition name specified"
    )
