"""Paired comparisons of every pair of a report's rows: difference, win rate, tests, effect sizes, planning power.

Two rows are compared on the seeds both have, seed by seed (same seed, same data). Per pair and metric:

- the mean paired difference with the interval of :mod:`bench.intervals` and the p-value of the test that
  matches it (paired t test for the Student t interval), Holm-adjusted within a family: all pairs of the rows
  on one metric (final held-out accuracy is the primary metric, final held-out loss a family of its own);
- the paired win rate: the share of seeds on which the row beats the other (ties count half), with the exact
  interval of :func:`bench.intervals.win_rate`;
- the exact Wilcoxon signed-rank p-value (unadjusted), a distribution-free check;
- effect sizes: the standardised mean difference of the pairs (d_z = mean / SD of the differences) and the
  Hodges-Lehmann shift (median of the Walsh averages of the differences);
- a planning estimate: the seeds a paired t test needs for 80% power at alpha 0.05 if the true d_z were the
  observed one (noncentral t).

scipy has no Holm adjustment (statsmodels would be a dependency for one loop), so :func:`holm` is written here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd
import scipy.stats

from bench.intervals import IntervalMethod, mean_test, win_rate
from bench.variants import variant_order

# outcome column -> True when a higher value is better; the first is the primary metric
METRICS = {"final_accuracy": True, "final_loss": False}
PRIMARY = "final_accuracy"
POWER, POWER_ALPHA, MAX_SEEDS = 0.8, 0.05, 10_000

PAIR_COLUMNS = [
    "metric",
    "variant",
    "other",
    "n_pairs",
    "mean_difference",
    "difference_low",
    "difference_high",
    "wins",
    "ties",
    "losses",
    "win_rate",
    "win_rate_low",
    "win_rate_high",
    "p_value",
    "p_holm",
    "wilcoxon_p",
    "effect_size_dz",
    "hodges_lehmann",
    "seeds_for_80_power",
]


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaNs stay NaN and do not count in the family).

    The i-th smallest of m p-values is multiplied by m - i + 1 (i from 1), then made non-decreasing and capped
    at 1, so an adjusted p below alpha controls the family-wise error rate at alpha.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = len(order)
    steps = np.maximum.accumulate((m - np.arange(m)) * p[order]) if m else np.empty(0)
    adjusted[order] = np.minimum(steps, 1.0)
    return adjusted


def wilcoxon_p_value(differences: Sequence[float] | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences; NaN under two pairs or when all are zero.

    Zeros are dropped (scipy's ``zero_method="wilcox"``). The p-value is exact (scipy's exact null distribution)
    when no two differences tie in size and there are at most 50; otherwise it is scipy's normal approximation
    with tie correction: scipy's exact answer for ties enumerates sign flips, about a tenth of a second per pair.
    """
    data = np.asarray(differences, dtype=float)
    data = data[~np.isnan(data)]
    data = data[data != 0]
    if len(data) < 2:
        return math.nan
    untied = len(np.unique(np.abs(data))) == len(data)
    method = "exact" if untied and len(data) <= 50 else "approx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the approximation warns about small samples
        return float(scipy.stats.wilcoxon(data, method=method).pvalue)


def hodges_lehmann(differences: Sequence[float] | np.ndarray) -> float:
    """The Hodges-Lehmann shift of paired differences: the median of (d_i + d_j) / 2 over all i <= j."""
    data = np.asarray(differences, dtype=float)
    data = data[~np.isnan(data)]
    if len(data) == 0:
        return math.nan
    upper = np.triu_indices(len(data))
    return float(np.median((data[:, None] + data[None, :])[upper] / 2))


def paired_power(effect_size: float, n: int | np.ndarray, alpha: float = POWER_ALPHA) -> float | np.ndarray:
    """Power of a two-sided paired t test with ``n`` pairs (a number or an array) when the true standardised
    effect is ``effect_size``."""
    pairs = np.asarray(n, dtype=float)
    df, shift = pairs - 1, abs(effect_size) * np.sqrt(pairs)
    critical = scipy.stats.t.ppf(1 - alpha / 2, df)
    # scipy's noncentral t returns NaN for far tails of large shifts; those tails are 0
    tails = scipy.stats.nct.sf(critical, df, shift), scipy.stats.nct.cdf(-critical, df, shift)
    power = sum(np.nan_to_num(tail) for tail in tails)
    return float(power) if np.ndim(power) == 0 else power


def seeds_for_power(effect_size: float, power: float = POWER, alpha: float = POWER_ALPHA) -> float:
    """The fewest seeds (at least 2) for which a paired t test reaches ``power``; inf beyond MAX_SEEDS or for 0.

    A planning estimate: it takes the observed effect size as the true one.
    """
    if math.isnan(effect_size):
        return math.nan
    if math.isinf(effect_size):
        return 2.0
    if effect_size == 0 or paired_power(effect_size, MAX_SEEDS, alpha) < power:
        return math.inf
    # power grows with n: look through the first hundred or so at once, then bisect
    first = np.arange(2, 130)
    reached = np.flatnonzero(paired_power(effect_size, first, alpha) >= power)
    if len(reached):
        return float(first[reached[0]])
    low, high = int(first[-1]), MAX_SEEDS
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if paired_power(effect_size, middle, alpha) >= power else (middle, high)
    return float(high)


