"""Bootstrap intervals of a mean over seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import intervals

N_BOOT = 200


class TestBootstrapInterval:
    def test_contains_the_mean_and_narrows_with_more_seeds(self):
        rng = np.random.default_rng(7)
        few, many = rng.normal(0.9, 0.05, size=5), rng.normal(0.9, 0.05, size=80)
        narrow, wide = (intervals.bootstrap_interval(v, n_boot=N_BOOT, seed=0) for v in (many, few))
        for interval, values in ((narrow, many), (wide, few)):
            assert interval.estimate == pytest.approx(values.mean())
            assert interval.low < interval.estimate < interval.high
        # the width shrinks like 1/sqrt(n): 4 times narrower in expectation here
        assert narrow.high - narrow.low < 0.75 * (wide.high - wide.low)

    def test_identical_values_give_a_zero_width_interval(self):
        interval = intervals.bootstrap_interval([0.25] * 6, n_boot=N_BOOT, seed=3)
        assert (interval.estimate, interval.low, interval.high) == (0.25, 0.25, 0.25)

    def test_a_single_value_has_no_interval(self):
        interval = intervals.bootstrap_interval([0.7], n_boot=N_BOOT)
        assert interval.estimate == 0.7 and interval.n == 1
        assert math.isnan(interval.low) and math.isnan(interval.high)

    def test_nans_are_ignored(self):
        interval = intervals.bootstrap_interval([1.0, np.nan, 3.0], n_boot=N_BOOT)
        assert interval.estimate == 2.0 and interval.n == 2

    def test_same_seed_same_interval_other_seed_other_interval(self):
        values = np.random.default_rng(1).random(12)
        first, again, other = (intervals.bootstrap_interval(values, n_boot=N_BOOT, seed=s) for s in (5, 5, 6))
        assert first == again
        assert (first.low, first.high) != (other.low, other.high)

    def test_wider_confidence_gives_a_wider_interval(self):
        values = np.random.default_rng(2).random(20)
        ninety = intervals.bootstrap_interval(values, confidence=0.9, n_boot=N_BOOT)
        ninety_nine = intervals.bootstrap_interval(values, confidence=0.99, n_boot=N_BOOT)
        assert ninety_nine.low < ninety.low and ninety.high < ninety_nine.high
