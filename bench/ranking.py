"""A ranking of a report's rows on the primary metric: the probability of being best, and ranks with ties.

- Probability of being best: the share of bootstrap resamples of seeds in which a row has the best mean. Seed
  indices are resampled jointly for all rows (one draw of seeds per resample, the same for every row), so the
  pairing by seed is kept; a row that is best jointly with others in a resample gets an equal share of it. When
  the rows share fewer than two seeds, each row's seeds are resampled on their own instead, and the ranking
  says so.
- Rank with ties: 1 + the number of rows that beat the row, where A beats B when A has the better mean and the
  Holm-adjusted p-value of their paired comparison (:mod:`bench.pairwise`) is below 1 - confidence. Rows that
  no comparison separates share a rank; separation need not be transitive, so ranks can overlap in ways a
  single ordering cannot show, and each row lists the rows it beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.intervals import IntervalMethod
from bench.pairwise import METRICS, both_ways
from bench.variants import variant_order

RANKING_COLUMNS = ["rank", "variant", "n_seeds", "mean", "prob_best", "beats", "beaten_by", "not_separated_from"]


@dataclass(frozen=True)
class Ranking:
    """The ranking table (RANKING_COLUMNS, best rank first) and how its resamples were drawn, in words."""

    table: pd.DataFrame
    resampling: str


def probability_best(outcomes: pd.DataFrame, metric: str, method: IntervalMethod) -> tuple[pd.Series, str]:
    """Per row, the share of ``method.n_boot`` bootstrap resamples of seeds in which its mean is the best.

    Returns:
        (variant -> probability, the resampling in words).
    """
    wide = outcomes.pivot(index="seed", columns="variant", values=metric)[variant_order(outcomes["variant"])]
    rng = np.random.default_rng(method.seed)
    shared = wide.dropna()
    if len(shared) >= 2:
        values = shared.to_numpy()
        means = values[rng.integers(0, len(values), size=(method.n_boot, len(values)))].mean(axis=1)
        how = f"of the {len(shared)} seeds every row has, drawn jointly for all rows"
    else:
        columns = []
        for name in wide.columns:
            values = wide[name].dropna().to_numpy()
            columns.append(values[rng.integers(0, len(values), size=(method.n_boot, len(values)))].mean(axis=1))
        means = np.stack(columns, axis=1)
        how = "of each row's own seeds, drawn for each row on its own (the rows share fewer than 2 seeds)"
    best = means.max(axis=1, keepdims=True) if METRICS[metric] else means.min(axis=1, keepdims=True)
    winners = means == best
    shares = (winners / winners.sum(axis=1, keepdims=True)).mean(axis=0)
    resampling = f"{method.n_boot} bootstrap resamples {how} (seed {method.seed})"
    return pd.Series(shares, index=wide.columns), resampling


def rank_rows(outcomes: pd.DataFrame, pairs: pd.DataFrame, metric: str, method: IntervalMethod) -> Ranking:
    """Ranks the rows on ``metric`` (see the module docstring).

    Args:
        outcomes: per-seed outcomes.
        pairs: :func:`bench.pairwise.pairwise_comparisons` of ``metric``.
        metric: the metric ranked on, a key of METRICS.
        method: its confidence sets the Holm threshold; n_boot and seed the resamples.

    Returns:
        The :class:`Ranking`: rows sorted by rank, then by mean (better first); beats, beaten_by and
        not_separated_from list row names, comma-separated.
    """
    prob_best, resampling = probability_best(outcomes, metric, method)
    alpha = 1 - method.confidence
    seen = both_ways(pairs)
    better = seen["mean_difference"].gt(0) if METRICS[metric] else seen["mean_difference"].lt(0)
    separated = better & seen["p_holm"].lt(alpha)
    rows = []
    for variant in variant_order(outcomes["variant"]):
        own = seen["variant"] == variant
        beats = seen.loc[own & separated, "other"].tolist()
        beaten_by = seen.loc[(seen["other"] == variant) & separated, "variant"].tolist()
        others = seen.loc[own, "other"].tolist()
        values = outcomes.loc[outcomes["variant"] == variant, metric]
        rows.append(
            {
                "rank": 1 + len(beaten_by),
                "variant": variant,
                "n_seeds": int(values.notna().sum()),
                "mean": float(values.mean()),
                "prob_best": float(prob_best[variant]),
                "beats": ", ".join(beats),
                "beaten_by": ", ".join(beaten_by),
                "not_separated_from": ", ".join(name for name in others if name not in beats + beaten_by),
            }
        )
    table = pd.DataFrame(rows, columns=RANKING_COLUMNS)
    table = table.sort_values(["rank", "mean"], ascending=[True, not METRICS[metric]], kind="stable").reset_index(
        drop=True
    )
    return Ranking(table, resampling)
