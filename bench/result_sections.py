"""The result sections of a report: findings, summary, ranking, pairwise comparisons, accuracy by length.

Each table's paragraph names how its numbers are made (interval method and level, test, adjustment family), and
every number comes from the analysis's tables.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.analysis import Analysis
from bench.document import (
    Block,
    Bullets,
    Heading,
    Paragraph,
    Table,
    format_interval,
    format_number,
    format_p_value,
)
from bench.findings import best_row_comparisons, findings
from bench.pairwise import METRICS, PRIMARY, better_first


def findings_blocks(analysis: Analysis) -> list[Block]:
    """The Findings section: its sentences, then the best variant against each other one."""
    blocks: list[Block] = [Heading("Findings"), Bullets(findings(analysis))]
    header, rows = best_row_comparisons(analysis)
    return [*blocks, Table(header, rows)] if rows else blocks


def _epochs(value: float) -> str:
    return "not reached" if math.isinf(value) else format_number(value, 0)


def format_median(median: float, low: float, high: float) -> str:
    """A Kaplan-Meier median with its interval: ``900 [800, not reached]``, ``not reached (interval from 950)``."""
    if pd.isna(median):
        if pd.isna(low) or math.isinf(low):
            return "not reached"
        return f"not reached (interval from {_epochs(low)})"
    if pd.isna(low) or pd.isna(high):
        return f"{_epochs(median)} [n/a]"
    return f"{_epochs(median)} [{_epochs(low)}, {_epochs(high)}]"


def summary_blocks(analysis: Analysis) -> list[Block]:
    """The summary table: per variant, final accuracy, loss and area under the loss, and reaching a level."""
    options, method = analysis.options, analysis.method
    level = options.level
    summary = analysis.summary
    epochs = analysis.final_epochs
    rows = [
        [
            row.variant,
            str(row.n_seeds),
            format_interval(row.final_accuracy_mean, row.final_accuracy_low, row.final_accuracy_high),
            format_interval(row.final_loss_mean, row.final_loss_low, row.final_loss_high),
            format_interval(row.auc_loss_mean, row.auc_loss_low, row.auc_loss_high),
            f"{row.n_reached} of {row.n_seeds}, "
            + format_interval(row.reached_share, row.reached_low, row.reached_high, 2),
            format_median(row.median_epochs, row.median_low, row.median_high),
        ]
        for row in summary.itertuples()
    ]
    return [
        Heading("Summary"),
        Paragraph(
            f"Means over seeds with {method.describe()}s. Final held-out accuracy and loss are the means of the "
            f"last {options.last_k} held-out evaluations of each seed ({epochs}). The area under the held-out "
            "loss curve (trapezoid rule over the evaluated epochs) is divided by the epoch span. Accuracy "
            f"{level:g} is reached at the first evaluation from which held-out accuracy stays at or above it; the "
            f"share of seeds that reach it has a Clopper-Pearson {method.level} interval. Seeds that never reach "
            "it are censored at their last epoch: the epochs to reach it are the Kaplan-Meier median (not reached "
            f"when under half the seeds reach it) with a distribution-free {method.level} order-statistic "
            "interval (n/a under 6 seeds)."
        ),
        Table(
            [
                "variant",
                "seeds",
                f"final held-out accuracy ({epochs})",
                "final held-out loss",
                "area under held-out loss",
                f"reached accuracy {level:g}",
                f"epochs to accuracy {level:g} (median)",
            ],
            rows,
        ),
    ]


def ranking_blocks(analysis: Analysis) -> list[Block]:
    """The ranking table: rank, mean, probability of being best, and whom each variant beats."""
    alpha = 1 - analysis.method.confidence
    rows = [
        [str(row.rank), row.variant, format_number(row.mean), f"{row.prob_best:.3f}", row.beats or "none",
         row.not_separated_from or "none"]
        for row in analysis.ranking.table.itertuples()
    ]  # fmt: skip
    return [
        Heading("Ranking"),
        Paragraph(
            f"Rows ranked on final held-out accuracy ({analysis.final_epochs}). Rank: 1 + the number of rows that "
            "beat the row, where a row beats another when its mean is higher and their Holm-adjusted p (pairwise "
            f"table) is below {alpha:g}; "
            "rows no comparison separates share a rank. P(best): the share of resamples in which the row has the "
            f"highest mean, over {analysis.ranking.resampling}. A row that beats another on every seed is best "
            "in every resample however few the seeds are, so read P(best) with the ranks, not alone."
        ),
        Table(["rank", "variant", "mean final accuracy", "P(best)", "beats", "not separated from"], rows),
    ]


def _pair_rows(table: pd.DataFrame) -> list[list[str]]:
    digits = 4
    return [
        [
            f"{row.variant} vs {row.other}",
            str(row.n_pairs),
            format_interval(row.mean_difference, row.difference_low, row.difference_high, digits),
            f"{row.wins}/{row.ties}/{row.losses}",
            format_interval(row.win_rate, row.win_rate_low, row.win_rate_high, 2),
            format_p_value(row.p_value),
            format_p_value(row.p_holm),
            format_p_value(row.wilcoxon_p),
            format_number(row.effect_size_dz, 2),
            format_number(row.hodges_lehmann, digits),
            _epochs(row.seeds_for_80_power) if row.seeds_for_80_power > 2 else "2",
        ]
        for row in better_first(table).itertuples()
    ]


def pairwise_blocks(analysis: Analysis) -> list[Block]:
    """Every paired comparison: difference, wins, win rate and Holm-adjusted p-value per pair."""
    method = analysis.method
    header = [
        "pair (better mean first)",
        "seeds",
        "difference",
        "wins/ties/losses",
        "win rate",
        "p",
        "Holm p",
        "Wilcoxon p",
        "d_z",
        "Hodges-Lehmann shift",
        "seeds for 80% power (planning estimate)",
    ]
    blocks: list[Block] = [
        Heading("Pairwise comparisons"),
        Paragraph(
            "Every pair of rows, paired by seed over the seeds both have; the row with the better mean comes "
            f"first. Difference: mean of the per-seed differences with its {method.describe()}. Win rate: the "
            "share of seeds on which the first row is better, ties counting half, with a Clopper-Pearson "
            f"{method.level} interval (from ties counted as losses to ties counted as wins). p: two-sided "
            f"{method.test_name()} matching the interval (p below {1 - method.confidence:g} exactly when the "
            "interval excludes 0); Holm p: Holm-adjusted over all pairs of the same metric (one family per "
            "metric); Wilcoxon p: signed-rank test (exact, or the normal approximation when differences tie), "
            "unadjusted, a distribution-free check. d_z: mean "
            "difference over the SD of the differences; Hodges-Lehmann shift: median of the pairwise means of "
            "the differences. Seeds for 80% power: how many seeds a paired t test at alpha 0.05 would need if "
            "the true d_z were the observed one, a planning estimate (observed effects overstate true ones)."
        ),
    ]
    for metric in METRICS:
        table = analysis.pairs[metric]
        what = metric.replace("_", " ").replace("final", "final held-out")
        role = "primary metric" if metric == PRIMARY else "secondary metric, its own Holm family"
        blocks.append(Heading(f"{what.capitalize()}, {analysis.final_epochs} ({role})", 3))
        blocks.append(Table(header, _pair_rows(table)) if len(table) else Paragraph("No pair to compare."))
    return blocks


def by_length_blocks(analysis: Analysis) -> list[Block]:
    """Final held-out accuracy per sequence length; no section when no job has a by-length table."""
    if analysis.by_length.empty:
        return []
    rows = [
        [
            row.variant,
            str(row.length),
            "yes" if row.trained else "no",
            str(row.n_seeds),
            format_interval(row.accuracy_mean, row.accuracy_low, row.accuracy_high),
        ]
        for row in analysis.by_length.itertuples()
    ]
    return [
        Heading("Accuracy by sequence length"),
        Paragraph(
            "Held-out accuracy of the sequences of each length, each seed's mean over its last "
            f"{analysis.options.last_k} evaluations: mean over seeds, {analysis.method.describe()}. Lengths "
            "outside the training range are scored on held-out sets of their own, labelled with the same "
            "threshold times their own length."
        ),
        Table(["variant", "length", "trained on", "seeds", "accuracy"], rows),
    ]
