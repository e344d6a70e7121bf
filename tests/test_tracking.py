"""Tracking: job folders logged to a real MLflow SQLite store and real TensorBoard event files, read back with
MLflow's own client and TensorBoard's own reader."""

from __future__ import annotations

import json
import logging
import sqlite3

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from bench import tracking
from bench.schema import ConfigError, config_hash, validate
from helpers.cli import run_cli
from helpers.configs import NO_XLA, QUICK, make_config
from helpers.results import write_sweep


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory):
    """One SQLite store for the module (creating its tables takes seconds); each test uses its own experiment."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def settings(uri: str, experiment: str, **changes):
    cfg = make_config("tracking=[mlflow,tensorboard]", f"tracking.uri={uri}", f"tracking.experiment={experiment}")
    for key, value in changes.items():
        cfg.tracking[key] = value
    return cfg.tracking


def runs_of(uri: str, experiment: str) -> dict[str, list]:
    """kind (sweep, job, seed) -> the experiment's runs of that kind."""
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], max_results=1000) if found else []
    kinds: dict[str, list] = {"sweep": [], "job": [], "seed": []}
    for run in runs:
        kinds[run.data.tags["bench.kind"]].append(run)
    return kinds


def check_mlflow(uri: str, experiment: str, jobs: list, sweep_dir) -> None:
    """The store holds one sweep run, a run per job folder and a nested run per seed with full histories."""
    client = MlflowClient(tracking_uri=uri)
    kinds = runs_of(uri, experiment)
    assert len(kinds["sweep"]) == (1 if sweep_dir else 0)
    assert len(kinds["job"]) == len(jobs)
    by_folder = {run.data.tags["bench.job_dir"]: run for run in kinds["job"]}
    for folder in jobs:
        record = json.loads((folder / "run.json").read_text())
        metrics = pd.read_csv(folder / "metrics.csv")
        job_run = by_folder[str(folder.resolve())]
        tags, params = job_run.data.tags, job_run.data.params
        assert tags["bench.variant"] == record["variant"]
        assert tags["bench.seeds"] == ",".join(map(str, record["seeds"]))
        assert tags["bench.config_hash"] == record["config_hash"]
        assert params == {k: "null" if v is None else str(v) for k, v in tracking.flatten(record["config"]).items()}
        if sweep_dir:
            assert tags["mlflow.parentRunId"] == kinds["sweep"][0].info.run_id
            assert tags["bench.sweep_dir"] == str(sweep_dir.resolve())
        artifacts = {item.path for item in client.list_artifacts(job_run.info.run_id)}
        assert {"metrics.csv", "run.json"} <= artifacts
        seed_runs = [run for run in kinds["seed"] if run.data.tags["mlflow.parentRunId"] == job_run.info.run_id]
        assert sorted(int(run.data.params["seed"]) for run in seed_runs) == record["seeds"]
        for seed_run in seed_runs:
            rows = metrics[metrics["seed"] == int(seed_run.data.params["seed"])]
            for split in ("train", "heldout"):
                expected = rows[rows["split"] == split].sort_values("epoch")
                for column in ("loss", "accuracy"):
                    history = client.get_metric_history(seed_run.info.run_id, f"{split}_{column}")
                    assert len(history) == len(expected) > 0
                    steps = sorted((point.step, point.value) for point in history)
                    assert [s for s, _ in steps] == expected["epoch"].tolist()
                    assert [v for _, v in steps] == pytest.approx(expected[column].tolist())


def check_tensorboard(jobs: list) -> None:
    """Each seed has an HParams session with train/ and heldout/ scalar series equal to metrics.csv."""
    for folder in jobs:
        record = json.loads((folder / "run.json").read_text())
        metrics = pd.read_csv(folder / "metrics.csv")
        for seed, rows in metrics.groupby("seed"):
            session = folder / "tensorboard" / f"seed-{seed}"
            content = EventAccumulator(str(session)).Reload().PluginTagToContent("hparams")
            start = plugin_data_pb2.HParamsPluginData.FromString(next(iter(content.values()))).session_start_info
            assert start.hparams["variant"].string_value == record["variant"]
            assert start.hparams["seed"].number_value == seed
            for split, expected in rows.groupby("split"):
                events = EventAccumulator(str(session / split)).Reload()
                expected = expected.sort_values("epoch")
                for column in ("loss", "accuracy"):
                    scalars = events.Scalars(column)
                    assert [event.step for event in scalars] == expected["epoch"].tolist()
                    assert [event.value for event in scalars] == pytest.approx(expected[column].tolist(), rel=1e-6)


def test_tracking_settings_do_not_change_the_config_hash():
    plain = make_config()
    tracked = make_config("tracking=[mlflow,tensorboard]", "tracking.uri=http://127.0.0.1:5000")
    assert tracked.tracking.mlflow and tracked.tracking.tensorboard
    assert config_hash(tracked) == config_hash(plain)


@pytest.mark.parametrize("key, value", [("uri", " "), ("experiment", "")])
def test_an_empty_tracking_setting_is_a_config_error(key, value):
    cfg = make_config("tracking=mlflow")
    cfg.tracking[key] = value
    with pytest.raises(ConfigError, match=f"tracking.{key}"):
        validate(cfg)


