"""Statistics over seeds: paired comparisons, curve summaries, per-seed outcomes and per-variant summaries."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from result_factory import curve_rows

from bench import stats

N_BOOT = 200


class TestPairedComparison:
    def test_a_variant_against_itself_differs_by_exactly_zero(self):
        values = np.random.default_rng(4).random(8)
        result = stats.compare_paired(values, values, higher_is_better=True, n_boot=N_BOOT)
        assert result["n_pairs"] == 8
        assert (result["mean_difference"], result["difference_low"], result["difference_high"]) == (0, 0, 0)
        assert (result["prob_better"], result["prob_better_low"], result["prob_better_high"]) == (
            0.5,
            0.5,
            0.5,
        )
        assert math.isnan(result["wilcoxon_p"])

    @pytest.mark.parametrize("higher_is_better", [True, False])
    def test_better_on_every_seed_has_probability_one(self, higher_is_better):
        baseline = np.random.default_rng(5).random(6)
        better = baseline + (0.1 if higher_is_better else -0.1)
        result = stats.compare_paired(better, baseline, higher_is_better=higher_is_better, n_boot=N_BOOT)
        assert (result["prob_better"], result["prob_better_low"], result["prob_better_high"]) == (1, 1, 1)
        worse = stats.compare_paired(baseline, better, higher_is_better=higher_is_better, n_boot=N_BOOT)
        assert worse["prob_better"] == 0.0

    def test_ties_count_half(self):
        scores = stats.improvement_scores([0.2, 0.0, -0.1, 0.0], higher_is_better=True)
        assert scores.tolist() == [1.0, 0.5, 0.0, 0.5]
        assert stats.improvement_scores([0.2, 0.0], higher_is_better=False).mean() == 0.25

    def test_difference_is_variant_minus_baseline(self):
        result = stats.compare_paired([0.5, 0.7, 0.6], [0.4, 0.5, 0.3], higher_is_better=True, n_boot=N_BOOT)
        assert result["mean_difference"] == pytest.approx(0.2)
        assert result["difference_low"] <= 0.2 <= result["difference_high"]

    def test_wilcoxon_handles_degenerate_input(self):
        assert math.isnan(stats.wilcoxon_p_value([]))
        assert math.isnan(stats.wilcoxon_p_value([0.3]))
        assert math.isnan(stats.wilcoxon_p_value([0.0, 0.0, 0.0]))
        assert 0 < stats.wilcoxon_p_value([0.0, 0.1, -0.2, 0.05]) <= 1

    def test_wilcoxon_finds_a_consistent_shift(self):
        shift = np.random.default_rng(6).normal(0.05, 0.01, size=12)
        assert stats.wilcoxon_p_value(shift) < 0.01

    def test_pairs_only_seeds_both_variants_have(self):
        outcomes = pd.DataFrame(
            {
                "variant": ["forward"] * 3 + ["backward"] * 3,
                "seed": [0, 1, 2, 1, 2, 3],
                "final_accuracy": [0.5, 0.6, 0.7, 0.9, 0.9, 0.1],
            }
        )
        paired = stats.paired_differences(outcomes, "forward", "final_accuracy")
        assert paired["seed"].tolist() == [1, 2]
        assert paired["difference"].tolist() == pytest.approx([0.3, 0.2])

    def test_compare_to_baseline_has_one_row_per_other_variant_and_metric(self):
        outcomes = pd.DataFrame(
            {
                "variant": ["forward"] * 3 + ["bidirectional-sum"] * 3 + ["backward"] * 3,
                "seed": [0, 1, 2] * 3,
                "final_loss": [0.5, 0.4, 0.6, 0.1, 0.2, 0.1, 0.5, 0.4, 0.6],
                "final_accuracy": [0.8, 0.8, 0.7, 0.9, 0.95, 0.9, 0.8, 0.8, 0.7],
            }
        )
        table = stats.compare_to_baseline(outcomes, "forward", n_boot=N_BOOT)
        assert list(table.columns) == stats.COMPARISON_COLUMNS
        assert list(zip(table["variant"], table["metric"], strict=True)) == [
            ("backward", "final_loss"),
            ("bidirectional-sum", "final_loss"),
            ("backward", "final_accuracy"),
            ("bidirectional-sum", "final_accuracy"),
        ]
        better = table.loc[table["variant"] == "bidirectional-sum", "prob_better"]
        assert better.tolist() == [1.0, 1.0]
        same = table.loc[table["variant"] == "backward"]
        assert same["mean_difference"].tolist() == [0.0, 0.0]


class TestCurves:
    def test_normalised_area_is_the_mean_height(self):
        assert stats.normalised_area([0, 10], [0.4, 0.4]) == pytest.approx(0.4)
        assert stats.normalised_area([0, 5, 10], [1.0, 0.5, 0.0]) == pytest.approx(0.5)
        # uneven spacing: trapezoids weigh by the epochs they span
        assert stats.normalised_area([10, 0, 2], [0.0, 1.0, 1.0]) == pytest.approx((2 + 4) / 10)
        assert stats.normalised_area([3], [0.2]) == pytest.approx(0.2)
        assert math.isnan(stats.normalised_area([], []))

    def test_first_epoch_reaching(self):
        assert stats.first_epoch_reaching([0, 5, 10, 15], [0.5, 0.95, 0.9, 0.97], 0.95) == 5
        assert math.isnan(stats.first_epoch_reaching([0, 5], [0.5, 0.9], 0.95))

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

    def test_thin_epochs_keeps_first_and_last(self):
        frame = pd.DataFrame({"epoch": np.arange(101)})
        kept = stats.thin_epochs(frame, 11)["epoch"].tolist()
        assert kept == list(range(0, 101, 10))
        assert len(stats.thin_epochs(frame, 500)) == 101


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

    def test_seed_outcomes_take_the_final_held_out_epoch(self):
        outcomes = stats.seed_outcomes(self.metrics({0: (0.5, 0.8), 1: (0.5, 0.9)}), level=0.95)
        assert outcomes["final_epoch"].tolist() == [20, 20]
        assert outcomes["final_accuracy"].tolist() == pytest.approx([0.8, 0.9])
        # straight loss line from 0.7 to 0.3: mean height 0.5
        assert outcomes["auc_loss"].tolist() == pytest.approx([0.5, 0.5])

    def test_epochs_to_level_counts_seeds_that_never_reach_it(self):
        # evaluated at epochs 0, 5, 10, 15, 20: 0.55 -> 1.0 first reaches 0.95 at 20 (0.8875 at 15);
        # 0.9 -> 0.98 at 15 (0.94 at 10, 0.96 at 15); the last two never do
        accuracy = {0: (0.55, 1.0), 1: (0.9, 0.98), 2: (0.55, 0.9), 3: (0.55, 0.8)}
        outcomes = stats.seed_outcomes(self.metrics(accuracy), level=0.95)
        assert outcomes["epochs_to_level"].tolist()[:2] == [20, 15]
        summary = stats.summarize_variants(outcomes, n_boot=N_BOOT)
        row = summary.iloc[0]
        assert (row["n_seeds"], row["n_reached"], row["n_never_reached"]) == (4, 2, 2)
        assert row["epochs_to_level_mean"] == 17.5
        assert row["epochs_to_level_low"] <= 17.5 <= row["epochs_to_level_high"]

    def test_no_seed_reaching_the_level_gives_nan_not_an_error(self):
        outcomes = stats.seed_outcomes(self.metrics({0: (0.5, 0.6), 1: (0.5, 0.94)}), 0.95)
        summary = stats.summarize_variants(outcomes, n_boot=N_BOOT)
        assert summary.loc[0, "n_never_reached"] == 2
        assert math.isnan(summary.loc[0, "epochs_to_level_mean"])

    def test_summary_orders_known_variants_first(self):
        outcomes = pd.concat(
            [
                stats.seed_outcomes(pd.concat([curve_rows(v, s) for s in (0, 1)]), 0.95)
                for v in ("zeta", "bidirectional-sum", "forward", "alpha")
            ]
        )
        summary = stats.summarize_variants(outcomes, n_boot=N_BOOT)
        assert summary["variant"].tolist() == ["forward", "bidirectional-sum", "alpha", "zeta"]
