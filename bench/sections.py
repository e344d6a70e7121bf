"""The sections of a report: what was run, problems, summary, comparison, by-length results, figures.

:func:`build_document` turns an :class:`bench.analysis.Analysis` into the blocks of :mod:`bench.document`; every
number in them comes from the analysis's tables.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    format_interval,
    format_number,
    format_p_value,
    format_seeds,
)
from bench.schema import variant_order


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
    blocks: list[Block] = [Heading("Data and the position-only baseline", 3)]
    blocks.append(
        Paragraph(
            "The position-only baseline is the accuracy of the best predictor that sees only the position "
            "of a step, not the values: the majority label at each position, averaged over all real steps. "
            "It is computed exactly from the Irwin-Hall distribution (by seeded Monte Carlo above length "
            "40)."
        )
    )
    rows = [
        [
            row.lengths,
            format_number(row.threshold, 3),
            str(row.heldout_size),
            row.variants,
            format_number(row.position_only, 4),
        ]
        for row in settings.itertuples()
    ]
    header = ["sequence length", "threshold", "held-out sequences", "variants", "position-only accuracy"]
    blocks.append(Table(header, rows))
    if len(settings) > 1:
        blocks.append(
            Paragraph(
                "Warning: the runs disagree on data settings, so variants trained on different tasks are "
                "compared in the tables below; each setting's baseline is drawn as its own reference line."
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


def _summary_blocks(analysis: Analysis) -> list[Block]:
    level = analysis.options.level
    rows = [
        [
            row.variant,
            str(row.n_seeds),
            format_interval(row.final_loss_mean, row.final_loss_low, row.final_loss_high),
            format_interval(row.final_accuracy_mean, row.final_accuracy_low, row.final_accuracy_high),
            format_interval(row.auc_loss_mean, row.auc_loss_low, row.auc_loss_high),
            format_interval(row.epochs_to_level_mean, row.epochs_to_level_low, row.epochs_to_level_high, 1),
            f"{row.n_never_reached} of {row.n_seeds}",
        ]
        for row in analysis.summary.itertuples()
    ]
    return [
        Heading("Summary"),
        Paragraph(
            "Means over seeds with 95% percentile bootstrap intervals over seeds. Loss and accuracy are at "
            "the final epoch on the held-out set. The area under the held-out loss curve (trapezoid rule "
            f"over the evaluated epochs) is divided by the epoch span. Epochs to accuracy {level:g} is the "
            "first evaluated epoch at which held-out accuracy reaches it, averaged over the seeds that "
            "reach it; seeds that never do are counted in the last column, not averaged in."
        ),
        Table(
            [
                "variant",
                "seeds",
                "final held-out loss",
                "final held-out accuracy",
                "area under held-out loss",
                f"epochs to accuracy {level:g}",
                "never reached",
            ],
            rows,
        ),
    ]


def _comparison_blocks(analysis: Analysis) -> list[Block]:
    blocks: list[Block] = [Heading(f"Comparison with {analysis.baseline}")]
    if analysis.baseline_note:
        blocks.append(Paragraph(f"Warning: {analysis.baseline_note}."))
    blocks.append(
        Paragraph(
            f"Each variant minus {analysis.baseline} on the same seeds (only seeds both have). Difference: "
            "mean with 95% bootstrap interval. P(better): probability that the variant beats the baseline "
            "on a seed drawn at random (lower loss or higher accuracy; ties count half), with 95% bootstrap "
            "interval. Wilcoxon: two-sided signed-rank p-value (n/a under two pairs or when all differences "
            "are zero)."
        )
    )
    if analysis.comparisons.empty:
        return [*blocks, Paragraph("No other variant to compare.")]
    rows = [
        [
            row.variant,
            row.metric.replace("_", " "),
            str(row.n_pairs),
            format_interval(row.mean_difference, row.difference_low, row.difference_high, 4),
            format_interval(row.prob_better, row.prob_better_low, row.prob_better_high, 2),
            format_p_value(row.wilcoxon_p),
        ]
        for row in analysis.comparisons.itertuples()
    ]
    blocks.append(Table(["variant", "metric", "pairs", "difference", "P(better)", "Wilcoxon p"], rows))
    return blocks


def _by_length_blocks(analysis: Analysis) -> list[Block]:
    if analysis.by_length.empty:
        return []
    rows = [
        [
            row.variant,
            str(row.length),
            str(row.n_seeds),
            format_interval(row.accuracy_mean, row.accuracy_low, row.accuracy_high),
        ]
        for row in analysis.by_length.itertuples()
    ]
    return [
        Heading("Accuracy by sequence length"),
        Paragraph("Final held-out accuracy of the sequences of each length: mean over seeds, 95% interval."),
        Table(["variant", "length", "seeds", "accuracy"], rows),
    ]


def build_document(analysis: Analysis, sweep_dirs: Sequence[Path], figures: Sequence[Image]) -> list[Block]:
    """The report's blocks: what was run, problems, tables, figures."""
    options = analysis.options
    return [
        Heading("Benchmark report", 1),
        Paragraph(
            f"Baseline variant {analysis.baseline}; accuracy level {options.level:g}; training curves "
            f"smoothed over {options.window} epochs; {options.n_boot} bootstrap resamples with seed "
            f"{options.seed}."
        ),
        *_run_blocks(analysis, sweep_dirs),
        *_summary_blocks(analysis),
        *_comparison_blocks(analysis),
        *_by_length_blocks(analysis),
        Heading("Figures"),
        *figures,
    ]
