"""The report cross-checks what it reads: rows against run.json's config, non-finite final values, folders that
cannot be read. Each test is named after a way a report used to go wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bench import collect, report
from bench.store import METRICS_FILE, RUN_FILE
from helpers.results import curve_rows, write_sweep

FINALS = {"forward": {0: 0.80, 1: 0.84}, "backward": {0: 0.70, 1: 0.74}}


def problems_of(sweep: Path) -> dict[tuple[str, int | None], tuple[str, str]]:
    """(job folder name, seed or None) -> (kind, reason) for every problem the report would list."""
    rows = collect.collect([sweep]).problems
    return {
        (Path(row.run_dir).name, None if pd.isna(row.seed) else int(row.seed)): (row.kind, row.reason)
        for row in rows.itertuples()
    }


def used_seeds(sweep: Path) -> dict[str, list[int]]:
    metrics = collect.collect([sweep]).metrics
    return {variant: sorted(set(rows["seed"])) for variant, rows in metrics.groupby("variant")}


def edit_run_json(job: Path, change) -> None:
    record = json.loads((job / RUN_FILE).read_text())
    change(record)
    (job / RUN_FILE).write_text(json.dumps(record))


@pytest.fixture
def sweep(tmp_path):
    folder = tmp_path / "sweep"
    write_sweep(folder, FINALS)  # job 0 forward, job 1 backward; 20 epochs, seeds 0 and 1
    return folder


def test_a_300_epoch_metrics_csv_inside_a_60_epoch_job_is_not_reported_as_that_job(sweep):
    longer = pd.concat([curve_rows("forward", seed, epochs=300, eval_every=5) for seed in (0, 1)])
    longer.to_csv(sweep / "0" / METRICS_FILE, index=False)
    kind, reason = problems_of(sweep)[("0", 0)]
    assert kind == "damaged" and "train rows at epoch 21, which the config does not have" in reason
    assert "forward" not in used_seeds(sweep)


def test_rows_for_a_seed_that_run_json_does_not_list_are_damage(sweep):
    metrics = pd.read_csv(sweep / "0" / METRICS_FILE)
    pd.concat([metrics, curve_rows("forward", 2)]).to_csv(sweep / "0" / METRICS_FILE, index=False)
    assert problems_of(sweep)[("0", None)] == (
        "damaged",
        "metrics.csv has rows for seed 2, which the config does not train",
    )
    assert "forward" not in used_seeds(sweep)


def test_a_run_json_that_lists_other_seeds_than_its_config_is_damage(sweep):
    edit_run_json(sweep / "0", lambda record: record.update(seeds=[0, 1, 2]))
    kind, reason = problems_of(sweep)[("0", None)]
    assert kind == "damaged" and reason == "run.json lists seeds [0, 1, 2], but its config trains seeds [0, 1]"


def test_epochs_as_a_string_in_run_json_is_damage_not_a_skipped_check(sweep):
    edit_run_json(sweep / "0", lambda record: record["config"]["train"].update(epochs="20"))
    # seed 1 cut short: the check that a string epochs used to skip
    metrics = pd.read_csv(sweep / "0" / METRICS_FILE)
    metrics.loc[(metrics["seed"] == 0) | (metrics["epoch"] <= 15)].to_csv(sweep / "0" / METRICS_FILE, index=False)
    assert problems_of(sweep)[("0", None)] == (
        "damaged",
        "run.json: its config gives train.epochs as '20', not a whole number in range",
    )
    assert "forward" not in used_seeds(sweep)


def test_a_truncated_seed_is_partial_and_the_other_seed_still_used(sweep):
    metrics = pd.read_csv(sweep / "0" / METRICS_FILE)
    metrics.loc[(metrics["seed"] == 0) | (metrics["epoch"] <= 15)].to_csv(sweep / "0" / METRICS_FILE, index=False)
    assert problems_of(sweep)[("0", 1)] == ("partial", "heldout rows end at epoch 15 of 20")
    assert used_seeds(sweep)["forward"] == [0]


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_nan_final_heldout_loss_is_listed_and_never_averaged_away(sweep, value):
    metrics = pd.read_csv(sweep / "0" / METRICS_FILE, dtype=str, keep_default_na=False)
    last = (metrics["seed"] == "1") & (metrics["split"] == "heldout") & (metrics["epoch"] == "20")
    metrics.loc[last, "loss"] = value
    metrics.to_csv(sweep / "0" / METRICS_FILE, index=False)

    kind, reason = problems_of(sweep)[("0", 1)]
    assert kind == "damaged" and f"holds a heldout loss of {value} at epoch 20" in reason
    assert report.main([str(sweep), "--n-boot", "50", "--last-k", "1"]) == 0
    summary = pd.read_csv(sweep / "report" / "summary.csv").set_index("variant")
    # one seed left, and the loss mean is that seed's: the summary never claims two seeds for one seed's mean
    assert summary.loc["forward", "n_seeds"] == 1
    assert summary.loc["forward", "final_loss_mean"] == pytest.approx(1 - FINALS["forward"][0])
    listed = pd.read_csv(sweep / "report" / "problems.csv")
    assert ((listed["seed"] == 1) & listed["reason"].str.contains(f"loss of {value}")).any()
