"""The command line: bad values, a real sweep into a temporary folder, and its job folders."""

import json

import pandas as pd
import psutil
import pytest

from bench import memory
from bench.schema import ConfigError
from helpers.cli import run_cli
from helpers.configs import NO_XLA, QUICK, make_config

BAD_VALUES = {
    "model.merge=avg": "model.merge",
    "model=sideways": "model",
    "model.cell=lstn": "model.cell",
    "train.epochs=0": "train.epochs",
    "seed=-1": "seed",
    "data.n_timesteps=1": "data.n_timesteps",
    "data.threshold=0": "data.threshold",
    "data.threshold=1.5": "data.threshold",
    "model.units=0": "model.units",
    "device=gpu": "device",
    "model=forward model.merge=sum": "model.merge",
    "model=bidirectional model.aligned=false": "model.aligned",
    "n_seeds=0": "n_seeds",
    "train.epochs=abc": "train.epochs",
    "model.depth=2": "model.depth",
    "data.min_timesteps=1": "data.min_timesteps",
    "data.min_timesteps=8 data.max_timesteps=5": "data.max_timesteps",
    "train.batch_size=0": "train.batch_size",
    "engine=turbo": "engine",
    "data.heldout_lengths=[5,5]": "data.heldout_lengths",
    "data.heldout_lengths=[1,20]": "data.heldout_lengths",
    "data.heldout_lengths=[]": "data.heldout_lengths",
    "data.heldout_lengths=20": "data.heldout_lengths",
    # accepted before, though wrong: a typo added with +, an unknown key, seeds NumPy cannot take, infinity
    "+train.epoch=20": "train.epoch",
    "+foo=1": "foo",
    "seed=4294967296": "seed",
    "seed=4294967295 n_seeds=2": "n_seeds",
    "train.learning_rate=inf": "train.learning_rate",
    "train.learning_rate=nan": "train.learning_rate",
    "train.batch_size=100000000": "train.batch_size",
}


