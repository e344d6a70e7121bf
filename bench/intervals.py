"""Confidence intervals of a mean over seeds: the percentile bootstrap of the mean.

The resamples are drawn as seaborn draws them (``numpy.random.default_rng(seed).integers(0, n, n)`` per
resample, percentiles with ``nanpercentile``), so a seaborn figure drawn with ``errorbar=("ci", 95)`` and the
same ``n_boot`` and ``seed`` shows the same interval for the same values in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
N_BOOT = 2000


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` values with its bootstrap confidence interval (low and high are NaN when n < 2)."""

    estimate: float
    low: float
    high: float
    n: int


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = CONFIDENCE,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Interval:
    """The mean of ``values`` and its percentile bootstrap confidence interval.

    Args:
        values: [n] numbers; NaNs are ignored.
        confidence: interval coverage, e.g. 0.95.
        n_boot: number of resamples.
        seed: seed of the resampling generator.

    Returns:
        The :class:`Interval`; with fewer than two values there is no spread to resample, so low and high
        are NaN.
    """
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    n = len(data)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    estimate = float(data.mean())
    if n < 2:
        return Interval(estimate, math.nan, math.nan, n)
    resamples = np.random.default_rng(seed).integers(0, n, size=(n_boot, n), dtype=np.intp)
    means = data[resamples].mean(axis=1)
    # width then edge, as seaborn computes it, so that 0.95 gives exactly the 2.5 and 97.5 percentiles
    edge = (100 - confidence * 100) / 2
    low, high = np.nanpercentile(means, (edge, 100 - edge))
    return Interval(estimate, float(low), float(high), n)


def interval_columns(prefix: str, interval: Interval) -> dict[str, float]:
    """``<prefix>_mean``, ``<prefix>_low`` and ``<prefix>_high``: an interval as table columns."""
    return {
        f"{prefix}_mean": interval.estimate,
        f"{prefix}_low": interval.low,
        f"{prefix}_high": interval.high,
    }
