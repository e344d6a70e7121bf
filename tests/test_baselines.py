"""The position-only baseline: exact values, against an independent simulation, and its Monte Carlo twin."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from bench import baselines


def direct_monte_carlo(threshold: float, lengths: list[int], n_sequences: int, seed: int) -> float:
    """Position-only accuracy simulated step by step, independently of bench.baselines."""
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


class TestPositionOnlyBaseline:
    def test_irwin_hall_cdf_known_values(self):
        assert baselines.irwin_hall_cdf(1, 0.3) == Fraction(0.3)
        assert baselines.irwin_hall_cdf(2, 1.5) == Fraction(7, 8)
        assert baselines.irwin_hall_cdf(7, 3.5) == Fraction(1, 2)
        assert baselines.irwin_hall_cdf(3, -1) == 0 and baselines.irwin_hall_cdf(3, 3) == 1

    def test_ten_steps_threshold_quarter(self):
        assert baselines.position_only_accuracy(0.25, 10) == pytest.approx(0.8895, abs=1e-3)

    @pytest.mark.parametrize(
        ("threshold", "min_length", "max_length"),
        [(0.25, 10, None), (0.5, 7, None), (0.3, 3, 12), (0.25, 5, 15)],
    )
    def test_matches_a_direct_monte_carlo(self, threshold, min_length, max_length):
        lengths = list(range(min_length, (max_length or min_length) + 1))
        simulated = direct_monte_carlo(threshold, lengths, n_sequences=200_000, seed=11)
        exact = baselines.position_only_accuracy(threshold, min_length, max_length)
        assert exact == pytest.approx(simulated, abs=3e-3)

    def test_variable_lengths_differ_from_fixed(self):
        fixed = baselines.position_only_accuracy(0.25, 10)
        assert abs(baselines.position_only_accuracy(0.25, 2, 18) - fixed) > 1e-3

    def test_monte_carlo_fallback_agrees_with_the_exact_value(self):
        exact = baselines.position_only_accuracy(0.3, 4, 9)
        simulated = {"max_exact_length": 0, "n_sequences": 100_000, "seed": 1}
        fallback = baselines.position_only_accuracy(0.3, 4, 9, **simulated)
        assert fallback != exact
        assert fallback == pytest.approx(exact, abs=3e-3)
        assert fallback == baselines.position_only_accuracy(0.3, 4, 9, **simulated)

    def test_bad_lengths_are_rejected(self):
        with pytest.raises(ValueError):
            baselines.position_only_accuracy(0.25, 10, 5)
