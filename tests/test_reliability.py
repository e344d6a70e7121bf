"""Interrupted and failed sweeps: resume, isolation, interruption records, and nothing half-written."""

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from omegaconf import OmegaConf

from bench import plan, store
from helpers.cli import alive, run_cli
from helpers.configs import NO_XLA, QUICK
from helpers.sweeps import status

TESTS = Path(__file__).resolve().parent
# a sweep of three quick runs
THREE_JOBS = ["-m", "model=forward", "seed=0,1,2", *QUICK, NO_XLA]
# two jobs of a quick run, the first of which diverges (its loss becomes NaN)
FIRST_JOB_DIVERGES = ["-m", "model=forward", "seed=0", *QUICK, NO_XLA, "train.learning_rate=1e38,0.001"]


def job_metrics(sweep: Path) -> dict[str, pd.DataFrame]:
    return {job.name: pd.read_csv(job / "metrics.csv") for job in sorted(sweep.iterdir()) if job.is_dir()}


@pytest.fixture
def start(tmp_path):
    """Starts ``python -m bench.run args`` in ``tmp_path`` in a process group of its own; whatever the test comes
    to, the group (workers included) is killed at its end, so that no run outlives its test. Output goes to files,
    so a chatty run never blocks on a full pipe; :func:`finish` reads it."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    started: list[subprocess.Popen] = []

    def launch(*args: str, module: str = "bench.run", extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        out = tmp_path / f"process-{len(started)}"
        with open(f"{out}.out", "w") as stdout, open(f"{out}.err", "w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                cwd=tmp_path,
                env={**env, "PYTHONPATH": str(TESTS), **(extra_env or {})},
                start_new_session=True,
                stdout=stdout,
                stderr=stderr,
                text=True,
            )
        process.output = out
        started.append(process)
        return process

    yield launch
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def finish(process: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """Waits for a process from ``start`` and returns its stdout and stderr."""
    process.wait(timeout=timeout)
    return Path(f"{process.output}.out").read_text(), Path(f"{process.output}.err").read_text()


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_killed_sweep_run_again_ends_with_the_results_of_an_uninterrupted_one(tmp_path, start):
    reference = tmp_path / "uninterrupted"
    assert run_cli(*THREE_JOBS, f"hydra.sweep.dir={reference}", cwd=tmp_path).returncode == 0

    sweep = tmp_path / "killed"
    # the job of seed 1 holds still while it runs: it is killed there, however quickly jobs finish
    process = start("1", *THREE_JOBS, f"hydra.sweep.dir={sweep}", module="helpers.held_job")
    wait_for(lambda: status(sweep / "1") == "running")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert status(sweep / "0") == "completed" and status(sweep / "2") is None

    resumed = run_cli(*THREE_JOBS, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert resumed.stdout.count("skipped") == 1
    expected, actual = job_metrics(reference), job_metrics(sweep)
    assert expected.keys() == actual.keys() == {"0", "1", "2"}
    for job in expected:
        pd.testing.assert_frame_equal(actual[job], expected[job])
        assert not actual[job].duplicated(["seed", "epoch", "split"]).any()

    before = {job: (sweep / job / "metrics.csv").stat().st_mtime_ns for job in actual}
    # settings of how jobs run (runtime.*) do not make a finished job stale
    again = run_cli(*THREE_JOBS, "runtime.progress_every_s=1", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("skipped") == 3
    assert before == {job: (sweep / job / "metrics.csv").stat().st_mtime_ns for job in actual}


@pytest.mark.slow
def test_a_forced_rerun_runs_completed_jobs_again(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "model=forward", "seed=0", *QUICK, NO_XLA, f"hydra.sweep.dir={sweep}"]
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    again = run_cli(*args, "runtime.rerun=true", cwd=tmp_path)
    assert again.returncode == 0 and "skipped" not in again.stdout


@pytest.mark.slow
def test_completed_results_are_never_silently_overwritten(tmp_path):
    sweep = tmp_path / "X"
    args = ["-m", "model=forward,bidirectional", *QUICK, NO_XLA, f"hydra.sweep.dir={sweep}"]
    assert run_cli(*args, "n_seeds=3", cwd=tmp_path).returncode == 0
    before = {job: (sweep / job / "metrics.csv").read_bytes() for job in ("0", "1")}

    refused = run_cli(*args, "n_seeds=1", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"bench.run: {sweep}/0 holds a completed run of other settings (n_seeds: 3 -> 1), as do 1 more job "
        f"folder(s); run into another folder (hydra.sweep.dir=...) or move the old results to {sweep}/archive/ "
        "with runtime.archive=true"
    ]
    assert "Launching" not in refused.stdout  # stopped before any job
    assert before == {job: (sweep / job / "metrics.csv").read_bytes() for job in before}

    # a changed learning rate is another setting too; a changed runtime setting is not
    lr = run_cli(*args, "n_seeds=3", "train.learning_rate=0.002", cwd=tmp_path)
    assert lr.returncode == 2 and "train.learning_rate: 0.001 -> 0.002" in lr.stderr
    assert run_cli(*args, "n_seeds=3", "runtime.progress_every_s=1", cwd=tmp_path).stdout.count("skipped") == 2

    archived = run_cli(*args, "n_seeds=1", "runtime.archive=true", cwd=tmp_path)
    assert archived.returncode == 0, archived.stderr[-2000:]
    (archive,) = (sweep / "archive").iterdir()
    assert f"moved 0, 1, multirun.yaml (results of other settings) to {archive}" in archived.stdout
    assert before == {job: (archive / job / "metrics.csv").read_bytes() for job in before}
    assert set(pd.read_csv(archive / "0" / "metrics.csv")["seed"]) == {0, 1, 2}
    assert set(pd.read_csv(sweep / "0" / "metrics.csv")["seed"]) == {0}


def test_a_preset_sweeps_into_a_folder_named_after_its_size(tmp_path):
    from bench.plan import sweep_folder

    assert sweep_folder(["experiment=all"]) == Path("outputs/multirun/all-10seeds-1000epochs")
    assert sweep_folder(["experiment=directions", "n_seeds=3"]) == Path("outputs/multirun/directions-3seeds-250epochs")
    assert sweep_folder(["experiment=merge_modes", "train.epochs=50", "seed=0,1"]) == Path(
        "outputs/multirun/merge_modes-10seeds-50epochs"
    )
    # a folder that would depend on a swept setting would split one sweep across folders
    split = run_cli("-m", "experiment=directions", "n_seeds=1,3", cwd=tmp_path)
    assert split.returncode == 2 and "one folder for the whole sweep" in split.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_diverging_job_fails_alone_and_the_sweep_names_it_and_exits_non_zero(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        *FIRST_JOB_DIVERGES,
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
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
        *FIRST_JOB_DIVERGES,
        "runtime.fail_fast=true",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert status(sweep / "0") == "failed" and not (sweep / "1").exists()
    assert f"sweep {sweep}: 2 job(s): 1 failed, 1 not run" in result.stdout


def epochs_logged(log_file: Path) -> int:
    """The highest epoch a job's progress lines have reported so far."""
    text = log_file.read_text() if log_file.exists() else ""
    return max((int(found) for found in re.findall(r"epoch (\d+)/", text)), default=0)


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum, code, engine, epochs",
    [(signal.SIGTERM, 143, "fast", 1000), (signal.SIGINT, 130, "fast", 1000), (signal.SIGTERM, 143, "reference", 20)],
)
def test_a_signal_records_the_job_as_interrupted_with_whole_files(tmp_path, start, signum, code, engine, epochs):
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
    )
    wait_for(lambda: epochs_logged(run_dir / "run.log") >= epochs)
    process.send_signal(signum)
    _, stderr = finish(process, timeout=60)
    assert process.returncode == code
    assert stderr.strip().splitlines()[-1].startswith("bench.run: interrupted")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "interrupted" and record["seed_status"]["0"]["status"] == "interrupted"
    metrics = pd.read_csv(run_dir / "metrics.csv")
    assert (metrics["split"] == "train").sum() >= epochs
    assert not list(run_dir.glob(".*.tmp"))


