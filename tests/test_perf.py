"""The speed benchmark's table: its columns and the relations between them (never wall-time thresholds)."""

import pandas as pd
import pytest

from bench import perf

TINY = ["train.epochs=30", "train.eval_every=10", "data.heldout_size=32", "train.jit_compile=false"]


def test_a_benchmark_row_accounts_for_every_seed_and_phase(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(perf, "COMMON", ["model=bidirectional_concat", "seed=0"])
    monkeypatch.setattr(perf, "CASES", [("reference loop", ["engine=reference"]), ("packed, 3 seeds", ["n_seeds=3"])])
    table = perf.main(["--out", str(tmp_path / "perf.csv"), *TINY])
    written = pd.read_csv(tmp_path / "perf.csv")
    assert written["case"].tolist() == ["reference loop", "packed, 3 seeds"]
    assert written["seeds"].tolist() == [1, 3] and written["epochs"].tolist() == [30, 30]
    packed = table.iloc[1]
    # per seed-epoch divides by the packed seeds; the reference loop trains seeds one after another
    assert packed["ms_per_seed_epoch"] * 3 == pytest.approx(packed["ms_per_epoch"])
    assert table.iloc[0]["ms_per_seed_epoch"] == table.iloc[0]["ms_per_epoch"]
    assert 0 < packed["first_epoch_s"] < packed["wall_s"]
    assert table["speedup"].iloc[0] == 1.0 and packed["speedup"] > 0
    assert (written["peak_rss_mb"] > 100).all()
    # the cost of tracking a finished job, which is all tracking adds
    assert "tracking a job of 10 seeds x 30 epochs: mlflow " in capsys.readouterr().out