def compare_pair(
    values: Sequence[float] | np.ndarray,
    other_values: Sequence[float] | np.ndarray,
    *,
    higher_is_better: bool,
    method: IntervalMethod,
) -> dict[str, float]:
    """Compares paired values of two rows (element i of both comes from the same seed; NaN pairs are dropped).

    Returns:
        The PAIR_COLUMNS from n_pairs to seeds_for_80_power except p_holm: differences are values minus
        other_values; a win is a better value (higher or lower as ``higher_is_better`` says).
    """
    differences = np.asarray(values, dtype=float) - np.asarray(other_values, dtype=float)
    differences = differences[~np.isnan(differences)]
    interval, p_value = mean_test(differences, method)
    signed = np.sign(differences) if higher_is_better else -np.sign(differences)
    wins, ties = int((signed > 0).sum()), int((signed == 0).sum())
    rate = win_rate(wins, ties, len(differences), method.confidence)
    spread = differences.std(ddof=1) if len(differences) >= 2 else math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        effect = float(np.divide(interval.estimate, spread)) if spread == spread else math.nan
    return {
        "n_pairs": len(differences),
        "mean_difference": interval.estimate,
        "difference_low": interval.low,
        "difference_high": interval.high,
        "wins": wins,
        "ties": ties,
        "losses": len(differences) - wins - ties,
        "win_rate": rate.estimate,
        "win_rate_low": rate.low,
        "win_rate_high": rate.high,
        "p_value": p_value,
        "wilcoxon_p": wilcoxon_p_value(differences),
        "effect_size_dz": effect,
        "hodges_lehmann": hodges_lehmann(differences),
        "seeds_for_80_power": seeds_for_power(effect),
    }


def pairwise_comparisons(outcomes: pd.DataFrame, metric: str, method: IntervalMethod) -> pd.DataFrame:
    """Every pair of rows on one metric, paired by seed, Holm-adjusted as one family.

    Args:
        outcomes: per-seed outcomes (columns variant, seed and ``metric``).
        metric: a key of METRICS.
        method: how intervals and the matching test are made.

    Returns:
        One row per unordered pair, columns PAIR_COLUMNS, oriented as the earlier row in report order (variant)
        minus the later one (other); pairs without common seeds have n_pairs 0 and NaN statistics.
    """
    wide = outcomes.pivot(index="seed", columns="variant", values=metric)
    rows = []
    for variant, other in combinations(variant_order(outcomes["variant"]), 2):
        comparison = compare_pair(wide[variant], wide[other], higher_is_better=METRICS[metric], method=method)
        rows.append({"metric": metric, "variant": variant, "other": other, **comparison})
    table = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    table["p_holm"] = holm(table["p_value"]) if len(table) else []
    return table


def reverse(table: pd.DataFrame) -> pd.DataFrame:
    """The same comparisons seen from the other row: other minus variant, with wins and losses swapped."""
    flipped = table.rename(
        columns={
            "variant": "other",
            "other": "variant",
            "wins": "losses",
            "losses": "wins",
            "difference_low": "difference_high",
            "difference_high": "difference_low",
            "win_rate_low": "win_rate_high",
            "win_rate_high": "win_rate_low",
        }
    )
    for column in ("mean_difference", "difference_low", "difference_high", "effect_size_dz", "hodges_lehmann"):
        flipped[column] = -flipped[column]
    for column in ("win_rate", "win_rate_low", "win_rate_high"):
        flipped[column] = 1 - flipped[column]
    return flipped[PAIR_COLUMNS]


def both_ways(table: pd.DataFrame) -> pd.DataFrame:
    """Every comparison in both orientations (variant minus other and other minus variant)."""
    return pd.concat([table, reverse(table)], ignore_index=True)


def better_first(table: pd.DataFrame) -> pd.DataFrame:
    """Each comparison oriented so that the row with the better mean comes first (ties keep their order)."""
    higher_is_better = table["metric"].map(METRICS).astype(bool)
    flip = table["mean_difference"].lt(0).where(higher_is_better, table["mean_difference"].gt(0))
    return pd.concat([table.loc[~flip], reverse(table.loc[flip])]).sort_index().reset_index(drop=True)


def against(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """The comparisons of every other row with ``baseline``, as row minus baseline, in report order."""
    rows = both_ways(table)
    rows = rows.loc[rows["other"] == baseline]
    order = {name: index for index, name in enumerate(variant_order(rows["variant"]))}
    return rows.sort_values(by="variant", key=lambda names: names.map(order), kind="stable").reset_index(drop=True)
