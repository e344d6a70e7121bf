"""Statistics over seeds: curve summaries, per-seed outcomes, per-variant summaries, paired comparisons.

Every function is pure: it takes arrays or DataFrames and, where it resamples, a ``seed``; the same input
gives the same output. Intervals come from :mod:`bench.intervals`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.integrate
import scipy.stats

from bench.intervals import CONFIDENCE, N_BOOT, bootstrap_interval, interval_columns
from bench.schema import variant_order

# (column in the seed outcomes, True when a higher value is better)
COMPARED_METRICS = (("final_loss", False), ("final_accuracy", True))

OUTCOME_COLUMNS = [
    "variant",
    "seed",
    "run_dir",
    "final_epoch",
    "final_loss",
    "final_accuracy",
    "auc_loss",
    "level",
    "epochs_to_level",
]
COMPARISON_COLUMNS = [
    "variant",
    "baseline",
    "metric",
    "n_pairs",
    "mean_difference",
    "difference_low",
    "difference_high",
    "prob_better",
    "prob_better_low",
    "prob_better_high",
    "wilcoxon_p",
]


# ----------------------------------------------------------------------------------------------------------
# Curves of one seed


def normalised_area(epochs: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray) -> float:
    """Area under a curve by the trapezoid rule, divided by its epoch span: the curve's mean height.

    Args:
        epochs: [n] epochs, any order.
        values: [n] values at those epochs.

    Returns:
        The normalised area; the single value when all points share one epoch; NaN for no points.
    """
    x, y = np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)
    if len(x) == 0:
        return math.nan
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    span = x[-1] - x[0]
    if span == 0:
        return float(y.mean())
    return float(scipy.integrate.trapezoid(y, x) / span)


def first_epoch_reaching(
    epochs: Sequence[float] | np.ndarray, accuracy: Sequence[float] | np.ndarray, level: float
) -> float:
    """The first epoch at which ``accuracy`` is at least ``level``, or NaN if it never is.

    Args:
        epochs: [n] epochs, any order.
        accuracy: [n] accuracies at those epochs.
        level: the accuracy to reach.
    """
    x, y = np.asarray(epochs, dtype=float), np.asarray(accuracy, dtype=float)
    reached = x[y >= level]
    return float(reached.min()) if len(reached) else math.nan


def rolling_mean_per_seed(
    frame: pd.DataFrame, value_columns: Sequence[str], window: int, by: Sequence[str] = ("variant", "seed")
) -> pd.DataFrame:
    """Smooths each seed's curve with a trailing rolling mean over epochs.

    Args:
        frame: rows with columns ``by``, epoch and ``value_columns``.
        value_columns: the columns to smooth.
        window: epochs per window; the first epochs average over what there is so far.
        by: columns that identify one curve.

    Returns:
        A copy sorted by ``by`` and epoch, with ``value_columns`` replaced by their rolling means.
    """
    smoothed = frame.sort_values([*by, "epoch"], kind="stable").reset_index(drop=True)
    groups = smoothed.groupby(list(by), sort=False)
    for column in value_columns:
        smoothed[column] = groups[column].transform(lambda curve: curve.rolling(window, min_periods=1).mean())
    return smoothed


def thin_epochs(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Keeps at most ``max_points`` evenly spaced epochs (always the first and the last) of a tidy frame.

    Args:
        frame: rows with an epoch column.
        max_points: how many distinct epochs to keep at most.

    Returns:
        The rows at the kept epochs.
    """
    epochs = np.sort(frame["epoch"].unique())
    if len(epochs) <= max_points:
        return frame
    kept = epochs[np.unique(np.linspace(0, len(epochs) - 1, max_points).round().astype(int))]
    return frame.loc[frame["epoch"].isin(kept)]


# ----------------------------------------------------------------------------------------------------------
# Per-seed outcomes and per-variant summaries


