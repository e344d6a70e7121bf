"""Confidence intervals over seeds: means (Student t or bootstrap-t), rates (Clopper-Pearson), and matching tests.

A mean over seeds, or a mean of paired differences, gets a Student t interval by default: exact for normal data,
defined from two seeds on, deterministic, and cheap enough to compute for every point of a curve. The studentized
(bootstrap-t) interval is the alternative for skewed data; scipy.stats.bootstrap offers percentile, basic and BCa
intervals but not this one, so it is written here. A percentile bootstrap is deliberately not offered: with 5 to
10 seeds it covers well under its nominal level (tests/test_coverage.py measures it).

Each interval method has its two-sided test of a zero mean, defined so that the two never contradict: the
interval contains 0 exactly when the p-value is at least 1 - confidence.

Functions take [n] arrays (NaNs dropped) or [m, n] batches (one row per interval, no NaNs) and return estimates,
bounds and p-values; bootstrap draws use ``numpy.random.default_rng(seed)``, so the same input gives the same
output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

T = "t"
BOOTSTRAP_T = "bootstrap-t"
METHODS = (T, BOOTSTRAP_T)
CONFIDENCE = 0.95
N_BOOT = 2000
# bootstrap-t draws are made in chunks of at most this many numbers, to bound memory on long curves
_CHUNK = 4_000_000


@dataclass(frozen=True)
class IntervalMethod:
    """How intervals of means are made: ``name`` in METHODS, the confidence, and the bootstrap's resamples and seed."""

    name: str = T
    confidence: float = CONFIDENCE
    n_boot: int = N_BOOT
    seed: int = 0

    def __post_init__(self) -> None:
        if self.name not in METHODS:
            raise ValueError(f"interval method must be one of {', '.join(METHODS)}, got {self.name!r}")

    @property
    def level(self) -> str:
        """The confidence as a percentage, e.g. ``95%``."""
        return f"{self.confidence * 100:g}%"

    @property
    def short(self) -> str:
        """The method and level in a few words, for a table header: ``Student t 95%``."""
        return f"{'Student t' if self.name == T else 'bootstrap-t'} {self.level}"

    def describe(self) -> str:
        """The method as a report names it, e.g. ``Student t 95% interval``."""
        if self.name == T:
            return f"Student t {self.level} interval"
        return f"bootstrap-t (studentized) {self.level} interval, {self.n_boot} resamples, seed {self.seed}"

    def test_name(self) -> str:
        """The two-sided test that matches the interval."""
        return "paired t test" if self.name == T else "bootstrap-t test"


@dataclass(frozen=True)
class Interval:
    """An estimate over ``n`` values with its confidence interval; low and high are NaN when there is none."""

    estimate: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Bounds:
    """Means, interval bounds and p-values of a zero mean for a batch: arrays of shape [m]."""

    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray


def _t_bounds(batch: np.ndarray, confidence: float) -> Bounds:
    n = batch.shape[-1]
    mean = batch.mean(axis=-1)
    se = batch.std(axis=-1, ddof=1) / math.sqrt(n)
    half = scipy.stats.t.ppf((1 + confidence) / 2, n - 1) * se
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = mean / se
    p_value = np.minimum(1.0, 2 * scipy.stats.t.sf(np.abs(statistic), n - 1))
    # no spread: a zero mean is certain or impossible, the t statistic is 0/0 or infinite
    p_value = np.where(se == 0, np.where(mean == 0, np.nan, 0.0), p_value)
    return Bounds(mean, mean - half, mean + half, p_value)


