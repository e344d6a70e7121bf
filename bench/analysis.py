"""The analysis behind a report: every table, computed once from the collected runs.

:func:`analyse` turns a :class:`bench.collect.Collection` into an :class:`Analysis`: per-seed outcomes, per-row
summaries, every pairwise comparison (primary and secondary metric), the ranking, the comparisons with the
baseline row, the data settings with the task's baselines, and accuracy by sequence length. Figures
(:mod:`bench.figures`), findings (:mod:`bench.findings`) and the document (:mod:`bench.sections`) only read it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from bench import pairwise, stats
from bench.baselines import task_baselines
from bench.collect import Collection
from bench.document import format_distinct, format_epochs
from bench.intervals import N_BOOT, IntervalMethod, T
from bench.ranking import Ranking, rank_rows
from bench.variants import variant_order


@dataclass(frozen=True)
class Options:
    """Report settings (see ``--help``)."""

    baseline: str = "forward"
    level: float = 0.95
    window: int = 25
    n_boot: int = N_BOOT
    seed: int = 0
    interval: str = T
    last_k: int = stats.LAST_K

    @property
    def method(self) -> IntervalMethod:
        """How intervals of means are made."""
        return IntervalMethod(self.interval, n_boot=self.n_boot, seed=self.seed)


def _lengths_label(min_length: int, max_length: int | None) -> str:
    return (
        f"length {min_length}"
        if max_length is None or max_length == min_length
        else (f"lengths {min_length}-{max_length}")
    )


BASELINE_COLUMNS = ("position_only", "position_and_length", "position_only_loss", "position_and_length_loss")


def training_lengths(runs: pd.DataFrame) -> pd.DataFrame:
    """The training length range of each used run: columns run_dir, min_length, max_length (NaN when unknown)."""
    used = runs.loc[runs["n_seeds_used"] > 0].copy()
    # variable lengths come from min_timesteps/max_timesteps; a config without them has fixed n_timesteps
    has_range = used["min_timesteps"].notna() & used["max_timesteps"].notna()
    used["min_length"] = used["min_timesteps"].where(has_range, used["n_timesteps"])
    used["max_length"] = used["max_timesteps"].where(has_range, used["n_timesteps"])
    return used


def _other_length_baselines(lengths: str, threshold: float, other: list[int]) -> pd.DataFrame:
    """Per held-out length outside the training range: the accuracy of the predictor that knows the length (for
    a set of one length, the majority label at each position of that length); position-only is not defined
    there, since the training lengths never reach those positions or lengths."""
    return pd.DataFrame(
        {
            "lengths": lengths,
            "length": other,
            "position_only": math.nan,
            "position_and_length": [task_baselines(threshold, length).position_only_accuracy for length in other],
        }
    )


def data_settings(runs: pd.DataFrame, by_length: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The distinct data settings of the used runs, each with the task's baselines (:mod:`bench.baselines`).

    Args:
        runs: :attr:`bench.collect.Collection.runs`.
        by_length: :attr:`bench.collect.Collection.by_length`; held-out lengths of a setting's runs outside its
            training range get per-length baselines too.

    Returns:
        (settings, per length): settings has one row per setting: min_length, max_length, lengths (as text),
        threshold, heldout_size, variants (text), label (for figure legends), position_only,
        position_and_length (accuracies), position_only_loss, position_and_length_loss (nats), exact (False for
        a Monte Carlo estimate); the baselines are NaN when a setting is unknown. Per length has columns
        lengths, length, position_only, position_and_length: each predictor's accuracy on the sequences of one
        length (training lengths first, then other held-out lengths, where position_only is NaN).
    """
    used = training_lengths(runs)
    rows, per_length = [], []
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
            **dict.fromkeys(BASELINE_COLUMNS, math.nan),
            "exact": True,
        }
        if not any(pd.isna(value) for value in (min_length, max_length, threshold)):
            low, high = int(min_length), int(max_length)
            lengths = _lengths_label(low, high)
            found = task_baselines(float(threshold), low, high)
            row.update(
                min_length=low,
                max_length=high,
                lengths=lengths,
                label=f"{lengths}, threshold {threshold:g}",
                position_only=found.position_only_accuracy,
                position_and_length=found.position_and_length_accuracy,
                position_only_loss=found.position_only_loss,
                position_and_length_loss=found.position_and_length_loss,
                exact=found.exact,
            )
            per_length.append(
                pd.DataFrame(
                    {
                        "lengths": lengths,
                        "length": found.lengths,
                        "position_only": found.position_only_by_length,
                        "position_and_length": found.position_and_length_by_length,
                    }
                )
            )
            if by_length is not None and not by_length.empty:
                scored = by_length.loc[by_length["run_dir"].isin(group["run_dir"]), "length"]
                other = sorted({int(length) for length in scored} - set(range(low, high + 1)))
                if other:
                    per_length.append(_other_length_baselines(lengths, float(threshold), other))
        rows.append(row)
    columns = ["lengths", "length", "position_only", "position_and_length"]
    return pd.DataFrame(rows), pd.concat(per_length, ignore_index=True) if per_length else pd.DataFrame(columns=columns)


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
        pairs: metric -> every pair of rows on it (:func:`bench.pairwise.pairwise_comparisons`), the primary
            metric first; each metric's pairs are one Holm family.
        ranking: the rows ranked on the primary metric (:func:`bench.ranking.rank_rows`).
        baseline: the variant compared against; baseline_note says why when it is not the one asked for.
        comparisons: every other row minus the baseline row, both metrics (:func:`bench.pairwise.against`).
        settings, length_baselines: :func:`data_settings`.
        by_length: :func:`bench.stats.accuracy_by_length` rows with a column ``trained`` (the length lies in the
            training range of the row's runs), empty unless there are several lengths.
    """

    collection: Collection
    options: Options
    outcomes: pd.DataFrame
    summary: pd.DataFrame
    pairs: dict[str, pd.DataFrame]
    ranking: Ranking
    baseline: str
    baseline_note: str | None
    comparisons: pd.DataFrame
    settings: pd.DataFrame
    length_baselines: pd.DataFrame
    by_length: pd.DataFrame

    @property
    def method(self) -> IntervalMethod:
        return self.options.method

    @property
    def final_epochs(self) -> str:
        """The epochs "final" averages over, e.g. ``epochs 900-1000``."""
        return format_epochs(self.summary["final_from"].min(), self.summary["final_epoch"].max())

    @property
    def primary(self) -> pd.DataFrame:
        """The pairs on the primary metric."""
        return self.pairs[pairwise.PRIMARY]


def analyse(collection: Collection, options: Options) -> Analysis:
    """Computes every table of the report from the usable runs (see :mod:`bench.stats`)."""
    method = options.method
    outcomes = stats.seed_outcomes(collection.metrics, options.level, options.last_k)
    baseline, baseline_note = choose_baseline(variant_order(outcomes["variant"]), options.baseline)
    pairs = {metric: pairwise.pairwise_comparisons(outcomes, metric, method) for metric in pairwise.METRICS}
    comparisons = pd.concat([pairwise.against(table, baseline) for table in pairs.values()], ignore_index=True)
    by_length = collection.by_length
    many_lengths = not by_length.empty and by_length["length"].nunique() > 1
    settings, length_baselines = data_settings(collection.runs, by_length)
    return Analysis(
        collection=collection,
        options=options,
        outcomes=outcomes,
        summary=stats.summarize_variants(outcomes, method),
        pairs=pairs,
        ranking=rank_rows(outcomes, pairs[pairwise.PRIMARY], pairwise.PRIMARY, method),
        baseline=baseline,
        baseline_note=baseline_note,
        comparisons=comparisons,
        settings=settings,
        length_baselines=length_baselines,
        by_length=_accuracy_by_length(collection, options) if many_lengths else pd.DataFrame(),
    )


def _accuracy_by_length(collection: Collection, options: Options) -> pd.DataFrame:
    """:func:`bench.stats.accuracy_by_length` with the column ``trained``."""
    table = stats.accuracy_by_length(collection.by_length, options.method, options.last_k)
    ranges = training_lengths(collection.runs)[["run_dir", "min_length", "max_length"]]
    rows = collection.by_length.merge(ranges, on="run_dir", how="left")
    rows = rows.loc[rows["length"].between(rows["min_length"], rows["max_length"])]
    trained = set(zip(rows["variant"], rows["length"], strict=True))
    table["trained"] = [(row.variant, row.length) in trained for row in table.itertuples()]
    return table
