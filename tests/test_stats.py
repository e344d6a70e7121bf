"""Report statistics: bootstrap intervals, paired comparisons, curve summaries, position-only baseline."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from result_factory import curve_rows

from bench import stats

N_BOOT = 200


def direct_monte_carlo(threshold: float, lengths: list[int], n_sequences: int, seed: int) -> float:
    """Position-only accuracy simulated step by step, independently of bench.stats."""
    rng = np.random.default_rng(seed)
    width = max(lengths)
    drawn = rng.choice(lengths, size=n_sequences)
    values = rng.random((n_sequences, width))
    real = np.arange(width) < drawn[:, None]
    labels = np.cumsum(np.where(real, values, 0.0), axis=1) >= threshold * drawn[:, None]
    correct = 0
    for position in range(width):
        at_position = labels[real[:, position], position]
        majority = at_position.mean() >= 0.5
        correct += np.count_nonzero(at_position == majority)
    return correct / real.sum()


class TestBootstrapInterval:
    def test_contains_the_mean_and_narrows_with_more_seeds(self):
        rng = np.random.default_rng(7)
        few, many = rng.normal(0.9, 0.05, size=5), rng.normal(0.9, 0.05, size=80)
        narrow, wide = (stats.bootstrap_interval(v, n_boot=N_BOOT, seed=0) for v in (many, few))
        for interval, values in ((narrow, many), (wide, few)):
            assert interval.estimate == pytest.approx(values.mean())
            assert interval.low < interval.estimate < interval.high
        # the width shrinks like 1/sqrt(n): 4 times narrower in expectation here
        assert narrow.high - narrow.low < 0.75 * (wide.high - wide.low)

    def test_identical_values_give_a_zero_width_interval(self):
        interval = stats.bootstrap_interval([0.25] * 6, n_boot=N_BOOT, seed=3)
        assert (interval.estimate, interval.low, interval.high) == (0.25, 0.25, 0.25)

    def test_a_single_value_has_no_interval(self):
        interval = stats.bootstrap_interval([0.7], n_boot=N_BOOT)
        assert interval.estimate == 0.7 and interval.n == 1
        assert math.isnan(interval.low) and math.isnan(interval.high)

    def test_nans_are_ignored(self):
        interval = stats.bootstrap_interval([1.0, np.nan, 3.0], n_boot=N_BOOT)
        assert interval.estimate == 2.0 and interval.n == 2

    def test_same_seed_same_interval_other_seed_other_interval(self):
        values = np.random.default_rng(1).random(12)
        first, again, other = (stats.bootstrap_interval(values, n_boot=N_BOOT, seed=s) for s in (5, 5, 6))
        assert first == again
        assert (first.low, first.high) != (other.low, other.high)

    def test_wider_confidence_gives_a_wider_interval(self):
        values = np.random.default_rng(2).random(20)
        ninety = stats.bootstrap_interval(values, confidence=0.9, n_boot=N_BOOT)
        ninety_nine = stats.bootstrap_interval(values, confidence=0.99, n_boot=N_BOOT)
        assert ninety_nine.low < ninety.low and ninety.high < ninety_nine.high


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


class TestPositionOnlyBaseline:
    def test_irwin_hall_cdf_known_values(self):
        assert stats.irwin_hall_cdf(1, 0.3) == Fraction(0.3)
        assert stats.irwin_hall_cdf(2, 1.5) == Fraction(7, 8)
        assert stats.irwin_hall_cdf(7, 3.5) == Fraction(1, 2)
        assert stats.irwin_hall_cdf(3, -1) == 0 and stats.irwin_hall_cdf(3, 3) == 1

    def test_ten_steps_threshold_quarter(self):
        assert stats.position_only_accuracy(0.25, 10) == pytest.approx(0.8895, abs=1e-3)

    @pytest.mark.parametrize(
        ("threshold", "min_length", "max_length"),
        [(0.25, 10, None), (0.5, 7, None), (0.3, 3, 12), (0.25, 5, 15)],
    )
    def test_matches_a_direct_monte_carlo(self, threshold, min_length, max_length):
        lengths = list(range(min_length, (max_length or min_length) + 1))
        simulated = direct_monte_carlo(threshold, lengths, n_sequences=200_000, seed=11)
        exact = stats.position_only_accuracy(threshold, min_length, max_length)
        assert exact == pytest.approx(simulated, abs=3e-3)

    def test_variable_lengths_differ_from_fixed(self):
        fixed = stats.position_only_accuracy(0.25, 10)
        assert abs(stats.position_only_accuracy(0.25, 2, 18) - fixed) > 1e-3

    def test_monte_carlo_fallback_agrees_with_the_exact_value(self):
        exact = stats.position_only_accuracy(0.3, 4, 9)
        simulated = {"max_exact_length": 0, "n_sequences": 100_000, "seed": 1}
        fallback = stats.position_only_accuracy(0.3, 4, 9, **simulated)
        assert fallback != exact
        assert fallback == pytest.approx(exact, abs=3e-3)
        assert fallback == stats.position_only_accuracy(0.3, 4, 9, **simulated)

    def test_bad_lengths_are_rejected(self):
        with pytest.raises(ValueError):
            stats.position_only_accuracy(0.25, 10, 5)