def _bootstrap_t_bounds(batch: np.ndarray, confidence: float, n_boot: int, seed: int) -> Bounds:
    """Studentized bootstrap, with bounds and p-value read from the same order statistics of t*.

    With j = ceil(n_boot * (1 - confidence) / 2), the interval is [mean - t*_(n_boot+1-j) se, mean - t*_(j) se]
    and p = 2 min(#(t* >= t), #(t* <= t)) / n_boot for t = mean / se, so 0 lies in the interval exactly when
    p >= 1 - confidence. A resample without spread has t* = +-inf (0 when its mean equals the sample's); when
    more of them fall in a tail than the tail holds (typically under 4 seeds) the bound is infinite and is
    returned as NaN.
    """
    m, n = batch.shape
    mean = batch.mean(axis=-1)
    se = batch.std(axis=-1, ddof=1) / math.sqrt(n)
    indices = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    statistics = np.empty((m, n_boot))
    rows = max(1, _CHUNK // (n_boot * n))
    for start in range(0, m, rows):
        resampled = batch[start : start + rows][:, indices]
        shift = resampled.mean(axis=-1) - mean[start : start + rows, None]
        spread = resampled.std(axis=-1, ddof=1) / math.sqrt(n)
        with np.errstate(divide="ignore", invalid="ignore"):
            statistics[start : start + rows] = np.where(shift == 0, 0.0, shift / spread)
    statistics.sort(axis=-1)
    tail = max(1, math.ceil(n_boot * (1 - confidence) / 2))
    low_t, high_t = statistics[:, tail - 1], statistics[:, n_boot - tail]
    with np.errstate(invalid="ignore"):
        low, high = mean - high_t * se, mean - low_t * se
        statistic = np.divide(mean, se, out=np.zeros_like(mean), where=se > 0)
    above = (statistics >= statistic[:, None]).sum(axis=-1)
    below = (statistics <= statistic[:, None]).sum(axis=-1)
    p_value = np.minimum(1.0, 2 * np.minimum(above, below) / n_boot)
    flat = se == 0
    p_value = np.where(flat, np.where(mean == 0, np.nan, 0.0), p_value)
    low, high = np.where(flat, mean, low), np.where(flat, mean, high)
    finite = np.isfinite(low) & np.isfinite(high)
    return Bounds(mean, np.where(finite, low, np.nan), np.where(finite, high, np.nan), p_value)


def batch_bounds(batch: np.ndarray, method: IntervalMethod) -> Bounds:
    """Means, intervals and p-values of a zero mean for each row of ``batch`` ([m, n], n >= 2, no NaNs)."""
    data = np.asarray(batch, dtype=float)
    if data.shape[-1] < 2:
        empty = np.full(data.shape[0], np.nan)
        return Bounds(data.mean(axis=-1) if data.shape[-1] else empty, empty, empty, empty)
    if method.name == T:
        return _t_bounds(data, method.confidence)
    return _bootstrap_t_bounds(data, method.confidence, method.n_boot, method.seed)


def mean_test(values: Sequence[float] | np.ndarray, method: IntervalMethod) -> tuple[Interval, float]:
    """The mean of ``values`` with its interval, and the two-sided p-value of a zero mean (NaN when untestable).

    Args:
        values: [n] numbers, e.g. paired differences; NaNs are dropped.
        method: the interval method.

    Returns:
        (interval, p): under two values the bounds and p are NaN; with no spread the interval is the point and p
        is 0 (NaN when every value is 0).
    """
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if len(data) == 0:
        return Interval(math.nan, math.nan, math.nan, 0), math.nan
    bounds = batch_bounds(data[None, :], method)
    interval = Interval(float(data.mean()), float(bounds.low[0]), float(bounds.high[0]), len(data))
    return interval, float(bounds.p_value[0])


def mean_interval(values: Sequence[float] | np.ndarray, method: IntervalMethod) -> Interval:
    """The mean of ``values`` (NaNs dropped) with its interval (see :func:`mean_test`)."""
    return mean_test(values, method)[0]


def grouped_mean_intervals(frame: pd.DataFrame, by: Sequence[str], value: str, method: IntervalMethod) -> pd.DataFrame:
    """The mean of ``value`` with its interval for every group of rows, all groups at once.

    Args:
        frame: rows with columns ``by`` and ``value`` (NaNs dropped), one row per seed of a group.
        by: columns that define a group, e.g. variant and epoch.
        value: the column to average.
        method: the interval method.

    Returns:
        Columns ``by``, n, <value>_mean, <value>_low, <value>_high; groups sorted by ``by``.
    """
    rows = frame.dropna(subset=[value]).sort_values(list(by), kind="stable")
    keys = rows.groupby(list(by), sort=True).ngroup().to_numpy()
    values = rows[value].to_numpy(dtype=float)
    groups = rows.drop_duplicates(list(by))[list(by)].reset_index(drop=True)
    counts = np.bincount(keys, minlength=len(groups))
    position = np.arange(len(keys)) - np.repeat(np.cumsum(counts) - counts, counts)
    mean, low, high = (np.full(len(groups), np.nan) for _ in range(3))
    for n in np.unique(counts):
        members = np.flatnonzero(counts == n)
        batch = np.empty((len(members), n))
        chosen = np.isin(keys, members)
        batch[np.searchsorted(members, keys[chosen]), position[chosen]] = values[chosen]
        bounds = batch_bounds(batch, method)
        mean[members], low[members], high[members] = bounds.mean, bounds.low, bounds.high
    groups["n"] = counts
    groups[f"{value}_mean"], groups[f"{value}_low"], groups[f"{value}_high"] = mean, low, high
    return groups


def clopper_pearson(successes: int | np.ndarray, n: int | np.ndarray, confidence: float = CONFIDENCE) -> tuple:
    """The exact (Clopper-Pearson) interval of a binomial proportion: (low, high), NaN when n is 0."""
    k, total = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    tail = (1 - confidence) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k <= 0, 0.0, scipy.stats.beta.ppf(tail, k, total - k + 1))
        high = np.where(k >= total, 1.0, scipy.stats.beta.ppf(1 - tail, k + 1, total - k))
    empty = total <= 0
    low, high = np.where(empty, np.nan, low), np.where(empty, np.nan, high)
    return (float(low), float(high)) if low.ndim == 0 else (low, high)


def win_rate(wins: int, ties: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    """The share of ``n`` paired seeds won, ties counting half, with an exact interval that covers both tie-breaks.

    The interval runs from the Clopper-Pearson lower bound with every tie counted as a loss to the upper bound
    with every tie counted as a win, so it holds its coverage however the ties would have fallen. Without ties it
    is the Clopper-Pearson interval of ``wins`` in ``n``: 10 of 10 gives [0.692, 1], 9 of 10 [0.555, 0.997].
    """
    if n <= 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    low, _ = clopper_pearson(wins, n, confidence)
    _, high = clopper_pearson(wins + ties, n, confidence)
    return Interval((wins + ties / 2) / n, low, high, n)


def interval_columns(prefix: str, interval: Interval) -> dict[str, float]:
    """``<prefix>_mean``, ``<prefix>_low`` and ``<prefix>_high``: an interval as table columns."""
    return {
        f"{prefix}_mean": interval.estimate,
        f"{prefix}_low": interval.low,
        f"{prefix}_high": interval.high,
    }