def test_a_ctrl_c_while_the_libraries_load_is_one_line_even_if_a_library_swallows_it(tmp_path, start):
    # it used to be a traceback, or, swallowed inside an import, no stop at all
    run_dir = tmp_path / "run"
    process = start("import:hydra", "bench.run", *QUICK, f"hydra.run.dir={run_dir}", module="helpers.swallowed_signal")
    stdout, stderr = finish(process, timeout=60)
    assert (process.returncode, stdout, stderr) == (130, "", "bench.run: interrupted\n")
    assert not run_dir.exists()
    # so is the plan's command, which the make targets run to find a sweep's folder
    process = start("import:hydra", "bench.plan", "experiment=all", module="helpers.swallowed_signal")
    assert finish(process, timeout=60) == ("", "bench.plan: interrupted by SIGINT\n")
    assert process.returncode == 130


@pytest.mark.parametrize(
    "where, status",
    [
        ("import:tensorflow", "interrupted"),
        ("train-wrapped", "interrupted"),
        ("after-job", "completed"),
        # a second Ctrl-C while the command ends: it used to be a traceback
        ("train-wrapped,settle", "interrupted"),
    ],
)
def test_a_ctrl_c_that_a_library_swallows_or_wraps_in_a_job_still_stops_the_sweep(tmp_path, start, where, status):
    # swallowed, the sweep used to go on to its next job; turned into another error, the job was recorded failed.
    # Swallowed in a job, the signal is raised again at training's next progress step
    sweep = tmp_path / "sweep"
    seeds = ["-m", "model=forward", "seed=0,1", *QUICK, f"hydra.sweep.dir={sweep}"]
    process = start(where, "bench.run", *seeds, module="helpers.swallowed_signal")
    _, stderr = finish(process, timeout=300)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "bench.run: interrupted" and "Traceback" not in stderr
    record = json.loads((sweep / "0" / "run.json").read_text())
    assert (record["status"], record["seed_status"]["0"]["status"]) == (status, status)
    assert not (sweep / "1" / "run.json").exists()