def _sorted_by_variant(frame: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    rank = {name: position for position, name in enumerate(variant_order(frame["variant"]))}
    return (
        frame.assign(_rank=frame["variant"].map(rank))
        .sort_values(["_rank", *extra], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def seed_outcomes(metrics: pd.DataFrame, level: float) -> pd.DataFrame:
    """Summarises each seed's held-out curve.

    Args:
        metrics: tidy rows with columns variant, seed, epoch, split, loss, accuracy (and optionally run_dir);
            (variant, seed) identifies one run.
        level: the held-out accuracy for ``epochs_to_level``.

    Returns:
        One row per (variant, seed), columns OUTCOME_COLUMNS: the final epoch's held-out loss and accuracy,
        ``auc_loss`` (see :func:`normalised_area`), and ``epochs_to_level`` (NaN if never reached). Held-out
        accuracy is only measured every eval_every epochs, so epochs_to_level has that resolution.
    """
    heldout = metrics.loc[metrics["split"] == "heldout"]
    rows = []
    for (variant, seed), curve in heldout.groupby(["variant", "seed"], sort=True):
        curve = curve.sort_values("epoch")
        epochs = curve["epoch"].to_numpy()
        rows.append(
            {
                "variant": variant,
                "seed": int(seed),
                "run_dir": curve["run_dir"].iloc[-1] if "run_dir" in curve else "",
                "final_epoch": int(epochs[-1]),
                "final_loss": float(curve["loss"].iloc[-1]),
                "final_accuracy": float(curve["accuracy"].iloc[-1]),
                "auc_loss": normalised_area(epochs, curve["loss"]),
                "level": level,
                "epochs_to_level": first_epoch_reaching(epochs, curve["accuracy"], level),
            }
        )
    return _sorted_by_variant(pd.DataFrame(rows, columns=OUTCOME_COLUMNS), extra=["seed"])


def summarize_variants(
    outcomes: pd.DataFrame, *, confidence: float = CONFIDENCE, n_boot: int = N_BOOT, seed: int = 0
) -> pd.DataFrame:
    """One row per variant: means over seeds with bootstrap intervals.

    Seeds that never reach the level are counted, not dropped: ``epochs_to_level_*`` is over the seeds that
    reach it (NaN when none does) and ``n_never_reached`` says how many did not.

    Args:
        outcomes: :func:`seed_outcomes` rows.
        confidence, n_boot, seed: passed to :func:`bootstrap_interval`.

    Returns:
        Columns variant, n_seeds, final_loss_{mean,low,high}, final_accuracy_{mean,low,high},
        auc_loss_{mean,low,high}, level, epochs_to_level_{mean,low,high}, n_reached, n_never_reached; variants
        in :func:`bench.schema.variant_order`.
    """
    rows = []
    for variant in variant_order(outcomes["variant"]):
        seeds = outcomes.loc[outcomes["variant"] == variant]
        row: dict[str, object] = {"variant": variant, "n_seeds": len(seeds)}
        for column in ("final_loss", "final_accuracy", "auc_loss"):
            interval = bootstrap_interval(seeds[column], confidence=confidence, n_boot=n_boot, seed=seed)
            row.update(interval_columns(column, interval))
        reached = seeds["epochs_to_level"].dropna()
        row["level"] = seeds["level"].iloc[0]
        interval = bootstrap_interval(reached, confidence=confidence, n_boot=n_boot, seed=seed)
        row.update(interval_columns("epochs_to_level", interval))
        row.update(n_reached=len(reached), n_never_reached=len(seeds) - len(reached))
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------------------
# Paired comparisons against a baseline variant


def improvement_scores(differences: Sequence[float] | np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Per pair: 1 where the variant is better, 0.5 for a tie, 0 where it is worse.

    Args:
        differences: [n] variant minus baseline.
        higher_is_better: True for accuracy, False for loss.

    Returns:
        [n] scores; their mean is the probability that the variant beats the baseline on a random seed.
    """
    signed = np.sign(np.asarray(differences, dtype=float))
    return (1 + (signed if higher_is_better else -signed)) / 2


def wilcoxon_p_value(differences: Sequence[float] | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences; NaN when the test cannot be made.

    It cannot be made with fewer than two pairs or when every difference is zero (zeros are dropped, as in
    scipy's default ``zero_method="wilcox"``).
    """
    data = np.asarray(differences, dtype=float)
    data = data[~np.isnan(data)]
    if len(data) < 2 or not np.any(data != 0):
        return math.nan
    with warnings.catch_warnings():
        # small samples with ties fall back to the normal approximation, which scipy announces
        warnings.simplefilter("ignore")
        try:
            return float(scipy.stats.wilcoxon(data).pvalue)
        except ValueError:
            return math.nan


def compare_paired(
    values: Sequence[float] | np.ndarray,
    baseline_values: Sequence[float] | np.ndarray,
    *,
    higher_is_better: bool,
    confidence: float = CONFIDENCE,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> dict[str, float]:
    """Compares paired values of a variant and a baseline (element i of both comes from the same seed).

    Args:
        values: [n] the variant's values.
        baseline_values: [n] the baseline's values.
        higher_is_better: True for accuracy, False for loss.
        confidence, n_boot, seed: passed to :func:`bootstrap_interval`.

    Returns:
        n_pairs; mean_difference (variant minus baseline) with difference_low and difference_high;
        prob_better (probability that the variant is better on a random seed, ties counting half) with
        prob_better_low and prob_better_high; wilcoxon_p.
    """
    differences = np.asarray(values, dtype=float) - np.asarray(baseline_values, dtype=float)
    differences = differences[~np.isnan(differences)]
    difference = bootstrap_interval(differences, confidence=confidence, n_boot=n_boot, seed=seed)
    better = bootstrap_interval(
        improvement_scores(differences, higher_is_better), confidence=confidence, n_boot=n_boot, seed=seed
    )
    return {
        "n_pairs": len(differences),
        "mean_difference": difference.estimate,
        "difference_low": difference.low,
        "difference_high": difference.high,
        "prob_better": better.estimate,
        "prob_better_low": better.low,
        "prob_better_high": better.high,
        "wilcoxon_p": wilcoxon_p_value(differences),
    }


def paired_differences(outcomes: pd.DataFrame, baseline: str, metric: str) -> pd.DataFrame:
    """Per seed, each other variant's ``metric`` minus the baseline's, over the seeds both have.

    Args:
        outcomes: :func:`seed_outcomes` rows.
        baseline: the baseline variant's name.
        metric: an outcome column, e.g. final_loss.

    Returns:
        Columns variant, seed, value, baseline_value, difference; variants in
        :func:`bench.schema.variant_order`, seeds ascending.
    """
    is_baseline = outcomes["variant"] == baseline
    base = outcomes.loc[is_baseline, ["seed", metric]].rename(columns={metric: "baseline_value"})
    others = outcomes.loc[~is_baseline, ["variant", "seed", metric]].rename(columns={metric: "value"})
    paired = others.merge(base, on="seed", how="inner")
    paired["difference"] = paired["value"] - paired["baseline_value"]
    columns = ["variant", "seed", "value", "baseline_value", "difference"]
    return _sorted_by_variant(paired, extra=["seed"])[columns]


def compare_to_baseline(
    outcomes: pd.DataFrame,
    baseline: str,
    *,
    confidence: float = CONFIDENCE,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> pd.DataFrame:
    """Every other variant against ``baseline``, paired by seed, on final held-out loss and accuracy.

    Args:
        outcomes: :func:`seed_outcomes` rows.
        baseline: the baseline variant's name.
        confidence, n_boot, seed: passed to :func:`bootstrap_interval`.

    Returns:
        One row per (variant, metric), columns COMPARISON_COLUMNS (see :func:`compare_paired`); a variant
        without seeds in common with the baseline has n_pairs 0 and NaN statistics.
    """
    rows = []
    for metric, higher_is_better in COMPARED_METRICS:
        paired = paired_differences(outcomes, baseline, metric)
        for variant in variant_order(outcomes["variant"]):
            if variant == baseline:
                continue
            pairs = paired.loc[paired["variant"] == variant]
            comparison = compare_paired(
                pairs["value"],
                pairs["baseline_value"],
                higher_is_better=higher_is_better,
                confidence=confidence,
                n_boot=n_boot,
                seed=seed,
            )
            rows.append({"variant": variant, "baseline": baseline, "metric": metric, **comparison})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def accuracy_by_length(
    by_length: pd.DataFrame, *, confidence: float = CONFIDENCE, n_boot: int = N_BOOT, seed: int = 0
) -> pd.DataFrame:
    """Mean held-out accuracy over seeds for each variant and sequence length.

    Args:
        by_length: heldout_by_length rows: variant, seed, length, accuracy (one row per seed and length).
        confidence, n_boot, seed: passed to :func:`bootstrap_interval`.

    Returns:
        Columns variant, length, n_seeds, accuracy_mean, accuracy_low, accuracy_high.
    """
    rows = []
    for (variant, length), seeds in by_length.groupby(["variant", "length"], sort=True):
        interval = bootstrap_interval(seeds["accuracy"], confidence=confidence, n_boot=n_boot, seed=seed)
        rows.append(
            {
                "variant": variant,
                "length": int(length),
                "n_seeds": interval.n,
                **interval_columns("accuracy", interval),
            }
        )
    columns = ["variant", "length", "n_seeds", "accuracy_mean", "accuracy_low", "accuracy_high"]
    return _sorted_by_variant(pd.DataFrame(rows, columns=columns), extra=["length"])
