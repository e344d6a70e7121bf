"""Pairwise comparisons: paired differences, win rates, Holm's adjustment, effect sizes and planning power."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from bench import pairwise
from bench.intervals import IntervalMethod, mean_test
from helpers.results import outcome_rows

METHOD = IntervalMethod()


class TestHolm:
    def test_twelve_comparisons_with_ten_at_the_wilcoxon_floor(self):
        # ten exact Wilcoxon p-values at 2/1024, one at 86/1024, one at 0.5
        adjusted = pairwise.holm([2 / 1024] * 10 + [86 / 1024, 0.5])
        assert adjusted[:10] == pytest.approx([0.0234] * 10, abs=1e-4)
        assert adjusted[10] == pytest.approx(0.168, abs=1e-3) and adjusted[11] == 0.5

    def test_step_down_is_monotone_capped_and_skips_nans(self):
        adjusted = pairwise.holm([0.04, np.nan, 0.01, 0.03, 0.9])
        # sorted 0.01, 0.03, 0.04, 0.9 times 4, 3, 2, 1, then made non-decreasing
        assert adjusted[[2, 3, 0, 4]] == pytest.approx([0.04, 0.09, 0.09, 0.9])
        assert math.isnan(adjusted[1])
        assert pairwise.holm([0.6, 0.7]).tolist() == [1.0, 1.0]
        assert len(pairwise.holm([])) == 0


class TestEffectSizesAndPower:
    def test_the_smallest_exact_wilcoxon_p_of_ten_pairs(self):
        assert pairwise.wilcoxon_p_value(np.arange(1, 11) * 0.001) == pytest.approx(2 / 1024)

    def test_wilcoxon_handles_degenerate_input(self):
        assert math.isnan(pairwise.wilcoxon_p_value([]))
        assert math.isnan(pairwise.wilcoxon_p_value([0.3]))
        assert math.isnan(pairwise.wilcoxon_p_value([0.0, 0.0, 0.0]))
        assert 0 < pairwise.wilcoxon_p_value([0.0, 0.1, -0.2, 0.05]) <= 1

    def test_hodges_lehmann_is_the_median_of_walsh_averages(self):
        # Walsh averages of 1, 2, 3: 1, 1.5, 2, 2, 2.5, 3
        assert pairwise.hodges_lehmann([1.0, 2.0, 3.0]) == 2.0
        assert pairwise.hodges_lehmann([0.0, 10.0]) == 5.0
        # robust: one wild pair moves the mean a lot and the shift little
        assert pairwise.hodges_lehmann([0.01, 0.012, 0.011, 0.013, 0.5]) < 0.02

    @pytest.mark.parametrize(("effect", "alpha", "seeds"), [(0.58, 0.05, 26), (2.49, 0.05, 4), (-0.58, 0.05, 26)])
    def test_seeds_for_eighty_percent_power(self, effect, alpha, seeds):
        assert pairwise.seeds_for_power(effect, alpha=alpha) == seeds
        assert pairwise.paired_power(effect, seeds) >= 0.8 > pairwise.paired_power(effect, seeds - 1)

    def test_power_with_twelve_tests_corrected_needs_about_46_seeds(self):
        assert pairwise.seeds_for_power(0.58, alpha=0.05 / 12) == pytest.approx(46, abs=1)

    def test_power_matches_a_simulated_paired_t_test(self):
        rng = np.random.default_rng(3)
        differences = rng.normal(0.5, 1.0, size=(4000, 12))
        rejected = scipy.stats.ttest_1samp(differences, 0.0, axis=1).pvalue < 0.05
        assert rejected.mean() == pytest.approx(pairwise.paired_power(0.5, 12), abs=0.025)

    def test_no_effect_needs_unboundedly_many_seeds(self):
        assert pairwise.seeds_for_power(0.0) == math.inf
        assert pairwise.seeds_for_power(1e-4) == math.inf
        assert math.isnan(pairwise.seeds_for_power(math.nan))


class TestComparePair:
    def test_a_row_against_itself(self):
        values = np.random.default_rng(4).random(8)
        result = pairwise.compare_pair(values, values, higher_is_better=True, method=METHOD)
        assert (result["mean_difference"], result["difference_low"], result["difference_high"]) == (0, 0, 0)
        assert (result["wins"], result["ties"], result["losses"]) == (0, 8, 0)
        assert (result["win_rate"], result["win_rate_low"], result["win_rate_high"]) == (0.5, 0.0, 1.0)
        assert math.isnan(result["p_value"]) and math.isnan(result["wilcoxon_p"])

    @pytest.mark.parametrize("higher_is_better", [True, False])
    def test_better_on_every_seed(self, higher_is_better):
        other = np.random.default_rng(5).random(10)
        better = (
            other + (0.1 if higher_is_better else -0.1) + np.linspace(0, 0.01, 10) * (1 if higher_is_better else -1)
        )
        result = pairwise.compare_pair(better, other, higher_is_better=higher_is_better, method=METHOD)
        assert (result["wins"], result["win_rate"], round(result["win_rate_low"], 3)) == (10, 1.0, 0.692)
        assert result["wilcoxon_p"] == pytest.approx(2 / 1024)
        worse = pairwise.compare_pair(other, better, higher_is_better=higher_is_better, method=METHOD)
        assert (worse["losses"], worse["win_rate"], round(worse["win_rate_high"], 3)) == (10, 0.0, 0.308)

    def test_statistics_of_the_differences(self):
        rng = np.random.default_rng(6)
        a, b = rng.normal(0.95, 0.01, 10), rng.normal(0.94, 0.01, 10)
        result = pairwise.compare_pair(a, b, higher_is_better=True, method=METHOD)
        interval, p = mean_test(a - b, METHOD)
        assert (result["mean_difference"], result["difference_low"], result["p_value"]) == pytest.approx(
            (interval.estimate, interval.low, p)
        )
        assert result["effect_size_dz"] == pytest.approx((a - b).mean() / (a - b).std(ddof=1))
        assert result["hodges_lehmann"] == pytest.approx(pairwise.hodges_lehmann(a - b))
        assert result["seeds_for_80_power"] == pairwise.seeds_for_power(result["effect_size_dz"])


class TestAllPairs:
    VALUES = {
        "forward": [0.90, 0.91, 0.92, 0.93, 0.94],
        "bidirectional-sum": [0.95, 0.97, 0.96, 0.98, 0.99],
        "backward": [0.89, 0.91, 0.90, math.nan, 0.92],
    }

    def test_every_pair_once_in_report_order_adjusted_together(self):
        table = pairwise.pairwise_comparisons(outcome_rows(self.VALUES), "final_accuracy", METHOD)
        assert list(table.columns) == pairwise.PAIR_COLUMNS
        assert list(zip(table["variant"], table["other"], strict=True)) == [
            ("forward", "backward"),
            ("forward", "bidirectional-sum"),
            ("backward", "bidirectional-sum"),
        ]
        # backward misses seed 3: its pairs use the four seeds both rows have
        assert table["n_pairs"].tolist() == [4, 5, 4]
        assert table["p_holm"].tolist() == pytest.approx(pairwise.holm(table["p_value"]).tolist())
        assert (table["p_holm"] >= table["p_value"]).all()

    def test_reversing_and_orienting(self):
        table = pairwise.pairwise_comparisons(outcome_rows(self.VALUES), "final_accuracy", METHOD)
        row, back = table.iloc[1], pairwise.reverse(table).iloc[1]
        assert (back["variant"], back["other"]) == ("bidirectional-sum", "forward")
        assert back["mean_difference"] == -row["mean_difference"]
        assert (back["difference_low"], back["difference_high"]) == (-row["difference_high"], -row["difference_low"])
        assert (back["win_rate_low"], back["win_rate_high"]) == (1 - row["win_rate_high"], 1 - row["win_rate_low"])
        assert (back["wins"], back["losses"], back["p_holm"]) == (row["losses"], row["wins"], row["p_holm"])
        first = pairwise.better_first(table)
        assert (first["mean_difference"] >= 0).all()
        assert first.iloc[1][["variant", "other"]].tolist() == ["bidirectional-sum", "forward"]
        against = pairwise.against(table, "forward")
        assert against["variant"].tolist() == ["backward", "bidirectional-sum"]
        assert (against["other"] == "forward").all()

    def test_lower_loss_comes_first(self):
        loss = {"forward": [0.3, 0.31, 0.29], "bidirectional-sum": [0.2, 0.22, 0.21]}
        table = pairwise.pairwise_comparisons(outcome_rows(loss, "final_loss"), "final_loss", METHOD)
        first = pairwise.better_first(table).iloc[0]
        assert (first["variant"], first["wins"]) == ("bidirectional-sum", 3)
        assert first["mean_difference"] < 0
