"""The command line: bad values, a real sweep into a temporary folder, and its job folders."""

import json

import pandas as pd
import pytest
from conftest import run_cli

BAD_VALUES = {
    "model.merge=avg": "model.merge",
    "model=sideways": "model",
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
}


@pytest.mark.parametrize("overrides, key", list(BAD_VALUES.items()), ids=list(BAD_VALUES))
def test_a_bad_value_gives_one_line_naming_the_key_and_a_non_zero_exit(overrides, key, tmp_path):
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
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_the_allowed_values_are_named(tmp_path):
    merge = run_cli("model.merge=avg", cwd=tmp_path)
    assert merge.returncode == 2 and all(name in merge.stderr for name in ("sum", "mul", "concat", "ave"))
    model = run_cli("model=sideways", cwd=tmp_path)
    assert model.returncode == 2 and all(name in model.stderr for name in ("forward", "backward", "bidirectional"))


@pytest.mark.slow
def test_a_sweep_of_merges_and_seeds_writes_one_job_folder_per_combination(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m",
        "model.merge=sum,mul,concat,ave",
        "seed=0,1,2",
        "train.epochs=20",
        "train.eval_every=10",
        "data.heldout_size=64",
        "train.jit_compile=false",
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
        assert record["wall_time_s"] > 0 and record["ms_per_seed_epoch"] > 0
        seen.add((metrics["variant"].iloc[0], int(metrics["seed"].iloc[0])))
    assert seen == {(f"bidirectional-{m}", s) for m in ("sum", "mul", "concat", "ave") for s in (0, 1, 2)}


@pytest.mark.slow
def test_a_single_run_prints_a_summary_and_writes_its_job_folder(tmp_path):
    result = run_cli("model=backward_unaligned", "train.epochs=30", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "final held-out loss" in result.stdout and "wall" in result.stdout
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert set(metrics["variant"]) == {"backward-unaligned"}
    assert (metrics["split"] == "train").sum() == 30
    by_length = pd.read_csv(tmp_path / "run" / "heldout_by_length.csv")
    assert by_length["length"].tolist() == [10] and by_length["n_sequences"].tolist() == [1000]
