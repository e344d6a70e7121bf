"""Statistics over seeds: curve summaries, per-seed outcomes, time to a level, per-variant summaries, bands."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench import stats
from bench.intervals import IntervalMethod, clopper_pearson, mean_interval
from helpers.results import curve_rows

METHOD = IntervalMethod()


class TestCurves:
    def test_normalised_area_is_the_mean_height(self):
        assert stats.normalised_area([0, 10], [0.4, 0.4]) == pytest.approx(0.4)
        assert stats.normalised_area([0, 5, 10], [1.0, 0.5, 0.0]) == pytest.approx(0.5)
        # uneven spacing: trapezoids weigh by the epochs they span
        assert stats.normalised_area([10, 0, 2], [0.0, 1.0, 1.0]) == pytest.approx((2 + 4) / 10)
        assert stats.normalised_area([3], [0.2]) == pytest.approx(0.2)
        assert math.isnan(stats.normalised_area([], []))

    def test_sustained_crossing_ignores_crossings_that_fall_back(self):
        assert stats.sustained_crossing([0, 5, 10, 15], [0.5, 0.95, 0.9, 0.97], 0.95) == 15
        assert stats.sustained_crossing([15, 0, 10, 5], [0.97, 0.5, 0.95, 0.96], 0.95) == 5
        assert stats.sustained_crossing([0, 5], [0.96, 0.97], 0.95) == 0
        # crossed, then ended below: never reached
        assert math.isnan(stats.sustained_crossing([0, 5, 10], [0.5, 0.96, 0.94], 0.95))
        assert math.isnan(stats.sustained_crossing([], [], 0.95))

    def test_rolling_mean_is_per_seed_and_trailing(self):
        frame = pd.DataFrame(
            {
                "variant": ["forward"] * 6,
                "seed": [0, 0, 0, 1, 1, 1],
                "epoch": [3, 1, 2, 1, 2, 3],
                "loss": [3.0, 1.0, 2.0, 10.0, 20.0, 30.0],
            }
        )
        smoothed = stats.rolling_mean_per_seed(frame, ["loss"], window=2)
        assert smoothed["loss"].tolist() == [1.0, 1.5, 2.5, 10.0, 15.0, 25.0]
        assert stats.rolling_mean_per_seed(frame, ["loss"], window=1)["loss"].tolist() == [
            1,
            2,
            3,
            10,
            20,
            30,
        ]

    def test_curve_intervals_are_the_interval_of_each_epoch(self):
        metrics = pd.concat([curve_rows("forward", seed, final_accuracy=0.8 + 0.02 * seed) for seed in range(4)])
        heldout = metrics.loc[metrics["split"] == "heldout"]
        bands = stats.curve_intervals(heldout, "accuracy", METHOD)
        assert bands["epoch"].tolist() == [0, 5, 10, 15, 20] and set(bands["n"]) == {4}
        final = mean_interval(heldout.loc[heldout["epoch"] == 20, "accuracy"], METHOD)
        last = bands.iloc[-1]
        assert (last["accuracy_mean"], last["accuracy_low"], last["accuracy_high"]) == pytest.approx(
            (final.estimate, final.low, final.high)
        )


class TestOutcomesAndSummary:
    @staticmethod
    def metrics(accuracy: dict[int, tuple[float, float]]) -> pd.DataFrame:
        """Held-out accuracy rising in a straight line from start to final: seed -> (start, final)."""
        return pd.concat(
            [
                curve_rows("forward", seed, final_accuracy=final, start_accuracy=start)
                for seed, (start, final) in accuracy.items()
            ],
            ignore_index=True,
        )

    def test_final_is_the_mean_of_the_last_k_evaluations(self):
        # held-out at epochs 0, 5, 10, 15, 20 on a line from 0.5 to 0.9: 0.7, 0.8, 0.9 at the last three
        metrics = self.metrics({0: (0.5, 0.9), 1: (0.5, 0.8)})
        outcomes = stats.seed_outcomes(metrics, level=0.95)
        assert outcomes["final_accuracy"].tolist() == pytest.approx([0.8, 0.725])
        assert outcomes[["final_from", "final_epoch"]].values.tolist() == [[10, 20], [10, 20]]
        last_only = stats.seed_outcomes(metrics, level=0.95, last_k=1)
        assert last_only["final_accuracy"].tolist() == pytest.approx([0.9, 0.8])
        assert last_only["final_from"].tolist() == [20, 20]
        # straight loss line from 0.7 to 0.3: mean height 0.5
        assert outcomes["auc_loss"].tolist() == pytest.approx([0.5, 0.5])

    def test_epochs_to_level_is_a_sustained_crossing_per_seed(self):
        # evaluated at epochs 0, 5, 10, 15, 20: 0.55 -> 1.0 stays above 0.95 from 20 (0.8875 at 15);
        # 0.9 -> 0.98 from 15 (0.94 at 10, 0.96 at 15); the last two never reach it
        accuracy = {0: (0.55, 1.0), 1: (0.9, 0.98), 2: (0.55, 0.9), 3: (0.55, 0.8)}
        outcomes = stats.seed_outcomes(self.metrics(accuracy), level=0.95)
        assert outcomes["epochs_to_level"].tolist()[:2] == [20, 15]
        assert outcomes["epochs_to_level"].isna().tolist() == [False, False, True, True]

    def test_time_to_level_is_a_kaplan_meier_median_with_censored_seeds(self):
        times = [300, 400, 500, 600, 700, 800] + [math.nan] * 4
        row = stats.time_to_level(times, [1000] * 10, 0.95)
        assert (row["n_reached"], row["reached_share"]) == (6, 0.6)
        assert (row["reached_low"], row["reached_high"]) == pytest.approx(clopper_pearson(6, 10))
        # half the seeds have reached it at 700; the order-statistic interval of n = 10 is [2nd, 9th]
        assert (row["median_epochs"], row["median_low"], row["median_high"]) == (700, 400, math.inf)

    def test_a_few_early_seeds_do_not_make_a_median(self):
        # three of ten seeds reach the level early: the mean of those three would say 400, the median says never
        row = stats.time_to_level([300, 400, 500] + [math.nan] * 7, [1000] * 10, 0.95)
        assert math.isnan(row["median_epochs"]) and row["reached_share"] == 0.3
        # yet three early seeds of ten leave a median as early as the second of them possible
        assert (row["median_low"], row["median_high"]) == (400, math.inf)

    def test_no_seed_reaching_the_level_is_not_reached_not_an_error(self):
        row = stats.time_to_level([math.nan] * 4, [20] * 4, 0.95)
        assert row["n_reached"] == 0 and math.isnan(row["median_epochs"]) and row["median_high"] == math.inf
        assert (row["reached_low"], row["reached_high"]) == pytest.approx(clopper_pearson(0, 4))

    def test_every_seed_reaching_at_once(self):
        row = stats.time_to_level([300.0] * 10, [1000] * 10, 0.95)
        assert (row["median_epochs"], row["median_low"], row["median_high"]) == (300, 300, 300)

    def test_summary_has_intervals_and_time_to_level(self):
        accuracy = {0: (0.55, 1.0), 1: (0.9, 0.98), 2: (0.55, 0.9), 3: (0.55, 0.8)}
        outcomes = stats.seed_outcomes(self.metrics(accuracy), level=0.95)
        row = stats.summarize_variants(outcomes, METHOD).iloc[0]
        expected = mean_interval(outcomes["final_accuracy"], METHOD)
        assert (row["final_accuracy_mean"], row["final_accuracy_low"], row["final_accuracy_high"]) == pytest.approx(
            (expected.estimate, expected.low, expected.high)
        )
        assert (row["n_seeds"], row["n_reached"], row["final_from"], row["final_epoch"]) == (4, 2, 10, 20)
        # two of four reached, at 15 and 20: the median is the first epoch by which half have reached it
        assert row["median_epochs"] == 20

    def test_summary_orders_known_variants_first(self):
        outcomes = pd.concat(
            [
                stats.seed_outcomes(pd.concat([curve_rows(v, s) for s in (0, 1)]), 0.95)
                for v in ("zeta", "bidirectional-sum", "forward", "alpha")
            ]
        )
        summary = stats.summarize_variants(outcomes, METHOD)
        assert summary["variant"].tolist() == ["forward", "bidirectional-sum", "alpha", "zeta"]
