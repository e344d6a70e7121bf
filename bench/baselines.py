"""The task's position-only baseline: the best accuracy without looking at the values (NumPy only, no TensorFlow).

The task is :mod:`bench.data`'s: values x_i ~ U[0, 1), label y_t = 1 iff x_0 + ... + x_t >= threshold * L. A
predictor that sees only the position t of a step can do no better than the majority label at t; its accuracy
is the line a model must clear before it has learnt anything from the values.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def irwin_hall_cdf(n: int, x: float | Fraction) -> Fraction:
    """P(U_1 + ... + U_n < x) for independent U_i ~ U[0, 1), exactly.

    The alternating sum sum_k (-1)^k C(n, k) (x - k)^n / n! cancels badly in floating point for large n, so
    it is evaluated in rational arithmetic; it stays fast for n up to a few dozen.

    Args:
        n: number of uniforms, >= 1.
        x: the bound.
    """
    bound = Fraction(x)
    if bound <= 0:
        return Fraction(0)
    if bound >= n:
        return Fraction(1)
    total = sum((-1) ** k * math.comb(n, k) * (bound - k) ** n for k in range(math.floor(bound) + 1))
    return Fraction(total) / math.factorial(n)


def _lengths(min_length: int, max_length: int | None) -> np.ndarray:
    top = min_length if max_length is None else max_length
    if min_length < 1 or top < min_length:
        raise ValueError(f"lengths must satisfy 1 <= min_length <= max_length, got {min_length}, {top}")
    return np.arange(min_length, top + 1)


def position_only_accuracy_monte_carlo(
    threshold: float,
    min_length: int,
    max_length: int | None = None,
    *,
    n_sequences: int = 200_000,
    seed: int = 0,
    chunk: int = 20_000,
) -> float:
    """:func:`position_only_accuracy` estimated from ``n_sequences`` simulated sequences.

    The majority label per position is taken from the simulated sequences themselves.
    """
    lengths = _lengths(min_length, max_length)
    width = int(lengths.max())
    rng = np.random.default_rng(seed)
    ones, real = np.zeros(width), np.zeros(width)
    for start in range(0, n_sequences, chunk):
        size = min(chunk, n_sequences - start)
        drawn = rng.choice(lengths, size=size)
        is_real = np.arange(width) < drawn[:, None]
        running = np.cumsum(np.where(is_real, rng.random((size, width)), 0.0), axis=1)
        ones += ((running >= threshold * drawn[:, None]) & is_real).sum(axis=0)
        real += is_real.sum(axis=0)
    return float(np.maximum(ones, real - ones).sum() / real.sum())


def position_only_accuracy(
    threshold: float,
    min_length: int,
    max_length: int | None = None,
    *,
    max_exact_length: int = 40,
    n_sequences: int = 200_000,
    seed: int = 0,
) -> float:
    """Accuracy of the best predictor that sees only the position of a step, not the values.

    A sequence has length L (``min_length`` when ``max_length`` is None, else uniform on the integers
    [min_length, max_length]), values x_i ~ U[0, 1) and labels y_t = 1 iff x_0 + ... + x_t >= threshold * L.
    The predictor answers the majority label at each position t over all real steps at t, and accuracy is
    averaged over all real steps, so position t weighs P(L > t). P(y_t = 1 | L) is 1 minus the Irwin-Hall CDF
    of t + 1 uniforms at threshold * L.

    Args:
        threshold: label threshold as a fraction of the length.
        min_length: the (shortest) sequence length.
        max_length: the longest sequence length, or None for fixed-length data.
        max_exact_length: above this length the exact sum gets slow, and a seeded Monte Carlo estimate
            (:func:`position_only_accuracy_monte_carlo` with ``n_sequences`` and ``seed``) is returned
            instead.

    Returns:
        The accuracy, in [0.5, 1].
    """
    lengths = _lengths(min_length, max_length)
    if lengths.max() > max_exact_length:
        simulation = {"n_sequences": n_sequences, "seed": seed}
        return position_only_accuracy_monte_carlo(threshold, min_length, max_length, **simulation)
    bound = Fraction(threshold)
    correct = steps = Fraction(0)
    for t in range(int(lengths.max())):
        longer = [int(length) for length in lengths if length > t]
        # expected count of label-1 steps at position t among len(longer) equally likely lengths
        ones = sum(1 - irwin_hall_cdf(t + 1, bound * length) for length in longer)
        correct += max(ones, len(longer) - ones)
        steps += len(longer)
    return float(correct / steps)