# Short chunks (eval_every) let a signal reach the job between chunks soon, even on a busy machine.
LONG = ["train.epochs=10000000", "train.eval_every=100", "runtime.progress_every_s=0.1"]


@pytest.mark.slow
def test_a_locked_sweep_folder_turns_a_second_sweep_away_naming_the_holder(tmp_path, start):
    sweep = tmp_path / "sweep"
    first = start(*THREE_JOBS, *LONG, f"hydra.sweep.dir={sweep}")
    wait_for(lambda: epochs_logged(sweep / "0" / "run.log") >= 500)
    # the same sweep, and one of other settings: neither may train or write while the first runs
    for overrides in (LONG, ["train.epochs=60"]):
        second = run_cli(*THREE_JOBS, *overrides, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
        assert second.returncode == 75
        (line,) = second.stderr.strip().splitlines()
        assert line.startswith(f"bench.run: {sweep} is in use by pid {first.pid} on ")
        assert line.endswith("; wait for it to end or choose another hydra.sweep.dir") and "bench.run -m" in line
        assert "Launching" not in second.stdout
    assert json.loads((sweep / "0" / "run.json").read_text())["pid"] == first.pid
    # run.log holds the first sweep's lines only
    assert all(
        "job 1/3 | forward seed 0 | epoch" in line for line in (sweep / "0" / "run.log").read_text().splitlines()
    )
    assert not (sweep / "1").exists()

    # the lock dies with its holder, however it dies
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    after = run_cli(*THREE_JOBS, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert after.returncode == 0, after.stderr[-2000:]
    assert all(status(sweep / job) == "completed" for job in ("0", "1", "2"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum, code, line",
    [
        (signal.SIGTERM, 143, "interrupted by SIGTERM"),
        (signal.SIGINT, 130, "interrupted"),
        # killed without a chance to stop its workers: they notice and stop on their own
        (signal.SIGKILL, -signal.SIGKILL, None),
    ],
)
def test_the_parallel_launcher_honours_the_signal_contract(tmp_path, start, signum, code, line):
    sweep = tmp_path / "sweep"
    process = start(
        "-m",
        "hydra/launcher=parallel",
        "model=forward,backward,bidirectional",
        "seed=0,1",
        *QUICK,
        NO_XLA,
        *LONG,
        f"hydra.sweep.dir={sweep}",
    )
    wait_for(lambda: min(epochs_logged(sweep / job / "run.log") for job in ("0", "1")) >= 300, timeout=240)
    workers = psutil.Process(process.pid).children(recursive=True)
    job_pids = {json.loads((sweep / job / "run.json").read_text())["pid"] for job in ("0", "1")}
    assert len(job_pids) == 2 and job_pids <= {worker.pid for worker in workers}
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # Ctrl-C reaches the whole process group
    else:
        process.send_signal(signum)  # kill <pid> reaches the parent only
    stdout, stderr = finish(process, timeout=120)
    assert process.returncode == code
    if line:
        assert stderr.strip().splitlines() == [f"bench.run: {line}"]
        assert f"sweep {sweep}: 6 job(s): 2 interrupted, 4 not run" in stdout
    # nothing left running: the workers stopped, and no job of the sweep went on
    wait_for(lambda: not any(alive(worker) for worker in workers), timeout=30)
    for job in ("0", "1"):
        record = json.loads((sweep / job / "run.json").read_text())
        assert record["status"] == "interrupted" and record["seed_status"][job]["status"] == "interrupted"
        assert (pd.read_csv(sweep / job / "metrics.csv")["split"] == "train").sum() >= 300
        assert not list((sweep / job).glob(".*.tmp"))
    assert not any(status(sweep / job) for job in ("2", "3", "4", "5"))


# A job's process that records its end a moment after it was found running, then ends.
RECORDS_ITS_END_LATE = """
import json, os, sys, time
time.sleep(1)
record = json.loads(open(sys.argv[1]).read()) | {"status": "completed", "seed_status": {"0": {"status": "completed"}}}
open(sys.argv[1] + ".tmp", "w").write(json.dumps(record))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
"""


def test_settling_a_stopped_sweep_keeps_what_its_jobs_recorded_and_marks_the_rest_interrupted(tmp_path, monkeypatch):
    late, gone, own = tmp_path / "0", tmp_path / "1", tmp_path / "2"
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    for job, pid in ((late, ended.pid), (gone, ended.pid), (own, os.getpid())):
        job.mkdir()
        store.write_run(job, {"status": "running", "host": socket.gethostname(), "pid": pid})
    recording = subprocess.Popen([sys.executable, "-c", RECORDS_ITS_END_LATE, str(late / "run.json")])
    store.write_run(late, {"status": "running", "host": socket.gethostname(), "pid": recording.pid})
    # a job of this process's own, which ended with the exception that has it settle the sweep
    jobs = [plan.Job(num, job, OmegaConf.create()) for num, job in enumerate((late, gone, own))]
    monkeypatch.setattr(plan, "_plan", plan.Plan(tmp_path, jobs, multirun=True))
    plan.settle()
    recording.wait()
    assert store.read_run(late)["status"] == "completed" and store.read_run(late)["seed_status"]
    assert store.read_run(gone)["status"] == store.read_run(own)["status"] == "interrupted"


def slow_record(job: str, seconds: float) -> dict[str, str]:
    """The environment in which the sweep's job ``job`` takes ``seconds`` to write its rows (helpers.slow_record)."""
    return {
        "PYTHONPATH": f"{TESTS}{os.pathsep}{TESTS / 'helpers' / 'slow_record'}",
        "SLOW_RECORD_JOB": job,
        "SLOW_RECORD_S": str(seconds),
    }


def start_with_job_1_slow_to_record(start, sweep: Path, *overrides: str) -> subprocess.Popen:
    """A sweep of the forward model on 2 joblib workers, whose job 1 takes 5 s to write its rows."""
    return start(
        "-m",
        "hydra/launcher=parallel",
        "model=forward",
        *QUICK,
        NO_XLA,
        *LONG,
        *overrides,
        f"hydra.sweep.dir={sweep}",
        extra_env=slow_record("1", 5),
    )


def stop(process: subprocess.Popen, signum: int) -> None:
    if signum == signal.SIGINT:
        os.killpg(process.pid, signum)  # Ctrl-C reaches the whole process group
    else:
        process.send_signal(signum)  # kill <pid> reaches the parent only


def assert_recorded_as_interrupted(job: Path) -> None:
    record = json.loads((job / "run.json").read_text())
    assert record["status"] == "interrupted", record
    assert all(entry["status"] == "interrupted" for entry in record["seed_status"].values())
    assert (pd.read_csv(job / "metrics.csv")["split"] == "train").sum() >= 20
    assert not list(job.glob(".*.tmp"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum, code, n_jobs", [(signal.SIGTERM, 143, 2), (signal.SIGINT, 130, 2), (signal.SIGINT, 130, 4)]
)
def test_a_worker_that_recorded_its_job_waits_for_the_others_to_record_theirs(tmp_path, start, signum, code, n_jobs):
    # loky kills every worker once one of them ends: here the worker of job 1 still writes its rows then. With more
    # workers than jobs, a worker without a job died at once of the Ctrl-C: the sweep now has one worker per job.
    sweep = tmp_path / "sweep"
    process = start_with_job_1_slow_to_record(start, sweep, "seed=0,1", f"hydra.launcher.n_jobs={n_jobs}")
    wait_for(lambda: min(epochs_logged(sweep / job / "run.log") for job in ("0", "1")) >= 20, timeout=240)
    stop(process, signum)
    stdout, stderr = finish(process, timeout=120)
    assert process.returncode == code, stderr[-2000:]
    assert "Joblib.Parallel(n_jobs=2," in stdout
    assert f"sweep {sweep}: 2 job(s): 2 interrupted" in stdout
    for job in ("0", "1"):
        assert_recorded_as_interrupted(sweep / job)


@pytest.mark.slow
def test_a_worker_stopped_on_its_own_stops_the_sweep_in_order(tmp_path, start):
    # it used to end alone, and loky then killed the other workers, their rows unwritten (exit 1)
    sweep = tmp_path / "sweep"
    process = start_with_job_1_slow_to_record(start, sweep, "seed=0,1,2")
    wait_for(lambda: min(epochs_logged(sweep / job / "run.log") for job in ("0", "1")) >= 20, timeout=240)
    os.kill(json.loads((sweep / "0" / "run.json").read_text())["pid"], signal.SIGTERM)
    stdout, stderr = finish(process, timeout=120)
    assert (process.returncode, stderr.strip().splitlines()) == (143, ["bench.run: interrupted by SIGTERM"])
    assert f"sweep {sweep}: 3 job(s): 2 interrupted, 1 not run" in stdout
    for job in ("0", "1"):
        assert_recorded_as_interrupted(sweep / job)


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_worker_between_jobs_does_not_end_before_a_busy_one_has_recorded_its_job(tmp_path, start, signum, code):
    sweep = tmp_path / "sweep"
    # job 0 ends soon, and its worker waits for a next job that never comes
    process = start_with_job_1_slow_to_record(start, sweep, "train.epochs=20,10000000")
    wait_for(lambda: status(sweep / "0") == "completed" and epochs_logged(sweep / "1" / "run.log") >= 20, timeout=240)
    stop(process, signum)
    stdout, stderr = finish(process, timeout=120)
    assert process.returncode == code, stderr[-2000:]
    assert f"sweep {sweep}: 2 job(s): 1 completed, 1 interrupted" in stdout
    assert_recorded_as_interrupted(sweep / "1")


SIGNAL_DURING_FINAL_WRITES = """
import os, runpy, signal, sys
from bench import store

write = store.write_atomic


def signalled_write(path, text):
    if path.name == store.METRICS_FILE:
        os.kill(os.getpid(), signal.SIGTERM)  # arrives while the job writes its rows
    write(path, text)


store.write_atomic = signalled_write
sys.argv = ["bench.run", *sys.argv[1:]]
runpy.run_module("bench.run", run_name="__main__", alter_sys=True)
"""


@pytest.mark.slow
def test_a_signal_during_a_jobs_final_writes_keeps_its_rows(tmp_path):
    run_dir = tmp_path / "run"
    args = ["model=forward", *QUICK, NO_XLA, f"hydra.run.dir={run_dir}"]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    signalled = subprocess.run(
        [sys.executable, "-c", SIGNAL_DURING_FINAL_WRITES, *args], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert signalled.returncode == 143
    assert signalled.stderr.strip().splitlines() == ["bench.run: interrupted by SIGTERM"]
    # the rows and the record are whole: run.json does not stay `running` with the rows in a temporary file
    assert status(run_dir) == "completed" and not list(run_dir.glob(".*.tmp"))
    assert (pd.read_csv(run_dir / "metrics.csv")["split"] == "train").sum() == 20

    # a temporary file that a killed writer left behind is removed by the next run
    (run_dir / ".metrics.csv.k1ll3d.tmp").write_text("variant,direction\nforw")
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0 and "skipped" in again.stdout
    assert "removed 1 temporary file(s) that a stopped run left behind" in again.stdout
    assert not list(run_dir.glob(".*.tmp"))


@pytest.mark.slow
def test_resume_repairs_damaged_or_missing_files_and_says_so(tmp_path):
    reference = tmp_path / "reference"
    assert run_cli(*THREE_JOBS, f"hydra.sweep.dir={reference}", cwd=tmp_path).returncode == 0
    sweep = tmp_path / "damaged"
    shutil.copytree(reference, sweep)
    metrics = (sweep / "0" / "metrics.csv").read_text()
    (sweep / "0" / "metrics.csv").write_text(metrics[: metrics.rindex(",", 0, len(metrics) // 2)])  # cut mid-line
    (sweep / "1" / "heldout_by_length.csv").unlink()
    rows = pd.read_csv(sweep / "2" / "metrics.csv")
    rows.query("epoch <= 15").to_csv(sweep / "2" / "metrics.csv", index=False)  # rows short of the config's epochs

    resumed = run_cli(*THREE_JOBS, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    repaired = [line for line in resumed.stdout.splitlines() if "completed earlier, but" in line]
    assert len(repaired) == 3 and all(line.endswith("; running it again") for line in repaired)
    assert "metrics.csv line" in repaired[0]
    assert "heldout_by_length.csv is missing" in repaired[1]
    assert "metrics.csv, seed 2: train rows miss 5 of 20 epochs (first 16)" in repaired[2]
    for job in ("0", "1", "2"):
        for name in ("metrics.csv", "heldout_by_length.csv"):
            pd.testing.assert_frame_equal(pd.read_csv(sweep / job / name), pd.read_csv(reference / job / name))
