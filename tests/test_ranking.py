"""The ranking: probability of being best over joint resamples of seeds, and ranks with ties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import pairwise, ranking
from bench.intervals import IntervalMethod
from helpers.results import outcome_rows

METHOD = IntervalMethod(n_boot=1000, seed=2)


def rank(values: dict[str, list[float]]) -> ranking.Ranking:
    seeds = outcome_rows(values)
    pairs = pairwise.pairwise_comparisons(seeds, "final_accuracy", METHOD)
    return ranking.rank_rows(seeds, pairs, "final_accuracy", METHOD)


def test_joint_resampling_keeps_the_pairing():
    # seeds differ a lot, yet b is above a by 0.001 on every seed: b is best in every joint resample
    spread = np.random.default_rng(1).normal(0.9, 0.03, size=10)
    result = rank({"forward": list(spread), "backward": list(spread + 0.001)})
    table = result.table.set_index("variant")
    assert table.loc["backward", "prob_best"] == 1.0 and table.loc["forward", "prob_best"] == 0.0
    assert (
        result.resampling
        == "1000 bootstrap resamples of the 10 seeds every row has, drawn jointly for all rows (seed 2)"
    )


def test_without_shared_seeds_each_row_is_resampled_alone():
    values = {"forward": [0.9, 0.91, math.nan, math.nan], "backward": [math.nan, math.nan, 0.8, 0.82]}
    result = rank(values)
    assert "drawn for each row on its own (the rows share fewer than 2 seeds)" in result.resampling
    assert result.table.set_index("variant").loc["forward", "prob_best"] == 1.0


def test_ties_share_the_best_resamples_equally():
    result = rank({"forward": [0.9, 0.91, 0.92], "backward": [0.9, 0.91, 0.92]})
    assert result.table["prob_best"].tolist() == [0.5, 0.5]
    assert result.table["rank"].tolist() == [1, 1]


def test_rank_is_one_plus_the_rows_that_beat_it():
    rng = np.random.default_rng(4)
    base = rng.normal(0.9, 0.01, size=10)
    values = {
        "forward": list(base),
        # a and b: clearly above forward, indistinguishable from each other
        "bidirectional-sum": list(base + 0.05 + rng.normal(0, 0.002, 10)),
        "bidirectional-concat": list(base + 0.05 + rng.normal(0, 0.002, 10)),
        "backward": list(base - 0.05 + rng.normal(0, 0.002, 10)),
    }
    table = rank(values).table
    assert table["rank"].tolist() == [1, 1, 3, 4]
    assert set(table["variant"][:2]) == {"bidirectional-sum", "bidirectional-concat"}
    assert table["variant"][2:].tolist() == ["forward", "backward"]
    top = table.iloc[0]
    assert top["not_separated_from"] == table.iloc[1]["variant"]
    assert top["beats"] == "forward, backward" and top["beaten_by"] == ""
    assert table.iloc[3]["beaten_by"].count(",") == 2
    assert table["prob_best"].sum() == pytest.approx(1.0)
