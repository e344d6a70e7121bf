"""Report of finished sweeps: ``python -m bench.report [SWEEP_DIR ...] [--out DIR] [options]``.

Reads every job folder of the sweeps (default: the most recently written sweep under outputs/multirun) and
writes to SWEEP_DIR/report/ (the first sweep's, or --out DIR):

- results.csv: every row of every readable metrics.csv, plus run_dir (usable or not; runs.csv and
  problems.csv say which seeds were used);
- runs.csv (one row per job folder), seeds.csv (per-seed outcomes), problems.csv (left-out jobs and seeds);
- summary.csv (one row per variant), comparisons.csv (each variant against the baseline, paired by seed),
  by_length.csv (when the held-out set has more than one sequence length);
- PNG figures, report.md, and report.html (the same content with the figures embedded).

Exit status 0 on success, 2 with one line on stderr when there is nothing to report.
"""

from __future__ import annotations

import argparse
import base64
import html
import logging
import math
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bench import plots, stats
from bench.baselines import position_only_accuracy
from bench.collect import Collection, collect
from bench.intervals import N_BOOT
from bench.schema import variant_order
from bench.sweeps import find_latest_sweep

PROG = "bench.report"
DEFAULT_ROOT = Path("outputs/multirun")
REPORT_DIR = "report"
# Bootstrap bands cost one resampling loop per plotted point, so long curves are drawn at this many epochs.
MAX_CURVE_POINTS = 30

log = logging.getLogger(PROG)


class ReportError(Exception):
    """Nothing to report; the message is the one line printed on stderr."""


@dataclass(frozen=True)
class Options:
    """Report settings (see ``--help``)."""

    baseline: str = "forward"
    level: float = 0.95
    window: int = 25
    n_boot: int = N_BOOT
    seed: int = 0


# ----------------------------------------------------------------------------------------------------------
# A small document model, rendered once as Markdown and once as HTML so both say the same


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: list[str]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Image:
    path: Path
    caption: str


Block = Heading | Paragraph | Bullets | Table | Image


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence[Block]) -> str:
    """The document as Markdown; images are linked by file name, relative to the report folder."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Bullets):
            parts.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            lines = [block.header, ["---"] * len(block.header), *block.rows]
            parts.append("\n".join("| " + " | ".join(map(_markdown_cell, line)) + " |" for line in lines))
        else:
            parts.append(f"![{block.path.stem}]({block.path.name})\n\n{block.caption}")
    return "\n\n".join(parts) + "\n"


def _html_text(text: str) -> str:
    # the Markdown text uses `code` spans; everything else is plain text
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))


def render_html(blocks: Sequence[Block], title: str) -> str:
    """The document as one self-contained HTML page with the figures embedded as base64 PNG."""
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_html_text(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_html_text(block.text)}</p>")
        elif isinstance(block, Bullets):
            body.append("<ul>" + "".join(f"<li>{_html_text(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            header = "".join(f"<th>{_html_text(cell)}</th>" for cell in block.header)
            cells = ("".join(f"<td>{_html_text(cell)}</td>" for cell in row) for row in block.rows)
            rows = "".join(f"<tr>{row}</tr>" for row in cells)
            body.append(f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>")
        else:
            encoded = base64.b64encode(block.path.read_bytes()).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(block.path.stem)}" src="data:image/png;base64,{encoded}">'
                f"<figcaption>{_html_text(block.caption)}</figcaption></figure>"
            )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
        "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}"
        "figure{margin:1.5em 0}img{max-width:100%}figcaption{color:#555;font-size:.9em}"
        "code{background:#f4f4f4;padding:0 .2em}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


# ----------------------------------------------------------------------------------------------------------
# Formatting numbers


def format_number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals, or n/a for NaN."""
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def format_interval(mean: float, low: float, high: float, digits: int = 3) -> str:
    """Like ``0.912 [0.897, 0.925]``; the interval is n/a when it could not be estimated (under two seeds)."""
    if pd.isna(low) or pd.isna(high):
        return f"{format_number(mean, digits)} [n/a]"
    return f"{format_number(mean, digits)} [{format_number(low, digits)}, {format_number(high, digits)}]"


def format_p_value(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.3g}"


def format_seeds(seeds: Iterable[int]) -> str:
    """Seeds as compact ranges, e.g. ``0-3, 7``."""
    ordered = sorted(set(int(seed) for seed in seeds))
    spans: list[list[int]] = []
    for seed in ordered:
        if spans and seed == spans[-1][1] + 1:
            spans[-1][1] = seed
        else:
            spans.append([seed, seed])
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in spans)


def _distinct(values: pd.Series) -> str:
    present = [value for value in values.tolist() if value is not None and not pd.isna(value)]
    if not present:
        return "unknown"
    return ", ".join(str(value) or "(empty)" for value in sorted(set(present), key=str))


# ----------------------------------------------------------------------------------------------------------
# The analysis


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
            "heldout_size": _distinct(group["heldout_size"]),
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


def _references(settings: pd.DataFrame) -> dict[str, float]:
    known = settings.dropna(subset=["position_only"])
    return dict(zip(known["label"], known["position_only"], strict=True))


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


# ----------------------------------------------------------------------------------------------------------
# Figures


@dataclass(frozen=True)
class FigureSpec:
    """One figure: its file name, a one-line caption, and how to draw it onto a new figure."""

    name: str
    caption: str
    draw: Callable[[], object]