@pytest.mark.parametrize("overrides, key", list(BAD_VALUES.items()), ids=list(BAD_VALUES))
def test_a_bad_value_gives_one_line_naming_the_key_a_non_zero_exit_and_no_run_folder(overrides, key, tmp_path):
    if overrides == "device=gpu":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            pytest.skip("this machine has a GPU")
    result = run_cli(*overrides.split(), f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert lines[0].startswith("bench.run: ") and key in lines[0]
    # nothing is written: the run folder is made only once every value has been checked
    assert not (tmp_path / "run").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_typo_added_with_plus_names_the_key_it_meant(tmp_path):
    typo = run_cli("+train.epoch=20", cwd=tmp_path)
    assert typo.returncode == 2
    assert "did you mean train.epochs?" in typo.stderr


def test_a_sweep_with_a_bad_value_in_one_job_writes_nothing(tmp_path):
    sweep = tmp_path / "sweep"
    for bad in (["model=forward", "seed=0,4294967296"], ["model=forward,backward", "+train.epoch=20"]):
        result = run_cli("-m", *bad, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Launching" not in result.stdout
        assert not sweep.exists()


def test_jobs_that_would_share_a_folder_are_refused_before_either_writes(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m", "model=forward,backward", "hydra.sweep.subdir=same", f"hydra.sweep.dir={sweep}", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "bench.run: hydra.sweep.subdir=same is not allowed: a folder of its own for each job; "
        f"jobs 0 and 1 would both write to {sweep}/same"
    ]
    assert not sweep.exists()


@pytest.mark.parametrize("mode, key", [("-m", "hydra.sweep.dir"), ("model=forward", "hydra.run.dir")])
def test_an_empty_output_folder_is_refused_instead_of_writing_into_the_current_folder(tmp_path, mode, key):
    result = run_cli(mode, f"{key}=", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"bench.run: {key}=''") and "current folder" in line
    assert list(tmp_path.iterdir()) == []


def test_a_non_ascii_path_without_quotes_gets_a_quoting_hint(tmp_path):
    result = run_cli(f"hydra.run.dir={tmp_path}/Ergebnisse-ü", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "quote" in line and f"'hydra.run.dir=\"{tmp_path}/Ergebnisse-ü\"'" in line


def test_a_held_out_set_that_would_not_fit_in_memory_is_refused_with_an_estimate(tmp_path):
    cfg = make_config("data.heldout_size=200000000")
    needed = sum(memory.estimated_bytes(cfg).values())
    if needed <= psutil.virtual_memory().available:
        pytest.skip("this machine has the memory for it")
    result = run_cli("data.heldout_size=200000000", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("bench.run: data.heldout_size=200000000 is not allowed: the job would need about")
    assert "GB of memory" in line and "available" in line
    assert not (tmp_path / "run").exists()


def test_the_memory_estimate_grows_with_sizes_and_counts_jobs_run_side_by_side(monkeypatch):
    small, large = make_config("data.heldout_size=1000"), make_config("data.heldout_size=2000000")
    # measured: 2,000,000 sequences of 10 steps peak about 1.2 GB above the runtime's own memory
    assert 1.0 < memory.estimated_bytes(large)["held-out set"] / 2**30 < 1.6
    assert memory.estimated_bytes(small)["held-out set"] < 2**20
    # a held-out set of 100 steps besides the one of 10 holds 11 times the steps
    other_length = make_config("data.heldout_size=2000000", "data.heldout_lengths=[100]")
    assert memory.estimated_bytes(other_length)["held-out set"] == 11 * memory.estimated_bytes(large)["held-out set"]
    packed = make_config("data.heldout_size=2000000", "n_seeds=4")
    assert memory.estimated_bytes(packed)["held-out set"] > 2 * memory.estimated_bytes(large)["held-out set"]
    one_job = sum(memory.estimated_bytes(large).values())

    class Available:
        available = int(one_job * 1.5)

    monkeypatch.setattr(memory.psutil, "virtual_memory", lambda: Available)
    memory.check([large], side_by_side=1)
    with pytest.raises(ConfigError, match="for 2 jobs side by side"):
        memory.check([large], side_by_side=2)


def test_the_allowed_values_are_named(tmp_path):
    merge = run_cli("model.merge=avg", cwd=tmp_path)
    assert merge.returncode == 2 and all(name in merge.stderr for name in ("sum", "mul", "concat", "ave"))
    model = run_cli("model=sideways", cwd=tmp_path)
    assert model.returncode == 2 and all(name in model.stderr for name in ("forward", "backward", "bidirectional"))
    cell = run_cli("model.cell=transformer", cwd=tmp_path)
    assert cell.returncode == 2 and all(name in cell.stderr for name in ("lstm", "gru", "simple_rnn"))


@pytest.mark.slow
def test_a_sweep_of_merges_and_seeds_writes_one_job_folder_per_combination(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        "model.merge=sum,mul,concat,ave",
        "seed=0,1,2",
        *QUICK,
        NO_XLA,
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(jobs) == 12
    assert "job 12/12" in result.stdout
    seen = set()
    for job in jobs:
        metrics = pd.read_csv(job / "metrics.csv")
        assert {"variant", "direction", "merge", "aligned", "seed", "epoch", "split", "loss", "accuracy"} <= set(
            metrics
        )
        assert (metrics["split"] == "train").sum() == 20
        assert metrics.query("split == 'heldout'")["epoch"].tolist() == [0, 10, 20]
        record = json.loads((job / "run.json").read_text())
        assert record["status"] == "completed"
        assert record["config"]["train"]["epochs"] == 20
        assert "keras" in record["versions"] and {"tensorflow", "tensorflow-cpu"} & set(record["versions"])
        assert {"scipy", "seaborn"} <= set(record["versions"])
        # start-up and the 20 training epochs of its one seed lie inside the job's wall time (seconds, milliseconds)
        assert 0 < record["startup_s"] < record["wall_time_s"]
        assert 0 < record["ms_per_seed_epoch"] * 20 / 1000 < record["wall_time_s"]
        seen.add((metrics["variant"].iloc[0], int(metrics["seed"].iloc[0])))
    assert seen == {(f"bidirectional-{m}", s) for m in ("sum", "mul", "concat", "ave") for s in (0, 1, 2)}


@pytest.mark.slow
def test_a_single_run_prints_a_summary_without_nan_ms_per_epoch_and_writes_its_job_folder(tmp_path):
    result = run_cli("model=backward_unaligned", "train.epochs=30", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "final held-out loss" in result.stdout and "wall" in result.stdout
    # 30 epochs are one chunk (eval_every 50): no steady epoch to time, and no "nan ms/epoch"
    assert "too short to time an epoch" in result.stdout and "nan" not in result.stdout
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert set(metrics["variant"]) == {"backward-unaligned"}
    assert (metrics["split"] == "train").sum() == 30
    by_length = pd.read_csv(tmp_path / "run" / "heldout_by_length.csv")
    # every held-out evaluation (epochs 0 and 30) at the one training length
    assert by_length[["epoch", "length", "n_sequences"]].values.tolist() == [[0, 10, 1000], [30, 10, 1000]]
