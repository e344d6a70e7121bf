"""Each variant at its own learning rate: the choice on validation data and search seeds only, and the comparison
of default and tuned rates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from bench import data, tune
from bench.analysis import Options, analyse
from bench.collect import collect
from bench.engines import Recorder, Timings, train
from bench.schema import seeds_of
from bench.tuning import SEARCH_FIRST_SEED, TuningError, check_disjoint, chosen_rates, search_table, side_by_side
from helpers.configs import make_config
from helpers.results import write_variant_job

OPTIONS = Options(last_k=1, n_boot=200)


def write_search(sweep: Path, finals: dict[tuple[str, float], dict[int, float]], scored_on="validation") -> Path:
    """A search sweep: (variant, learning rate) -> seed -> final validation accuracy, one job each."""
    sweep.mkdir(parents=True)
    for number, ((variant, rate), accuracy) in enumerate(finals.items()):
        job = sweep / str(number)
        write_variant_job(job, variant, accuracy)
        record = json.loads((job / "run.json").read_text())
        record["config"]["train"]["learning_rate"] = rate
        record["config"]["data"]["evaluation_set"] = scored_on
        (job / "run.json").write_text(json.dumps(record))
    return sweep


SEEDS = (SEARCH_FIRST_SEED, SEARCH_FIRST_SEED + 1, SEARCH_FIRST_SEED + 2)


def search(tmp_path: Path, **options) -> pd.DataFrame:
    finals = {
        ("forward", 0.001): dict(zip(SEEDS, (0.90, 0.91, 0.92), strict=True)),
        ("forward", 0.01): dict(zip(SEEDS, (0.93, 0.94, 0.95), strict=True)),
        ("forward", 0.03): dict(zip(SEEDS, (0.93, 0.95, 0.94), strict=True)),
        ("bidirectional-sum", 0.001): dict(zip(SEEDS, (0.96, 0.97, 0.98), strict=True)),
        ("bidirectional-sum", 0.01): dict(zip(SEEDS, (0.95, 0.95, 0.95), strict=True)),
    }
    return search_table(collect([write_search(tmp_path / "search", finals, **options)]), OPTIONS.method, 1)


def test_each_variant_gets_the_rate_with_the_highest_mean_validation_accuracy_the_smaller_on_a_tie(tmp_path):
    table = search(tmp_path)
    assert table[["variant", "learning_rate", "n_seeds"]].values.tolist() == [
        ["forward", 0.001, 3],
        ["forward", 0.01, 3],
        ["forward", 0.03, 3],
        ["bidirectional-sum", 0.001, 3],
        ["bidirectional-sum", 0.01, 3],
    ]
    assert table["validation_accuracy_mean"].tolist() == pytest.approx([0.91, 0.94, 0.94, 0.97, 0.95])
    # forward ties at 0.01 and 0.03: the smaller rate wins
    assert chosen_rates(table) == {"forward": 0.01, "bidirectional-sum": 0.001}


def test_a_search_scored_on_the_held_out_set_is_refused(tmp_path):
    with pytest.raises(TuningError, match="must score the validation set"):
        search(tmp_path, scored_on="heldout")


def test_search_seeds_below_the_search_range_are_refused(tmp_path):
    sweep = write_search(
        tmp_path / "search", {("forward", 0.001): {3: 0.9}, ("backward", 0.001): {SEARCH_FIRST_SEED: 0.9}}
    )
    with pytest.raises(TuningError, match="search seed 3 lies in the range reported runs use"):
        search_table(collect([sweep]), OPTIONS.method, 1)
    with pytest.raises(TuningError, match="final seed 1000 is also a search seed"):
        check_disjoint(SEEDS, range(1001))
    check_disjoint(SEEDS, range(10))


def test_the_presets_keep_the_search_apart_from_what_a_report_shows():
    searched = make_config("experiment=tuning_search")
    reported = make_config("experiment=all")
    assert searched.data.evaluation_set.value == "validation" and reported.data.evaluation_set.value == "heldout"
    assert seeds_of(searched) == list(SEEDS) and not set(seeds_of(searched)) & set(seeds_of(reported))
    # the two sets of one seed come from streams of their own, at the training lengths and at other lengths: they
    # share no more values than independent float32 draws do by chance
    validation = data.heldout_set(0, 10, 10, 0.25, 100, validation=True)
    assert np.isin(validation.x, data.heldout_set(0, 10, 10, 0.25, 100).x).mean() < 0.01
    other_length = data.heldout_at_length(0, 50, 0.25, 100, validation=True)
    assert np.isin(other_length.x, data.heldout_at_length(0, 50, 0.25, 100).x).mean() < 0.01


@pytest.mark.slow
def test_a_validation_run_trains_the_same_and_scores_the_validation_set(quick):
    def run(*overrides):
        cfg = make_config("model=forward", *quick, "train.jit_compile=false", *overrides)
        recorder = Recorder(cfg, seeds_of(cfg))
        train(cfg, recorder, Timings(), lambda done, total: None)
        return recorder.metrics()

    heldout, validation = run(), run("data.evaluation_set=validation")
    train_rows = heldout["split"] == "train"
    pd.testing.assert_frame_equal(heldout.loc[train_rows], validation.loc[train_rows])
    assert not np.allclose(heldout.loc[~train_rows, "loss"], validation.loc[~train_rows, "loss"])
    reference = run("data.evaluation_set=validation", "engine=reference")
    np.testing.assert_allclose(reference[["loss", "accuracy"]], validation[["loss", "accuracy"]], atol=1e-4)


def test_the_side_by_side_table_pairs_default_and_tuned_runs_by_seed(tmp_path):
    rates = search(tmp_path)
    write_variant_job(tmp_path / "default" / "0", "forward", {0: 0.90, 1: 0.92, 2: 0.91})
    tuned = tmp_path / "tuned" / "forward"
    write_variant_job(tuned / "0", "forward", {0: 0.93, 1: 0.96, 2: 0.93})
    table = side_by_side(analyse(collect([tmp_path / "default"]), OPTIONS), analyse(collect([tuned]), OPTIONS), rates)
    row = table.iloc[0]
    assert row["variant"] == "forward" and row["chosen_learning_rate"] == 0.01 and row["n_pairs"] == 3
    assert (row["default_mean"], row["tuned_mean"]) == pytest.approx((0.91, 0.94))
    # differences 0.03, 0.04, 0.02: mean 0.03, Student t interval 0.03 +- 4.303 * 0.01 / sqrt(3)
    half = 4.302653 * 0.01 / np.sqrt(3)
    assert (row["difference_low"], row["difference_high"]) == pytest.approx((0.03 - half, 0.03 + half))


def test_the_command_refuses_a_search_that_breaks_the_protocol_in_one_line(tmp_path, capsys):
    write_search(tmp_path / "search", {("forward", 0.001): dict.fromkeys(SEEDS, 0.9)}, scored_on="heldout")
    assert tune.main([str(tmp_path / "search")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("bench.tune: the search's runs must score the validation set")
    write_search(tmp_path / "low", {("forward", 0.001): {0: 0.9}})
    assert tune.main([str(tmp_path / "low"), "--seeds", "3"]) == 2
    assert "search seed 0 lies in the range reported runs use" in capsys.readouterr().err
    assert tune.main([str(tmp_path / "nowhere")]) == 2


@pytest.mark.slow
def test_ctrl_c_on_the_command_stops_its_sweep_which_records_its_jobs_as_interrupted(tmp_path):
    # the sweep used to be killed 0.25 s after a Ctrl-C (subprocess.run's way), or left running after a SIGTERM
    search_dir = write_search(tmp_path / "search", {("forward", 0.001): dict.fromkeys(SEEDS, 0.9)})
    command = [sys.executable, "-m", "bench.tune", str(search_dir), "--seeds", "1", "--epochs", "200000"]
    env = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().startswith("bench.tune: forward: learning rate")
    assert process.stdout.readline().startswith("bench.tune: python -m bench.run -m experiment=all")
    sweep = tmp_path / "outputs/multirun/tuned-1seeds-200000epochs/default"
    records = sweep / "0" / "run.json"
    deadline = time.monotonic() + 120
    while not (records.exists() and json.loads(records.read_text()).get("status") == "running"):
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)  # to this process alone: the sweep hears it from the command
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-2:] == [
        "bench.run: interrupted",
        "bench.tune: the sweep above ended with exit status 130",
    ]
    assert json.loads(records.read_text())["status"] == "interrupted"
    assert not [job for job in psutil.process_iter(["cmdline"]) if str(sweep) in " ".join(job.info["cmdline"] or [])]


def test_the_final_sweeps_run_with_the_launcher_given(tmp_path, monkeypatch):
    sweeps = []
    monkeypatch.setattr(tune, "_sweep", sweeps.append)
    monkeypatch.setattr(
        tune, "collect", lambda _: collect([write_search(tmp_path / "default", {("forward", 0.001): {0: 0.9}})])
    )
    tune.run_finals({"forward": 0.01}, 1, 20, tmp_path / "finals", "parallel")
    assert len(sweeps) == 2 and all("hydra/launcher=parallel" in overrides for overrides in sweeps)
    assert tune.parse_args([str(tmp_path)]).launcher == "basic"


def test_a_signal_that_reaches_a_sweep_as_it_ends_well_still_stops_the_command(monkeypatch):
    class EndingSweep:
        sent: list[int] = []

        def __init__(self, *args, **kwargs):
            pass

        def send_signal(self, signum):
            self.sent.append(signum)

        def wait(self):
            os.kill(os.getpid(), signal.SIGHUP)  # the terminal closes as the sweep ends with exit status 0
            return 0

    monkeypatch.setattr(tune.subprocess, "Popen", EndingSweep)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        tune._sweep(["model=forward"])
    assert EndingSweep.sent == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
