"""The position-only baseline: exact values, against an independent simulation, and its Monte Carlo twin."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import scipy.special

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


class TestTaskBaselines:
    def test_ten_steps_exactly(self):
        found = baselines.task_baselines(0.25, 10)
        assert found.exact
        assert found.position_only_accuracy == pytest.approx(1652078609 / 1857945600, rel=1e-12)
        # with one length, knowing it adds nothing
        assert found.position_and_length_accuracy == found.position_only_accuracy
        assert round(found.position_only_loss, 4) == 0.2387
        assert found.position_only_by_length.tolist() == [found.position_only_accuracy]

    def test_lengths_five_to_twenty(self):
        found = baselines.task_baselines(0.25, 5, 20)
        assert round(found.position_only_accuracy, 5) == 0.82405
        assert round(found.position_and_length_accuracy, 5) == 0.90665
        assert found.position_and_length_loss < found.position_only_loss
        # per length, the length-aware predictor is the fixed-length baseline of that length
        for length, accuracy in zip(found.lengths, found.position_and_length_by_length, strict=True):
            assert accuracy == pytest.approx(baselines.position_only_accuracy(0.25, int(length)))
        # the overall figures weigh each length by its steps
        weights = found.lengths / found.lengths.sum()
        assert (weights * found.position_only_by_length).sum() == pytest.approx(found.position_only_accuracy)
        assert (weights * found.position_and_length_by_length).sum() == pytest.approx(
            found.position_and_length_accuracy
        )

    def test_losses_match_a_direct_monte_carlo(self):
        rng = np.random.default_rng(12)
        lengths = np.arange(4, 9)
        drawn = rng.choice(lengths, size=200_000)
        labels = np.cumsum(rng.random((len(drawn), 8)), axis=1) >= 0.3 * drawn[:, None]
        real = np.arange(8) < drawn[:, None]

        def entropy(p):
            return scipy.special.entr(p) + scipy.special.entr(1 - p)

        # position only: one probability per position over all lengths
        at_position = (labels & real).sum(axis=0) / real.sum(axis=0)
        position_only = (entropy(at_position) * real.sum(axis=0)).sum() / real.sum()
        # position and length: one probability per (length, position)
        total = 0.0
        for length in lengths:
            rows = labels[drawn == length, :length]
            total += entropy(rows.mean(axis=0)).sum() * len(rows)
        position_and_length = total / real.sum()
        found = baselines.task_baselines(0.3, 4, 8)
        assert found.position_only_loss == pytest.approx(position_only, abs=3e-3)
        assert found.position_and_length_loss == pytest.approx(position_and_length, abs=3e-3)

    def test_monte_carlo_fallback_agrees_with_the_exact_values(self):
        exact = baselines.task_baselines(0.25, 5, 12)
        simulated = baselines.task_baselines(0.25, 5, 12, max_exact_length=0, n_sequences=50_000, seed=3)
        assert not simulated.exact
        for name in ("accuracy", "loss"):
            for who in ("position_only", "position_and_length"):
                value = getattr(simulated, f"{who}_{name}")
                assert value != getattr(exact, f"{who}_{name}")
                assert value == pytest.approx(getattr(exact, f"{who}_{name}"), abs=4e-3)
        assert simulated.position_and_length_by_length == pytest.approx(exact.position_and_length_by_length, abs=1e-2)