@pytest.mark.slow
def test_job_folders_are_logged_once_and_read_back_by_mlflow_and_tensorboard(tmp_path, store_uri):
    sweep_dir = tmp_path / "sweep"
    write_sweep(sweep_dir, {"forward": {0: 0.8, 1: 0.85}, "bidirectional-sum": {0: 0.9, 1: 0.92}})
    jobs = sorted(path for path in sweep_dir.iterdir() if path.is_dir())
    for index, job in enumerate(jobs):  # started_at and finished_at, as the training side writes them
        record = json.loads((job / "run.json").read_text())
        record.update(started_at=f"2026-01-01T00:0{index}:00+00:00", finished_at=f"2026-01-01T00:0{index}:30+00:00")
        (job / "run.json").write_text(json.dumps(record))
    chosen = settings(store_uri, "folders")
    tracking.start_sweep(chosen, sweep_dir, "model=forward,bidirectional_sum")
    for job in jobs:
        tracking.log_job(chosen, job, sweep_dir)
    tracking.end_sweep(chosen, sweep_dir, failed=False)
    check_mlflow(store_uri, "folders", jobs, sweep_dir)
    check_tensorboard(jobs)
    assert runs_of(store_uri, "folders")["sweep"][0].info.status == "FINISHED"

    events = sorted(p.stat().st_mtime_ns for p in jobs[0].rglob("events.out.tfevents.*"))
    tracking.start_sweep(chosen, sweep_dir, "again")  # the same sweep run again: nothing is logged twice
    for job in jobs:
        tracking.log_job(chosen, job, sweep_dir)
    check_mlflow(store_uri, "folders", jobs, sweep_dir)
    assert sorted(p.stat().st_mtime_ns for p in jobs[0].rglob("events.out.tfevents.*")) == events

    record = json.loads((jobs[0] / "run.json").read_text())
    record["started_at"] = "2026-02-01T00:00:00+00:00"  # the job ran again: its new rows replace the old
    (jobs[0] / "run.json").write_text(json.dumps(record))
    tracking.log_job(chosen, jobs[0], sweep_dir)
    assert len(runs_of(store_uri, "folders")["job"]) == 3
    check_tensorboard(jobs)


@pytest.mark.slow
def test_a_locked_store_fails_with_one_line_or_warns_when_asked(tmp_path, store_uri, caplog):
    write_sweep(tmp_path / "sweep", {"forward": {0: 0.8}})
    job = tmp_path / "sweep" / "0"
    database = store_uri.removeprefix("sqlite:///")
    MlflowClient(tracking_uri=store_uri).search_experiments()  # the tables exist before the lock is taken
    lock = sqlite3.connect(database, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(tracking.TrackingError) as failure:
            tracking.log_job(settings(store_uri, "locked", tensorboard=False), job)
        with caplog.at_level(logging.WARNING):
            tracking.log_job(settings(store_uri, "locked", tensorboard=False, on_error="warn"), job)
    finally:
        lock.rollback()
        lock.close()
    message = str(failure.value)
    assert "\n" not in message and message.startswith("tracking.mlflow: could not log at sqlite:")
    assert "database is locked" in message
    assert any("database is locked" in r.message and "on_error=warn" in r.message for r in caplog.records)
    assert runs_of(store_uri, "locked")["job"] == []


@pytest.mark.slow
def test_a_bad_uri_fails_the_run_after_its_folder_is_written_and_the_same_command_then_logs_it(tmp_path):
    run_dir = tmp_path / "run"
    common = [*QUICK, NO_XLA, "tracking=mlflow", f"hydra.run.dir={run_dir}"]
    failed = run_cli(*common, "tracking.uri=nowhere://store", cwd=tmp_path)
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert lines[-1].startswith("bench.run: tracking.mlflow: could not log at nowhere://store"), failed.stderr
    assert "Traceback" not in failed.stderr
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"

    warned = run_cli(*common, "tracking.uri=nowhere://store", "tracking.on_error=warn", cwd=tmp_path)
    assert warned.returncode == 0 and "tracking.on_error=warn: going on" in warned.stdout

    uri = f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}"
    logged = run_cli(*common, f"tracking.uri={uri}", cwd=tmp_path)
    assert logged.returncode == 0, logged.stderr[-2000:]
    assert "skipped" in logged.stdout
    check_mlflow(uri, "bilstm-bench", [run_dir], None)


@pytest.mark.slow
def test_a_tracked_sweep_leaves_a_parent_run_job_runs_seed_runs_and_event_files(tmp_path):
    sweep_dir = tmp_path / "sweep"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["-m", "model=bidirectional_sum,forward", "n_seeds=2", *QUICK, NO_XLA, "tracking=[mlflow,tensorboard]"]
    args += [f"tracking.uri={uri}", f"hydra.sweep.dir={sweep_dir}"]
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = [sweep_dir / "0", sweep_dir / "1"]
    check_mlflow(uri, "bilstm-bench", jobs, sweep_dir)
    check_tensorboard(jobs)
    assert runs_of(uri, "bilstm-bench")["sweep"][0].info.status == "FINISHED"