def _thinned_note(frame: pd.DataFrame, thinned: pd.DataFrame) -> str:
    shown, total = thinned["epoch"].nunique(), frame["epoch"].nunique()
    return f" Drawn at {shown} evenly spaced of {total} epochs." if shown < total else ""


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
                "training_loss.png",
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
            "heldout_loss.png",
            f"Held-out loss against epoch (epoch 0 is before training); {band}{thinned}",
            lambda: plots.plot_curves(shown_heldout, "loss", ylabel="held-out loss", **boot),
        )
    )
    specs.append(
        FigureSpec(
            "heldout_accuracy.png",
            f"Held-out accuracy against epoch; {band} Dashed: accuracy of the best predictor that sees only "
            f"the position of a step.{thinned}",
            lambda: plots.plot_curves(
                shown_heldout, "accuracy", ylabel="held-out accuracy", references=references, **boot
            ),
        )
    )
    specs.append(
        FigureSpec(
            "final_accuracy.png",
            "Final held-out accuracy per variant: each point is one seed; black diamond and bar: mean and "
            "95% bootstrap interval over seeds; dashed: position-only baseline.",
            lambda: plots.plot_final_accuracy(analysis.outcomes, references=references, **boot),
        )
    )
    if (analysis.comparisons["n_pairs"] > 0).any():
        specs.append(
            FigureSpec(
                "paired_differences.png",
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
                "accuracy_by_length.png",
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


# ----------------------------------------------------------------------------------------------------------
# The document


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
                _distinct(jobs["epochs"]),
                _distinct(jobs["engine"]),
                _distinct(jobs["device"]),
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
    items = [f"{label}: {_distinct(used[column])}" for label, column in settings]
    differing = [label for label, column in settings if used[column].nunique() > 1]
    if differing:
        items.append(f"these settings differ between runs: {', '.join(differing)}")
    version_columns = sorted(column for column in used.columns if column.startswith("version_"))
    items += [f"{column.removeprefix('version_')}: {_distinct(used[column])}" for column in version_columns]
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


# ----------------------------------------------------------------------------------------------------------
# Writing the report


OUTPUT_FIGURES = (
    "training_loss.png",
    "heldout_loss.png",
    "heldout_accuracy.png",
    "final_accuracy.png",
    "paired_differences.png",
    "accuracy_by_length.png",
)


def write_report(sweep_dirs: Sequence[Path], out_dir: Path, options: Options) -> Path:
    """Reads the sweeps, computes the tables, and writes every report file into ``out_dir``.

    Returns:
        The path of report.md.

    Raises:
        ReportError: a sweep folder is missing, or no job has a usable seed.
    """
    try:
        collection = collect(sweep_dirs)
    except FileNotFoundError as error:
        raise ReportError(str(error)) from error
    if collection.metrics.empty:
        where = ", ".join(str(sweep) for sweep in sweep_dirs)
        raise ReportError(f"no completed runs with metrics.csv under {where}")
    analysis = analyse(collection, options)
    if analysis.baseline_note:
        log.warning("%s", analysis.baseline_note)

    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "results.csv": collection.results,
        "runs.csv": collection.runs,
        "problems.csv": collection.problems,
        "seeds.csv": analysis.outcomes,
        "summary.csv": analysis.summary,
        "comparisons.csv": analysis.comparisons,
    }
    if not analysis.by_length.empty:
        tables["by_length.csv"] = analysis.by_length
    for name, table in tables.items():
        table.to_csv(out_dir / name, index=False)

    # figures of an earlier report into the same folder would otherwise look like part of this one
    for name in [*OUTPUT_FIGURES, "by_length.csv"]:
        if name not in tables:
            (out_dir / name).unlink(missing_ok=True)
    images = []
    for spec in figure_specs(analysis):
        images.append(Image(plots.save(spec.draw(), out_dir / spec.name), spec.caption))

    blocks = build_document(analysis, sweep_dirs, images)
    (out_dir / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(blocks, title="Benchmark report"), encoding="utf-8")
    return out_dir / "report.md"


# ----------------------------------------------------------------------------------------------------------
# Command line


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = Options()
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}", description="Report of finished sweeps.")
    parser.add_argument(
        "sweep_dirs",
        nargs="*",
        type=Path,
        metavar="SWEEP_DIR",
        help=f"sweep folders to read (default: the most recently written sweep under {DEFAULT_ROOT})",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: SWEEP_DIR/report)")
    options = (
        ("--baseline", str, "VARIANT", defaults.baseline, "variant the others are compared against"),
        ("--level", _fraction, "ACCURACY", defaults.level, "held-out accuracy for epochs-to-level"),
        ("--window", _positive, "N", defaults.window, "epochs in the training-curve rolling mean"),
        ("--n-boot", _positive, "N", defaults.n_boot, "bootstrap resamples"),
        ("--seed", _non_negative, "N", defaults.seed, "bootstrap seed"),
    )
    for flag, kind, metavar, default, text in options:
        described = f"{text} (default: {default})"
        parser.add_argument(flag, type=kind, metavar=metavar, default=default, help=described)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: warning: %(message)s", stream=sys.stderr)
    options = Options(args.baseline, args.level, args.window, args.n_boot, args.seed)
    try:
        sweep_dirs = args.sweep_dirs or [find_latest_sweep(DEFAULT_ROOT)]
        if sweep_dirs[0] is None:
            raise ReportError(f"no sweep folder under {DEFAULT_ROOT}; pass SWEEP_DIR")
        report = write_report(sweep_dirs, args.out or sweep_dirs[0] / REPORT_DIR, options)
    except ReportError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{PROG}: cannot write the report: {error}", file=sys.stderr)
        return 2
    print(f"{PROG}: wrote {report} and {report.with_suffix('.html').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
