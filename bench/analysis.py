"""The analysis behind a report: every table, computed once from the collected runs.

:func:`analyse` turns a :class:`bench.collect.Collection` into an :class:`Analysis`: per-seed outcomes,
per-variant summaries, comparisons with the baseline, the data settings with their position-only baseline, and
accuracy by sequence length. Figures (:mod:`bench.figures`) and the document (:mod:`bench.sections`) only read it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bench import stats
from bench.baselines import position_only_accuracy
from bench.collect import Collection
from bench.document import format_distinct
from bench.intervals import N_BOOT
from bench.schema import variant_order


@dataclass(frozen=True)
class Options:
    """Report settings (see ``--help``)."""

    baseline: str = "forward"
    level: float = 0.95
    window: int = 25
    n_boot: int = N_BOOT
    seed: int = 0


def _lengths_label(min_length: int, max_length: int | None) -> str:
    return (
        f"length {min_length}"
        if max_length is None or max_length == min_length
        else (f"lengths {min_length}-{max_length}")
    )


def data_settings(runs: pd.DataFrame) -> pd.DataFrame:
    """The distinct data settings of the used runs, each with its position-only baseline accuracy.

    Args:
        runs: :attr:`bench.collect.Collection.runs`.

    Returns:
        One row per setting: min_length, max_length, lengths (as text), threshold, heldout_size,
        variants (text), label (for figure legends), position_only (NaN when a setting is unknown).
    """
    used = runs.loc[runs["n_seeds_used"] > 0].copy()
    # variable lengths come from min_timesteps/max_timesteps; a config without them has fixed n_timesteps
    has_range = used["min_timesteps"].notna() & used["max_timesteps"].notna()
    used["min_length"] = used["min_timesteps"].where(has_range, used["n_timesteps"])
    used["max_length"] = used["max_timesteps"].where(has_range, used["n_timesteps"])
    rows = []
    for (min_length, max_length, threshold), group in used.groupby(
        ["min_length", "max_length", "threshold"], dropna=False, sort=True
    ):
        row = {
            "min_length": None,
            "max_length": None,
            "lengths": "unknown",
            "threshold": threshold,
            "heldout_size": format_distinct(group["heldout_size"]),
            "variants": ", ".join(variant_order(group["variant"].dropna())),
            "label": "",
            "position_only": math.nan,
        }
        if not any(pd.isna(value) for value in (min_length, max_length, threshold)):
            low, high = int(min_length), int(max_length)
            row.update(
                min_length=low,
                max_length=high,
                lengths=_lengths_label(low, high),
                label=f"position-only ({_lengths_label(low, high)}, threshold {threshold:g})",
                position_only=position_only_accuracy(float(threshold), low, high),
            )
        rows.append(row)
    return pd.DataFrame(rows)


def choose_baseline(variants: Sequence[str], wanted: str) -> tuple[str, str | None]:
    """The baseline variant and, unless ``wanted`` is there as named, a note saying which one is used instead.

    ``variants`` come in report order. A model named with its settings ("forward [learning_rate=0.01]") stands in
    for its plain name, the first of them; an absent baseline falls back to the first variant alphabetically, so
    the report still compares.
    """
    if wanted in variants:
        return wanted, None
    labelled = [name for name in variants if name.startswith(f"{wanted} [")]
    if labelled:
        return labelled[0], f"runs differ in their settings; comparing against {labelled[0]!r}"
    chosen = sorted(variants)[0]
    return chosen, f"baseline variant {wanted!r} has no usable runs; comparing against {chosen!r} instead"


@dataclass(frozen=True)
class Analysis:
    """The tables of a report, computed from a :class:`bench.collect.Collection`.

    Attributes:
        outcomes: per-seed outcomes (:func:`bench.stats.seed_outcomes`).
        summary: one row per variant (:func:`bench.stats.summarize_variants`).
        baseline: the variant compared against; baseline_note says why when it is not the one asked for.
        comparisons: :func:`bench.stats.compare_to_baseline` rows.
        settings: :func:`data_settings` rows.
        by_length: :func:`bench.stats.accuracy_by_length` rows, empty unless there are several lengths.
    """

    collection: Collection
    options: Options
    outcomes: pd.DataFrame
    summary: pd.DataFrame
    baseline: str
    baseline_note: str | None
    comparisons: pd.DataFrame
    settings: pd.DataFrame
    by_length: pd.DataFrame


def analyse(collection: Collection, options: Options) -> Analysis:
    """Computes every table of the report from the usable runs (see :mod:`bench.stats`)."""
    boot = {"n_boot": options.n_boot, "seed": options.seed}
    outcomes = stats.seed_outcomes(collection.metrics, options.level)
    baseline, baseline_note = choose_baseline(variant_order(outcomes["variant"]), options.baseline)
    by_length = collection.by_length
    many_lengths = not by_length.empty and by_length["length"].nunique() > 1
    return Analysis(
        collection=collection,
        options=options,
        outcomes=outcomes,
        summary=stats.summarize_variants(outcomes, **boot),
        baseline=baseline,
        baseline_note=baseline_note,
        comparisons=stats.compare_to_baseline(outcomes, baseline, **boot),
        settings=data_settings(collection.runs),
        by_length=stats.accuracy_by_length(by_length, **boot) if many_lengths else pd.DataFrame(),
    )
