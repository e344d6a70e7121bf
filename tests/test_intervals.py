"""Intervals of means (Student t, bootstrap-t) with their matching tests, and exact intervals of rates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from bench import intervals
from bench.intervals import BOOTSTRAP_T, IntervalMethod, T

STUDENT = IntervalMethod(T)
STUDENTIZED = IntervalMethod(BOOTSTRAP_T, n_boot=400, seed=3)


class TestMeans:
    def test_student_t_is_scipys_one_sample_t(self):
        values = np.random.default_rng(7).normal(0.9, 0.05, size=8)
        interval, p = intervals.mean_test(values, STUDENT)
        expected = scipy.stats.ttest_1samp(values, 0.0)
        bounds = expected.confidence_interval(0.95)
        assert (interval.low, interval.high) == pytest.approx((bounds.low, bounds.high))
        assert p == pytest.approx(expected.pvalue)
        assert interval.estimate == pytest.approx(values.mean()) and interval.n == 8

    def test_paired_t_p_is_scipys_paired_t_test(self):
        rng = np.random.default_rng(8)
        a, b = rng.normal(0.9, 0.02, size=10), rng.normal(0.89, 0.02, size=10)
        assert intervals.mean_test(a - b, STUDENT)[1] == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue)

    @pytest.mark.parametrize("method", [STUDENT, STUDENTIZED])
    def test_interval_and_p_never_contradict(self, method):
        rng = np.random.default_rng(9)
        agree = []
        for n in (4, 5, 10, 30):
            for _ in range(40):
                interval, p = intervals.mean_test(rng.normal(rng.normal(0, 0.5), 1.0, size=n), method)
                agree.append((interval.low <= 0 <= interval.high) == (p >= 0.05))
        assert all(agree)

    def test_bootstrap_t_is_reproducible_and_depends_on_its_seed(self):
        values = np.random.default_rng(1).exponential(size=12)
        first, again = (intervals.mean_interval(values, STUDENTIZED) for _ in range(2))
        other = intervals.mean_interval(values, IntervalMethod(BOOTSTRAP_T, n_boot=400, seed=4))
        assert first == again and (first.low, first.high) != (other.low, other.high)
        assert first.low < values.mean() < first.high

    def test_bootstrap_t_leans_with_the_skew(self):
        # right-skewed data: the studentized interval reaches further above the mean than below it
        values = np.random.default_rng(2).exponential(size=15)
        interval = intervals.mean_interval(values, IntervalMethod(BOOTSTRAP_T, n_boot=2000))
        assert interval.high - interval.estimate > interval.estimate - interval.low

    def test_bootstrap_t_has_no_interval_at_three_seeds(self):
        # one resample in nine repeats a single seed and has no spread: both tails become infinite
        interval = intervals.mean_interval([0.91, 0.93, 0.94], STUDENTIZED)
        assert interval.estimate == pytest.approx(0.9266666) and math.isnan(interval.low)

    @pytest.mark.parametrize("method", [STUDENT, STUDENTIZED])
    def test_no_spread_gives_the_point_and_a_certain_test(self, method):
        interval, p = intervals.mean_test([0.25] * 6, method)
        assert (interval.estimate, interval.low, interval.high, p) == (0.25, 0.25, 0.25, 0.0)
        zero, p_zero = intervals.mean_test([0.0] * 6, method)
        assert (zero.low, zero.high) == (0.0, 0.0) and math.isnan(p_zero)

    def test_one_value_has_no_interval_and_nans_are_dropped(self):
        single = intervals.mean_interval([0.7, np.nan], STUDENT)
        assert single.estimate == 0.7 and single.n == 1 and math.isnan(single.low)
        assert intervals.mean_interval([1.0, np.nan, 3.0], STUDENT).n == 2
        assert intervals.mean_interval([], STUDENT).n == 0

    def test_wider_confidence_gives_a_wider_interval(self):
        values = np.random.default_rng(2).random(20)
        ninety = intervals.mean_interval(values, IntervalMethod(T, confidence=0.9))
        ninety_nine = intervals.mean_interval(values, IntervalMethod(T, confidence=0.99))
        assert ninety_nine.low < ninety.low and ninety.high < ninety_nine.high

    def test_unknown_method_is_refused(self):
        with pytest.raises(ValueError, match="bootstrap-t"):
            IntervalMethod("percentile")

    @pytest.mark.parametrize("method", [STUDENT, STUDENTIZED])
    def test_grouped_intervals_equal_one_group_at_a_time(self, method):
        rng = np.random.default_rng(5)
        frame = pd.DataFrame(
            {
                "variant": ["b"] * 12 + ["a"] * 9,
                "epoch": [1, 2, 3] * 4 + [2, 1, 3] * 3,
                "value": rng.normal(size=21),
            }
        )
        frame.loc[3, "value"] = np.nan  # group (b, 1) has 3 values
        table = intervals.grouped_mean_intervals(frame, ["variant", "epoch"], "value", method)
        assert list(zip(table["variant"], table["epoch"], strict=True)) == [
            ("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("b", 3)
        ]  # fmt: skip
        for row in table.itertuples():
            values = frame.loc[(frame["variant"] == row.variant) & (frame["epoch"] == row.epoch), "value"]
            expected = intervals.mean_interval(values, method)
            assert row.n == expected.n
            assert (row.value_mean, row.value_low, row.value_high) == pytest.approx(
                (expected.estimate, expected.low, expected.high), nan_ok=True
            )


class TestRates:
    @pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (9, 10), (10, 10), (1, 3), (17, 30)])
    def test_clopper_pearson_is_scipys_exact_interval(self, k, n):
        expected = scipy.stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert intervals.clopper_pearson(k, n) == pytest.approx((expected.low, expected.high))

    def test_win_rates_of_ten_seeds(self):
        all_ten, nine = intervals.win_rate(10, 0, 10), intervals.win_rate(9, 0, 10)
        assert (all_ten.estimate, round(all_ten.low, 3), all_ten.high) == (1.0, 0.692, 1.0)
        assert (nine.estimate, round(nine.low, 3), round(nine.high, 3)) == (0.9, 0.555, 0.997)

    def test_ties_count_half_and_the_interval_spans_both_tie_breaks(self):
        rate = intervals.win_rate(wins=6, ties=2, n=10)
        assert rate.estimate == pytest.approx(0.7)
        assert rate.low == pytest.approx(intervals.clopper_pearson(6, 10)[0])
        assert rate.high == pytest.approx(intervals.clopper_pearson(8, 10)[1])
        every_tie = intervals.win_rate(0, 10, 10)
        assert (every_tie.estimate, every_tie.low, every_tie.high) == (0.5, 0.0, 1.0)

    @pytest.mark.parametrize("n", [1, 2, 5, 10])
    def test_a_win_rate_interval_never_has_zero_width(self, n):
        for wins in range(n + 1):
            for ties in range(n + 1 - wins):
                rate = intervals.win_rate(wins, ties, n)
                assert rate.high - rate.low > 0.2
