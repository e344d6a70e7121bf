"""The report's document: its order, and the sections on what was run, the data with its baselines, and problems.

:func:`build_document` turns an :class:`bench.analysis.Analysis` into the blocks of :mod:`bench.document`: the
findings and result tables (:mod:`bench.result_sections`), the figures, then what was run. Every number in them
comes from the analysis's tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import pandas as pd

from bench.analysis import Analysis
from bench.document import (
    Block,
    Bullets,
    Heading,
    Image,
    Paragraph,
    Table,
    format_distinct,
    format_number,
    format_seeds,
)
from bench.result_sections import by_length_blocks, findings_blocks, pairwise_blocks, ranking_blocks, summary_blocks
from bench.variants import variant_order

# the libraries whose versions decide the report's numbers and figures
ANALYSIS_LIBRARIES = ("numpy", "pandas", "scipy", "matplotlib", "seaborn")


def _run_blocks(analysis: Analysis, sweep_dirs: Sequence[Path]) -> list[Block]:
    collection = analysis.collection
    runs, metrics = collection.runs, collection.metrics
    used = runs.loc[runs["n_seeds_used"] > 0]
    blocks: list[Block] = [Heading("What was run")]
    blocks.append(
        Bullets(
            [f"sweep `{sweep}`" for sweep in sweep_dirs]
            + [
                f"{len(runs)} job folder(s), {len(used)} with usable seeds; "
                f"{metrics.groupby(['variant', 'seed']).ngroups} (variant, seed) runs in the analysis"
            ]
        )
    )
    rows = []
    for variant in variant_order(metrics["variant"]):
        jobs = used.loc[used["variant"] == variant]
        seeds = metrics.loc[metrics["variant"] == variant, "seed"].unique()
        timing = pd.to_numeric(jobs["ms_per_seed_epoch"], errors="coerce").median()
        rows.append(
            [
                variant,
                str(len(seeds)),
                format_seeds(seeds),
                format_distinct(jobs["epochs"]),
                format_distinct(jobs["engine"]),
                format_distinct(jobs["device"]),
                format_number(timing, 2),
            ]
        )
    blocks.append(
        Table(
            ["variant", "seeds", "seed values", "epochs", "engine", "device", "ms per seed-epoch (median)"],
            rows,
        )
    )
    settings = [
        ("epochs", "epochs"),
        ("batch size", "batch_size"),
        ("learning rate", "learning_rate"),
        ("held-out evaluation every", "eval_every"),
        ("units", "units"),
    ]
    items = [f"{label}: {format_distinct(used[column])}" for label, column in settings]
    differing = [label for label, column in settings if used[column].nunique() > 1]
    if differing:
        items.append(f"these settings differ between runs: {', '.join(differing)}")
    version_columns = sorted(column for column in used.columns if column.startswith("version_"))
    items += [f"{column.removeprefix('version_')}: {format_distinct(used[column])}" for column in version_columns]
    blocks += [Paragraph("Training settings and library versions of the runs used:"), Bullets(items)]
    blocks += _settings_blocks(analysis.settings)
    blocks += _problem_blocks(collection.problems)
    return blocks


def _settings_blocks(settings: pd.DataFrame) -> list[Block]:
    blocks: list[Block] = [Heading("Data and the task's baselines", 3)]
    blocks.append(
        Paragraph(
            "The baselines are the best a predictor can do without reading the values: one that sees only the "
            "position of a step answers the majority label at that position; one that also knows the length of "
            "its sequence (as a bidirectional model can infer it) the majority label at that position and length. "
            "Accuracy is averaged over all real steps; loss is their binary cross-entropy in nats when each "
            "predicts the probability of a 1 given what it sees. Computed exactly from the Irwin-Hall "
            "distribution, or by seeded Monte Carlo above length 40 (marked)."
        )
    )
    rows = [
        [
            row.lengths,
            format_number(row.threshold, 3),
            str(row.heldout_size),
            row.variants,
            format_number(row.position_only, 4),
            format_number(row.position_and_length, 4),
            format_number(row.position_only_loss, 4),
            format_number(row.position_and_length_loss, 4),
            "exact" if row.exact else "Monte Carlo",
        ]
        for row in settings.itertuples()
    ]
    header = [
        "sequence length",
        "threshold",
        "held-out sequences",
        "variants",
        "position-only accuracy",
        "position-and-length accuracy",
        "position-only loss",
        "position-and-length loss",
        "computed",
    ]
    blocks.append(Table(header, rows))
    if len(settings) > 1:
        blocks.append(
            Paragraph(
                "Warning: the runs disagree on data settings, so variants trained on different tasks are "
                "compared in the tables above; each setting's baselines are drawn as their own reference lines."
            )
        )
    return blocks


def _problem_blocks(problems: pd.DataFrame) -> list[Block]:
    blocks: list[Block] = [Heading("Missing, damaged, failed and partial runs", 3)]
    if problems.empty:
        return [*blocks, Paragraph("None: every job folder was read and every seed finished.")]
    blocks.append(Paragraph(f"{len(problems)} job(s) or seed(s) left out of the analysis:"))
    rows = [
        [f"`{row.run_dir}`", "all" if pd.isna(row.seed) else str(row.seed), row.kind, row.reason]
        for row in problems.itertuples()
    ]
    return [*blocks, Table(["job folder", "seed", "kind", "reason"], rows)]


def _analysis_versions() -> str:
    versions = []
    for package in ANALYSIS_LIBRARIES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(versions)


def build_document(analysis: Analysis, sweep_dirs: Sequence[Path], figures: Sequence[Image]) -> list[Block]:
    """The report's blocks: findings, tables, figures, then what was run and what was left out."""
    options, method = analysis.options, analysis.method
    return [
        Heading("Benchmark report", 1),
        Paragraph(
            f"Intervals: {method.describe()}; final = mean of the last {options.last_k} held-out evaluations; "
            f"accuracy level {options.level:g}; differences from {analysis.baseline} in the comparison figure; "
            f"training curves smoothed over {options.window} epochs. Analysed with {_analysis_versions()}."
        ),
        *([Paragraph(f"Warning: {analysis.baseline_note}.")] if analysis.baseline_note else []),
        *findings_blocks(analysis),
        *summary_blocks(analysis),
        *ranking_blocks(analysis),
        *pairwise_blocks(analysis),
        *by_length_blocks(analysis),
        Heading("Figures"),
        *figures,
        *_run_blocks(analysis, sweep_dirs),
    ]
