"""Statistics over seeds: curve summaries, per-seed outcomes, per-variant summaries and curve bands.

Every function is pure: the same input gives the same output. Intervals of means come from
:mod:`bench.intervals` with the :class:`bench.intervals.IntervalMethod` passed in; shares of seeds get exact
(Clopper-Pearson) intervals. Pairwise comparisons are :mod:`bench.pairwise`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.integrate
import scipy.stats

from bench.intervals import IntervalMethod, clopper_pearson, grouped_mean_intervals, interval_columns, mean_interval
from bench.variants import variant_order

LAST_K = 3

OUTCOME_COLUMNS = [
    "variant",
    "seed",
    "run_dir",
    "final_from",
    "final_epoch",
    "final_loss",
    "final_accuracy",
    "auc_loss",
    "level",
    "epochs_to_level",
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


def sustained_crossing(
    epochs: Sequence[float] | np.ndarray, accuracy: Sequence[float] | np.ndarray, level: float
) -> float:
    """The first epoch from which ``accuracy`` stays at or above ``level`` at every later evaluation, or NaN.

    A curve that crosses the level and falls back below it has not reached it at that crossing; a curve that
    ends below the level never reached it.

    Args:
        epochs: [n] evaluated epochs, any order.
        accuracy: [n] accuracies at those epochs.
        level: the accuracy to reach.
    """
    x, y = np.asarray(epochs, dtype=float), np.asarray(accuracy, dtype=float)
    order = np.argsort(x, kind="stable")
    x, below = x[order], y[order] < level
    if len(x) == 0 or below[-1]:
        return math.nan
    misses = np.flatnonzero(below)
    return float(x[misses[-1] + 1] if len(misses) else x[0])


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
    rolling = smoothed.groupby(list(by), sort=False)[list(value_columns)].rolling(window, min_periods=1).mean()
    smoothed[list(value_columns)] = rolling.reset_index(drop=True).to_numpy()
    return smoothed


# ----------------------------------------------------------------------------------------------------------
# Per-seed outcomes and per-variant summaries


def sorted_by_variant(frame: pd.DataFrame, extra: Sequence[str] = (), column: str = "variant") -> pd.DataFrame:
    """``frame`` sorted by ``column`` in :func:`bench.variants.variant_order`, then by ``extra``."""
    rank = {name: position for position, name in enumerate(variant_order(frame[column]))}
    return (
        frame.assign(_rank=frame[column].map(rank))
        .sort_values(["_rank", *extra], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def seed_outcomes(metrics: pd.DataFrame, level: float, last_k: int = LAST_K) -> pd.DataFrame:
    """Summarises each seed's held-out curve.

    Args:
        metrics: tidy rows with columns variant, seed, epoch, split, loss, accuracy (and optionally run_dir);
            (variant, seed) identifies one run.
        level: the held-out accuracy for ``epochs_to_level``.
        last_k: how many of the last held-out evaluations "final" averages.

    Returns:
        One row per (variant, seed), columns OUTCOME_COLUMNS: final_loss and final_accuracy are the means of
        the last ``last_k`` held-out evaluations, at epochs final_from..final_epoch; ``auc_loss`` (see
        :func:`normalised_area`); ``epochs_to_level``, the :func:`sustained_crossing` of ``level`` (NaN if the
        seed never stays above it; it is then censored at final_epoch). Held-out accuracy is only measured every
        eval_every epochs, so epochs_to_level has that resolution.
    """
    heldout = metrics.loc[metrics["split"] == "heldout"]
    rows = []
    for (variant, seed), curve in heldout.groupby(["variant", "seed"], sort=True):
        curve = curve.sort_values("epoch")
        epochs = curve["epoch"].to_numpy()
        last = curve.iloc[-last_k:]
        rows.append(
            {
                "variant": variant,
                "seed": int(seed),
                "run_dir": curve["run_dir"].iloc[-1] if "run_dir" in curve else "",
                "final_from": int(last["epoch"].iloc[0]),
                "final_epoch": int(epochs[-1]),
                "final_loss": float(last["loss"].mean()),
                "final_accuracy": float(last["accuracy"].mean()),
                "auc_loss": normalised_area(epochs, curve["loss"]),
                "level": level,
                "epochs_to_level": sustained_crossing(epochs, curve["accuracy"], level),
            }
        )
    return sorted_by_variant(pd.DataFrame(rows, columns=OUTCOME_COLUMNS), extra=["seed"])


def time_to_level(epochs_to_level: Sequence[float], final_epochs: Sequence[float], confidence: float) -> dict:
    """Epochs to a level as a censored time: the share of seeds that reach it and the Kaplan-Meier median.

    A seed that never stays above the level is right-censored at its final epoch. The Kaplan-Meier estimate is
    scipy.stats.ecdf on scipy.stats.CensoredData; the median is the first epoch at which it reaches one half
    (NaN: not reached within the budget). Every seed of a row runs the same epochs, so censoring happens only
    at the end and the estimate is the plain share of seeds that have reached the level; the median's interval
    is then the distribution-free order-statistic interval (scipy.stats.quantile_test, unreached seeds as
    infinite times), NaN when too few seeds give one (under 6 for 95%) and infinite when it is open-ended.

    Returns:
        n_reached; reached_share with reached_low, reached_high (Clopper-Pearson); median_epochs with
        median_low, median_high.
    """
    times = np.asarray(epochs_to_level, dtype=float)
    reached = ~np.isnan(times)
    n, n_reached = len(times), int(reached.sum())
    low, high = clopper_pearson(n_reached, n, confidence)
    row = {"n_reached": n_reached, "reached_share": n_reached / n if n else math.nan}
    row.update(reached_low=low, reached_high=high, median_epochs=math.nan, median_low=math.nan)
    row["median_high"] = math.nan
    if n_reached == 0:
        return {**row, "median_high": math.inf if n else math.nan}
    censored = np.asarray(final_epochs, dtype=float)[~reached]
    curve = scipy.stats.ecdf(scipy.stats.CensoredData(uncensored=times[reached], right=censored)).cdf
    half = np.flatnonzero(curve.probabilities >= 0.5)
    if len(half):
        row["median_epochs"] = float(curve.quantiles[half[0]])
    if n >= 2:
        bounds = scipy.stats.quantile_test(np.where(reached, times, np.inf), q=0.5, p=0.5)
        interval = bounds.confidence_interval(confidence)
        row.update(median_low=float(interval.low), median_high=float(interval.high))
    return row


def summarize_variants(outcomes: pd.DataFrame, method: IntervalMethod) -> pd.DataFrame:
    """One row per variant: means over seeds with their intervals, and the time to the accuracy level.

    Args:
        outcomes: :func:`seed_outcomes` rows.
        method: how intervals of means are made.

    Returns:
        Columns variant, n_seeds, final_from, final_epoch (the epochs "final" averages; the widest range when
        seeds differ), final_loss_{mean,low,high}, final_accuracy_{mean,low,high}, auc_loss_{mean,low,high},
        level, then :func:`time_to_level`'s columns; variants in :func:`bench.variants.variant_order`.
    """
    rows = []
    for variant in variant_order(outcomes["variant"]):
        seeds = outcomes.loc[outcomes["variant"] == variant]
        row: dict[str, object] = {"variant": variant, "n_seeds": len(seeds)}
        row.update(final_from=int(seeds["final_from"].min()), final_epoch=int(seeds["final_epoch"].max()))
        for column in ("final_loss", "final_accuracy", "auc_loss"):
            row.update(interval_columns(column, mean_interval(seeds[column], method)))
        row["level"] = seeds["level"].iloc[0]
        row.update(time_to_level(seeds["epochs_to_level"], seeds["final_epoch"], method.confidence))
        rows.append(row)
    return pd.DataFrame(rows)


def curve_intervals(frame: pd.DataFrame, value: str, method: IntervalMethod, x: str = "epoch") -> pd.DataFrame:
    """The mean over seeds of ``value`` at each ``x`` with its interval, per variant: the bands of the figures.

    Args:
        frame: rows with columns variant, ``x`` and ``value``, one row per (variant, seed, x).
        value: the column, e.g. loss.
        method: how intervals of means are made.
        x: the column the curve runs along (epoch or length).

    Returns:
        Columns variant, ``x``, n, <value>_mean, <value>_low, <value>_high; variants in report order.
    """
    table = grouped_mean_intervals(frame, ["variant", x], value, method)
    return sorted_by_variant(table, extra=[x])


def accuracy_by_length(by_length: pd.DataFrame, method: IntervalMethod, last_k: int = LAST_K) -> pd.DataFrame:
    """Final held-out accuracy over seeds for each variant and sequence length, with its interval.

    Args:
        by_length: heldout_by_length rows: variant, seed, epoch, length, accuracy (one row per seed, evaluated
            epoch and length).
        method: how intervals of means are made.
        last_k: each seed's final accuracy at a length is the mean of its last ``last_k`` evaluations there, as
            final held-out accuracy is in :func:`seed_outcomes`.

    Returns:
        Columns variant, length, n_seeds, accuracy_mean, accuracy_low, accuracy_high.
    """
    ordered = by_length.sort_values("epoch", kind="stable")
    final = ordered.groupby(["variant", "seed", "length"], sort=True).tail(last_k)
    per_seed = final.groupby(["variant", "seed", "length"], as_index=False)["accuracy"].mean()
    table = curve_intervals(per_seed, "accuracy", method, x="length").rename(columns={"n": "n_seeds"})
    table["length"] = table["length"].astype(int)
    return table[["variant", "length", "n_seeds", "accuracy_mean", "accuracy_low", "accuracy_high"]]
