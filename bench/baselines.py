"""The task's baselines: the best a predictor can do without reading the values (NumPy only, no TensorFlow).

The task is :mod:`bench.data`'s: values x_i ~ U[0, 1), label y_t = 1 iff x_0 + ... + x_t >= threshold * L. A
predictor that sees only the position t of a step can do no better than the majority label at t; one that also
knows the sequence's length L, the majority label at (L, t). Their accuracy and loss are the lines a model must
clear before it has learnt anything from the values. Computed exactly from the Irwin-Hall distribution, or by
seeded Monte Carlo for long sequences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
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


def label_probabilities(threshold: float, lengths: Sequence[int]) -> np.ndarray:
    """P(y_t = 1 | L) exactly: [len(lengths), max(lengths)] Fractions, None where t >= L.

    y_t = 1 when t + 1 uniforms sum to at least threshold * L: 1 minus the Irwin-Hall CDF.
    """
    bound = Fraction(threshold)
    table = np.full((len(lengths), max(lengths)), None, dtype=object)
    for row, length in enumerate(lengths):
        for t in range(length):
            table[row, t] = 1 - irwin_hall_cdf(t + 1, bound * int(length))
    return table


def label_probabilities_monte_carlo(
    threshold: float, lengths: Sequence[int], *, n_sequences: int = 200_000, seed: int = 0, chunk: int = 20_000
) -> np.ndarray:
    """:func:`label_probabilities` estimated from ``n_sequences`` simulated sequences per length: floats, NaN
    where t >= L."""
    rng = np.random.default_rng(seed)
    table = np.full((len(lengths), max(lengths)), np.nan)
    for row, length in enumerate(lengths):
        ones = np.zeros(length)
        for start in range(0, n_sequences, chunk):
            size = min(chunk, n_sequences - start)
            ones += (np.cumsum(rng.random((size, length)), axis=1) >= threshold * length).sum(axis=0)
        table[row, :length] = ones / n_sequences
    return table


def _entropy(p: float) -> float:
    """Binary cross-entropy in nats of always predicting probability p for labels that are 1 with probability p."""
    p = float(p)
    return 0.0 if p <= 0 or p >= 1 else -(p * math.log(p) + (1 - p) * math.log(1 - p))


@dataclass(frozen=True)
class TaskBaselines:
    """What a predictor that never reads the values can reach on the task (accuracy, and loss in nats).

    The position-only predictor sees the position t of a step; the position-and-length predictor also sees the
    length L of its sequence (a bidirectional model can infer it). Each answers the majority label (for the
    loss, the label's probability) given what it sees. Overall figures are means over all real steps, as the
    held-out metrics are; ``by_length`` gives each predictor's accuracy on the sequences of each length.

    Attributes:
        lengths: [k] sequence lengths, equally likely.
        position_only_accuracy, position_and_length_accuracy: accuracies over all real steps.
        position_only_loss, position_and_length_loss: binary cross-entropy in nats over all real steps.
        position_only_by_length, position_and_length_by_length: [k] accuracies per length.
        exact: True when computed exactly (Irwin-Hall), False for a seeded Monte Carlo estimate.
    """

    lengths: np.ndarray
    position_only_accuracy: float
    position_and_length_accuracy: float
    position_only_loss: float
    position_and_length_loss: float
    position_only_by_length: np.ndarray
    position_and_length_by_length: np.ndarray
    exact: bool


def task_baselines(
    threshold: float,
    min_length: int,
    max_length: int | None = None,
    *,
    max_exact_length: int = 40,
    n_sequences: int = 200_000,
    seed: int = 0,
) -> TaskBaselines:
    """The :class:`TaskBaselines` of sequences with lengths uniform on [min_length, max_length].

    A sequence has length L (``min_length`` when ``max_length`` is None), values x_i ~ U[0, 1) and labels
    y_t = 1 iff x_0 + ... + x_t >= threshold * L. With p(L, t) = P(y_t = 1 | L), position t of length L
    weighs 1 among all real steps, and position t alone weighs the lengths longer than t.

    Args:
        threshold: label threshold as a fraction of the length.
        min_length: the (shortest) sequence length.
        max_length: the longest sequence length, or None for fixed-length data.
        max_exact_length: above this length the exact sums get slow, and p(L, t) is estimated from
            ``n_sequences`` simulated sequences per length with ``seed`` instead.
    """
    lengths = _lengths(min_length, max_length)
    exact = bool(lengths.max() <= max_exact_length)
    if exact:
        p = label_probabilities(threshold, [int(length) for length in lengths])
    else:
        simulation = {"n_sequences": n_sequences, "seed": seed}
        p = label_probabilities_monte_carlo(threshold, [int(length) for length in lengths], **simulation)
    steps = int(lengths.sum())
    position_and_length = [sum(max(q, 1 - q) for q in row[:length]) for row, length in zip(p, lengths, strict=True)]
    pl_loss = sum(_entropy(q) for row, length in zip(p, lengths, strict=True) for q in row[:length])
    po_correct, po_loss, majority = 0, 0.0, []
    for t in range(int(lengths.max())):
        at_t = [row[t] for row, length in zip(p, lengths, strict=True) if length > t]
        ones = sum(at_t)
        po_correct += max(ones, len(at_t) - ones)
        po_loss += len(at_t) * _entropy(ones / len(at_t))
        majority.append(ones >= len(at_t) - ones)
    position_only = [
        sum(row[t] if majority[t] else 1 - row[t] for t in range(length))
        for row, length in zip(p, lengths, strict=True)
    ]
    return TaskBaselines(
        lengths=lengths,
        position_only_accuracy=float(po_correct / steps),
        position_and_length_accuracy=float(sum(position_and_length) / steps),
        position_only_loss=po_loss / steps,
        position_and_length_loss=pl_loss / steps,
        position_only_by_length=np.array([float(c / length) for c, length in zip(position_only, lengths, strict=True)]),
        position_and_length_by_length=np.array(
            [float(c / length) for c, length in zip(position_and_length, lengths, strict=True)]
        ),
        exact=exact,
    )


def position_only_accuracy(threshold: float, min_length: int, max_length: int | None = None, **options: int) -> float:
    """Accuracy of the best predictor that sees only the position of a step (:func:`task_baselines`, same options)."""
    return task_baselines(threshold, min_length, max_length, **options).position_only_accuracy
