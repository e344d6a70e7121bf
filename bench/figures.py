"""The figures of a report: which ones the analysis supports, their file names, captions and how to draw them.

The drawing itself is :mod:`bench.plots`; this module decides what each figure shows and what it says. Every band
and bar is an interval of the tables (:func:`bench.stats.curve_intervals`, the summary, the comparisons), made
with the report's interval method, which each caption names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from bench import pairwise, plots, stats
from bench.analysis import Analysis
from bench.palette import variant_styles

TRAINING_LOSS = "training_loss.png"
HELDOUT_LOSS = "heldout_loss.png"
HELDOUT_ACCURACY = "heldout_accuracy.png"
FINAL_ACCURACY = "final_accuracy.png"
PAIRED_DIFFERENCES = "paired_differences.png"
PAIRWISE_MATRIX = "pairwise_matrix.png"
ACCURACY_BY_LENGTH = "accuracy_by_length.png"
# every figure a report can hold, in report order; figure_specs leaves out those without data
FIGURE_NAMES = (
    TRAINING_LOSS,
    HELDOUT_LOSS,
    HELDOUT_ACCURACY,
    FINAL_ACCURACY,
    PAIRED_DIFFERENCES,
    PAIRWISE_MATRIX,
    ACCURACY_BY_LENGTH,
)
# the late-epoch panel of the held-out accuracy shows the last part of the epochs
LATE_SHARE = 0.4


@dataclass(frozen=True)
class FigureSpec:
    """One figure: its file name, a one-line caption, and how to draw it onto a new figure."""

    name: str
    caption: str
    draw: Callable[[], object]


def references(analysis: Analysis, loss: bool = False) -> dict[str, float]:
    """Reference lines by label: per data setting, the position-only baseline, and with variable lengths also
    the position-and-length one; accuracies, or with ``loss`` the best held-out loss of those predictors."""
    lines = {}
    suffix = "_loss" if loss else ""
    for row in analysis.settings.itertuples():
        if pd.isna(row.position_only):
            continue
        lines[f"position-only ({row.label})"] = getattr(row, f"position_only{suffix}")
        if row.min_length != row.max_length:
            lines[f"position-and-length ({row.label})"] = getattr(row, f"position_and_length{suffix}")
    return lines


def _reference_note(analysis: Analysis, loss: bool = False) -> str:
    if not references(analysis, loss):
        return ""
    what = "held-out loss" if loss else "accuracy"
    variable = (analysis.settings["min_length"] != analysis.settings["max_length"]).any()
    known = " or also the length of its sequence" if variable else ""
    return f" Grey lines: the best {what} of a predictor that sees only the position of a step{known}."


def figure_specs(analysis: Analysis) -> list[FigureSpec]:
    """The figures the analysis supports (a figure without data is left out)."""
    options, metrics, method = analysis.options, analysis.collection.metrics, analysis.method
    styles = variant_styles(metrics["variant"])
    band = f"line: mean over seeds; band: {method.describe()} over seeds."
    accuracy_lines, loss_lines = references(analysis), references(analysis, loss=True)
    specs = []

    train = metrics.loc[metrics["split"] == "train", ["variant", "seed", "epoch", "loss"]]
    if not train.empty:
        smoothed = stats.rolling_mean_per_seed(train, ["loss"], options.window)
        train_bands = stats.curve_intervals(smoothed, "loss", method)
        specs.append(
            FigureSpec(
                TRAINING_LOSS,
                f"Training loss of each update's batch, smoothed per seed by a trailing {options.window}-epoch "
                f"rolling mean; {band}{_reference_note(analysis, loss=True)}",
                lambda: _with_legend(
                    plots.plot_curves(
                        train_bands, "loss", styles=styles, references=loss_lines, ylabel="training loss (smoothed)"
                    )
                ),
            )
        )
    heldout = metrics.loc[metrics["split"] == "heldout", ["variant", "seed", "epoch", "loss", "accuracy"]]
    loss_bands = stats.curve_intervals(heldout, "loss", method)
    specs.append(
        FigureSpec(
            HELDOUT_LOSS,
            f"Held-out loss against epoch (epoch 0 is before training); {band}{_reference_note(analysis, True)}",
            lambda: _with_legend(
                plots.plot_curves(loss_bands, "loss", styles=styles, references=loss_lines, ylabel="held-out loss")
            ),
        )
    )
    accuracy_bands = stats.curve_intervals(heldout, "accuracy", method)
    late_from = _late_start(heldout["epoch"])
    specs.append(
        FigureSpec(
            HELDOUT_ACCURACY,
            f"Held-out accuracy against epoch; {band}{_reference_note(analysis)} Right: epochs {late_from} on, "
            "the vertical axis fitted to the leading rows (a group of rows far below them, if any, is out of view: "
            "see the left panel).",
            lambda: _draw_accuracy(accuracy_bands, late_from, styles, accuracy_lines),
        )
    )
    summary = analysis.summary.rename(
        columns={"final_accuracy_mean": "mean", "final_accuracy_low": "low", "final_accuracy_high": "high"}
    )
    specs.append(
        FigureSpec(
            FINAL_ACCURACY,
            f"Final held-out accuracy (mean of the last {options.last_k} evaluations) per row: each point is one "
            f"seed; black diamond and bar: mean and {method.describe()} over seeds, as in the summary table."
            f"{_reference_note(analysis)}",
            lambda: _draw_final(analysis, summary, styles, accuracy_lines),
        )
    )
    if (analysis.comparisons["n_pairs"] > 0).any():
        specs.append(
            FigureSpec(
                PAIRED_DIFFERENCES,
                f"Per-seed differences from {analysis.baseline} on the same seed (points) with their mean and "
                f"{method.describe()} (diamond and bar), as in comparisons.csv and the pairwise table; left: final "
                "held-out loss (lower is better), right: final held-out accuracy (higher is better).",
                lambda: _draw_differences(analysis, styles),
            )
        )
    if len(analysis.primary) > 0:
        alpha = 1 - method.confidence
        specs.append(
            FigureSpec(
                PAIRWISE_MATRIX,
                "Every pair of rows on final held-out accuracy: each cell is the row minus the column, paired by "
                f"seed, with its {method.describe()} and the row's win rate (share of seeds on which it is "
                f"better, ties half); blue: the row has the higher mean, red: the lower; starred and bold: "
                f"Holm-adjusted p below {alpha:g} in the family of all pairs, as in the pairwise table.",
                lambda: plots.plot_pairwise_matrix(pairwise.both_ways(analysis.primary), list(styles), alpha=alpha),
            )
        )
    if not analysis.by_length.empty:
        length_bands = analysis.by_length.rename(columns={"n_seeds": "n"})
        specs.append(
            FigureSpec(
                ACCURACY_BY_LENGTH,
                f"Final held-out accuracy (mean of the last {options.last_k} evaluations) against sequence "
                f"length; {band} Shaded: the lengths trained on. Grey: per length, the accuracy of a predictor "
                "that sees only the position of a step (dashed; defined on the training lengths) or also the "
                "length of its sequence (dotted).",
                lambda: _draw_by_length(length_bands, analysis.length_baselines, analysis.settings, styles),
            )
        )
    return specs


def _with_legend(ax: object) -> object:
    plots.legend_outside(ax)
    return ax


def _late_start(epochs: pd.Series) -> int:
    """The first evaluated epoch of the last LATE_SHARE of the epochs."""
    values = sorted(epochs.unique())
    cut = values[-1] - LATE_SHARE * (values[-1] - values[0])
    return int(next(epoch for epoch in values if epoch >= cut))


def leading_rows(bands: pd.DataFrame) -> list[str]:
    """The rows the late-epoch panel is fitted to: those above the widest gap between final means, when that gap
    is more than half their spread (a group far below would flatten the differences at the top); else all."""
    last = bands.loc[bands.groupby("variant")["epoch"].idxmax()].sort_values("accuracy_mean", ascending=False)
    means = last["accuracy_mean"].to_numpy()
    if len(means) < 3:
        return last["variant"].tolist()
    gaps = means[:-1] - means[1:]
    widest = int(gaps.argmax())
    keep = widest + 1 if gaps[widest] > 0.5 * (means[0] - means[-1]) else len(means)
    return last["variant"].tolist()[:keep]


def _draw_accuracy(bands: pd.DataFrame, late_from: int, styles: dict, lines: dict) -> object:
    whole, late = plots.new_axes(width=12, height=4.5, ncols=2)
    plots.plot_curves(bands, "accuracy", styles=styles, references=lines, ylabel="held-out accuracy", ax=whole)
    shown = bands.loc[bands["epoch"] >= late_from]
    leading = shown.loc[shown["variant"].isin(leading_rows(bands))]
    # with one seed there are no bands (NaN bounds): the means alone set the range
    low = pd.concat([leading["accuracy_low"], leading["accuracy_mean"]]).min()
    high = pd.concat([leading["accuracy_high"], leading["accuracy_mean"]]).max()
    near = {label: value for label, value in lines.items() if low <= value <= high}
    plots.plot_curves(shown, "accuracy", styles=styles, references=near, ylabel="held-out accuracy", ax=late)
    margin = 0.05 * (high - low) if high > low else 0.01
    late.set_ylim(low - margin, high + margin)
    late.set_title(f"epochs {late_from} on", fontsize=10)
    whole.set_title("all epochs", fontsize=10)
    plots.legend_outside(late, sources=(late, whole))
    return whole


def _draw_final(analysis: Analysis, summary: pd.DataFrame, styles: dict, lines: dict) -> object:
    ax = plots.new_axes(width=max(6.0, 0.9 * len(summary) + 2), height=5)[0]
    plots.plot_seeds_and_intervals(analysis.outcomes, summary, "final_accuracy", styles=styles, ax=ax)
    plots.draw_references(ax, lines)
    ax.set(xlabel="", ylabel="final held-out accuracy")
    plots.tilt_labels(ax)
    plots.legend_outside(ax, title=None, below=True)
    return ax


def _draw_differences(analysis: Analysis, styles: dict) -> object:
    shown = {name: style for name, style in styles.items() if name != analysis.baseline}
    axes = plots.new_axes(width=11, height=0.5 * len(shown) + 2, ncols=2, sharey=True)
    for ax, metric in zip(axes, reversed(pairwise.METRICS), strict=True):
        rows = analysis.comparisons.loc[analysis.comparisons["metric"] == metric]
        intervals = rows.rename(columns={"mean_difference": "mean", "difference_low": "low", "difference_high": "high"})
        differences = _per_seed_differences(analysis.outcomes, analysis.baseline, metric)
        plots.plot_seeds_and_intervals(differences, intervals, "difference", styles=shown, horizontal=True, ax=ax)
        ax.axvline(0.0, color="0.4", linewidth=1.0, zorder=0)
        what = metric.replace("_", " ").replace("final", "final held-out")
        ax.set(xlabel=f"{what}, row - {analysis.baseline}", ylabel="")
    return axes[0]


def _per_seed_differences(outcomes: pd.DataFrame, baseline: str, metric: str) -> pd.DataFrame:
    """Per seed, each other row's ``metric`` minus the baseline's, over the seeds both have: variant, seed,
    difference."""
    base = outcomes.loc[outcomes["variant"] == baseline, ["seed", metric]].rename(columns={metric: "base"})
    others = outcomes.loc[outcomes["variant"] != baseline, ["variant", "seed", metric]]
    paired = others.merge(base, on="seed", how="inner")
    return paired.assign(difference=paired[metric] - paired["base"])[["variant", "seed", "difference"]]


def _draw_by_length(bands: pd.DataFrame, baselines: pd.DataFrame, settings: pd.DataFrame, styles: dict) -> object:
    ax = plots.plot_curves(bands, "accuracy", styles=styles, x="length", ylabel="final held-out accuracy")
    for row in settings.dropna(subset=["min_length"]).itertuples():
        ax.axvspan(row.min_length - 0.5, row.max_length + 0.5, color="0.85", zorder=0, label="trained on")
    for column, linestyle in (("position_only", "--"), ("position_and_length", ":")):
        for _, rows in baselines.groupby("lengths"):
            rows = rows.sort_values("length").dropna(subset=[column])
            label = column.replace("_", "-")
            ax.plot(rows["length"], rows[column], color="0.4", linestyle=linestyle, marker=".", label=label)
    lengths = bands["length"]
    if lengths.max() >= 8 * lengths.min():
        # held-out lengths far beyond the training ones: equal steps for equal ratios
        ax.set_xscale("log")
        ax.set_xticks(sorted(lengths.unique()), [str(length) for length in sorted(lengths.unique())])
        ax.minorticks_off()
    plots.legend_outside(ax)
    return ax
