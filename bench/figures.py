"""The figures of a report: which ones the analysis supports, their file names, captions and how to draw them.

The drawing itself is :mod:`bench.plots`; this module decides what each figure shows and what it says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from bench import plots, stats
from bench.analysis import Analysis

TRAINING_LOSS = "training_loss.png"
HELDOUT_LOSS = "heldout_loss.png"
HELDOUT_ACCURACY = "heldout_accuracy.png"
FINAL_ACCURACY = "final_accuracy.png"
PAIRED_DIFFERENCES = "paired_differences.png"
ACCURACY_BY_LENGTH = "accuracy_by_length.png"
# every figure a report can hold, in report order; figure_specs leaves out those without data
FIGURE_NAMES = (TRAINING_LOSS, HELDOUT_LOSS, HELDOUT_ACCURACY, FINAL_ACCURACY, PAIRED_DIFFERENCES, ACCURACY_BY_LENGTH)

# Bootstrap bands cost one resampling loop per plotted point, so long curves are drawn at this many epochs.
MAX_CURVE_POINTS = 30


@dataclass(frozen=True)
class FigureSpec:
    """One figure: its file name, a one-line caption, and how to draw it onto a new figure."""

    name: str
    caption: str
    draw: Callable[[], object]


def _thinned_note(frame: pd.DataFrame, thinned: pd.DataFrame) -> str:
    shown, total = thinned["epoch"].nunique(), frame["epoch"].nunique()
    return f" Drawn at {shown} evenly spaced of {total} epochs." if shown < total else ""


def _references(settings: pd.DataFrame) -> dict[str, float]:
    """Reference lines: the position-only accuracy of each data setting whose baseline is known, by label."""
    known = settings.dropna(subset=["position_only"])
    return dict(zip(known["label"], known["position_only"], strict=True))


def figure_specs(analysis: Analysis) -> list[FigureSpec]:
    """The figures the analysis supports (a figure without data is left out)."""
    options, metrics = analysis.options, analysis.collection.metrics
    palette = plots.variant_palette(metrics["variant"])
    boot = {"palette": palette, "n_boot": options.n_boot, "seed": options.seed}
    references = _references(analysis.settings)
    band = "line: mean over seeds; band: 95% bootstrap interval across seeds."
    specs = []

    train = metrics.loc[metrics["split"] == "train", ["variant", "seed", "epoch", "loss"]]
    if not train.empty:
        smoothed = stats.rolling_mean_per_seed(train, ["loss"], options.window)
        shown_train = stats.thin_epochs(smoothed, MAX_CURVE_POINTS)
        specs.append(
            FigureSpec(
                TRAINING_LOSS,
                f"Training loss of each update's batch, smoothed per seed by a trailing "
                f"{options.window}-epoch rolling mean; {band}{_thinned_note(smoothed, shown_train)}",
                lambda: plots.plot_curves(shown_train, "loss", ylabel="training loss (smoothed)", **boot),
            )
        )
    heldout = metrics.loc[metrics["split"] == "heldout", ["variant", "seed", "epoch", "loss", "accuracy"]]
    shown_heldout = stats.thin_epochs(heldout, MAX_CURVE_POINTS)
    thinned = _thinned_note(heldout, shown_heldout)
    specs.append(
        FigureSpec(
            HELDOUT_LOSS,
            f"Held-out loss against epoch (epoch 0 is before training); {band}{thinned}",
            lambda: plots.plot_curves(shown_heldout, "loss", ylabel="held-out loss", **boot),
        )
    )
    specs.append(
        FigureSpec(
            HELDOUT_ACCURACY,
            f"Held-out accuracy against epoch; {band} Dashed: accuracy of the best predictor that sees only "
            f"the position of a step.{thinned}",
            lambda: plots.plot_curves(
                shown_heldout, "accuracy", ylabel="held-out accuracy", references=references, **boot
            ),
        )
    )
    specs.append(
        FigureSpec(
            FINAL_ACCURACY,
            "Final held-out accuracy per variant: each point is one seed; black diamond and bar: mean and "
            "95% bootstrap interval over seeds; dashed: position-only baseline.",
            lambda: plots.plot_final_accuracy(analysis.outcomes, references=references, **boot),
        )
    )
    if (analysis.comparisons["n_pairs"] > 0).any():
        specs.append(
            FigureSpec(
                PAIRED_DIFFERENCES,
                f"Per-seed differences from {analysis.baseline} on the same seed (points) with their mean "
                "and 95% bootstrap interval (diamond and bar), as in the comparisons table; left: final "
                "held-out loss (lower is better), right: final held-out accuracy (higher is better).",
                lambda: _draw_differences(analysis, boot),
            )
        )
    if not analysis.by_length.empty:
        length_rows = analysis.collection.by_length
        specs.append(
            FigureSpec(
                ACCURACY_BY_LENGTH,
                f"Final held-out accuracy against sequence length; {band}",
                lambda: plots.plot_curves(
                    length_rows, "accuracy", x="length", ylabel="final held-out accuracy", **boot
                ),
            )
        )
    return specs


def _draw_differences(analysis: Analysis, boot: dict) -> object:
    axes = plots.new_axes(width=11, height=0.5 * analysis.outcomes["variant"].nunique() + 2, ncols=2)
    for ax, (metric, _) in zip(axes, stats.COMPARED_METRICS, strict=True):
        differences = stats.paired_differences(analysis.outcomes, analysis.baseline, metric)
        what = metric.replace("_", " ").replace("final", "final held-out")
        label = f"{what}, variant - {analysis.baseline}"
        plots.plot_paired_differences(differences, xlabel=label, ax=ax, **boot)
    axes[1].set_yticklabels([])
    return axes[0]
