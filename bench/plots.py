"""Figures of a report, drawn with seaborn's function interface on Agg-rendered matplotlib figures.

Each plot function takes tidy data and an optional ``ax``; without one it makes a new figure. Intervals are
seaborn's bootstrap intervals over seeds (``errorbar=("ci", 95)``) with an explicit ``n_boot`` and ``seed``,
so a figure is the same every time it is drawn from the same data. Figures are made without pyplot, so
drawing them changes no global matplotlib state and needs no display.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.schema import VARIANTS, base_variant, variant_order

ERRORBAR = ("ci", 95)
Colour = tuple[float, float, float]
# label -> accuracy of a reference predictor, drawn as a dashed horizontal line
References = Mapping[str, float]


def variant_palette(variants: Iterable[str]) -> dict[str, Colour]:
    """A fixed colour per variant: the known variants always get the same colorblind-safe colours.

    A known model named with its settings ("forward [learning_rate=0.01]") gets a shade of its model's colour,
    from dark to light in report order; other variants get the remaining colours in alphabetical order.

    Args:
        variants: the variant names to colour.

    Returns:
        variant name -> RGB colour.
    """
    colours = sns.color_palette("colorblind", 10)
    spare = colours[len(VARIANTS) :] + sns.color_palette("dark", 10)
    palette = dict(zip(VARIANTS, colours, strict=False))
    ordered = variant_order(variants)
    shades: dict[str, list[str]] = {}
    for name in ordered:
        model = base_variant(name)
        if name not in palette and model in palette:
            shades.setdefault(model, []).append(name)
    for model, names in shades.items():
        base = palette[model]
        darker = tuple(0.55 * channel for channel in base)
        lighter = tuple(channel + 0.55 * (1 - channel) for channel in base)
        tones = [base] if len(names) == 1 else sns.blend_palette([darker, base, lighter], len(names))
        palette.update({name: tuple(tone) for name, tone in zip(names, tones, strict=True)})
    unknown = sorted(set(variants) - set(palette))
    palette.update({name: spare[index % len(spare)] for index, name in enumerate(unknown)})
    return {name: palette[name] for name in ordered}


def new_axes(width: float = 7.5, height: float = 4.5, ncols: int = 1) -> list[Axes]:
    """Axes on a new Agg figure of the given size in inches, ``ncols`` side by side."""
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return list(figure.subplots(1, ncols, squeeze=False)[0])


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else new_axes()[0]


def _draw_references(ax: Axes, references: References, horizontal: bool = True) -> None:
    styles = ("--", ":", "-.")
    for index, (label, value) in enumerate(references.items()):
        draw = ax.axhline if horizontal else ax.axvline
        draw(value, color="0.35", linestyle=styles[index % len(styles)], linewidth=1.2, label=label, zorder=0)


def _legend_outside(ax: Axes, title: str | None = "variant") -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def plot_curves(
    data: pd.DataFrame,
    y: str,
    *,
    palette: Mapping[str, Colour],
    n_boot: int,
    seed: int,
    x: str = "epoch",
    references: References | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One line per variant: the mean over seeds of ``y`` against ``x``, with a 95% bootstrap band over seeds.

    Args:
        data: tidy rows with columns variant, ``x`` and ``y``, one row per (variant, seed, x).
        y: the column to draw, e.g. loss.
        palette: variant -> colour (see :func:`variant_palette`).
        n_boot, seed: bootstrap resamples and seed of the bands.
        x: the column on the horizontal axis (epoch or length).
        references: label -> value of horizontal reference lines.
        ylabel, title: axis label (default ``y``) and title.
        ax: where to draw; a new figure when None.

    Returns:
        The axes.
    """
    ax = _axes(ax)
    sns.lineplot(
        data=data,
        x=x,
        y=y,
        hue="variant",
        hue_order=[name for name in palette if name in set(data["variant"])],
        palette=dict(palette),
        errorbar=ERRORBAR,
        n_boot=n_boot,
        seed=seed,
        marker="o" if data[x].nunique() <= 30 else None,
        markersize=4,
        ax=ax,
    )
    _draw_references(ax, references or {})
    ax.set(xlabel=x, ylabel=ylabel or y, title=title)
    _legend_outside(ax)
    return ax


def plot_final_accuracy(
    outcomes: pd.DataFrame,
    *,
    palette: Mapping[str, Colour],
    n_boot: int,
    seed: int,
    references: References | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Final held-out accuracy per variant: each seed as a point, plus the mean and its 95% interval.

    Args:
        outcomes: rows with columns variant and final_accuracy, one per seed.
        palette: variant -> colour.
        n_boot, seed: bootstrap resamples and seed of the intervals.
        references: label -> value of horizontal reference lines.
        title: axes title.
        ax: where to draw; a new figure when None.

    Returns:
        The axes.
    """
    ax = _axes(ax)
    order = [name for name in palette if name in set(outcomes["variant"])]
    _seeds_and_interval(
        ax,
        outcomes,
        x="variant",
        y="final_accuracy",
        order=order,
        palette=palette,
        n_boot=n_boot,
        seed=seed,
        interval_colour="black",
    )
    _draw_references(ax, references or {})
    ax.set(xlabel="", ylabel="final held-out accuracy", title=title)
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    _legend_outside(ax, title=None)
    return ax


def plot_paired_differences(
    differences: pd.DataFrame,
    *,
    palette: Mapping[str, Colour],
    n_boot: int,
    seed: int,
    xlabel: str,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Per variant, its per-seed differences from the baseline as points and their mean with a 95% interval.

    Drawn from the same per-seed differences, in the same order, with the same ``n_boot`` and ``seed`` as
    :func:`bench.stats.compare_to_baseline`, so the intervals match the comparison table.

    Args:
        differences: :func:`bench.stats.paired_differences` rows (variant, seed, difference).
        palette: variant -> colour.
        n_boot, seed: bootstrap resamples and seed of the intervals.
        xlabel: what the difference is of, e.g. "final held-out loss, variant - forward".
        title: axes title.
        ax: where to draw; a new figure when None.

    Returns:
        The axes.
    """
    ax = _axes(ax)
    order = [name for name in palette if name in set(differences["variant"])]
    _seeds_and_interval(
        ax, differences, x="difference", y="variant", order=order, palette=palette, n_boot=n_boot, seed=seed
    )
    ax.axvline(0.0, color="0.35", linewidth=1.0, zorder=0)
    ax.set(xlabel=xlabel, ylabel="", title=title)
    return ax


def _seeds_and_interval(
    ax: Axes,
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    order: list[str],
    palette: Mapping[str, Colour],
    n_boot: int,
    seed: int,
    interval_colour: str | None = None,
) -> None:
    """Every seed as a point in its variant's colour, and the mean with its 95% bootstrap interval.

    The interval is drawn in ``interval_colour``, or in each variant's colour when None.
    """
    common = {"data": data, "x": x, "y": y, "order": order, "ax": ax}
    colours = {"hue": "variant", "hue_order": order, "palette": dict(palette), "legend": False}
    sns.stripplot(**common, **colours, jitter=0.2, alpha=0.7)
    sns.pointplot(
        **common,
        **({"color": interval_colour} if interval_colour else colours),
        errorbar=ERRORBAR,
        n_boot=n_boot,
        seed=seed,
        linestyle="none",
        markers="D",
        markersize=5,
        capsize=0.25,
        err_kws={"linewidth": 1.5},
    )


def save(figure_or_axes: Figure | Axes, path: Path, dpi: int = 200) -> Path:
    """Writes the figure (of the axes) as a PNG file and returns its path.

    200 dots per inch: report.html shows a figure at 120 CSS pixels per inch, so each CSS pixel gets about 1.7 PNG
    pixels and the text stays sharp on high-density laptop screens.

    The PNG carries no software version, so a figure depends only on what it shows.
    """
    figure = figure_or_axes if isinstance(figure_or_axes, Figure) else figure_or_axes.figure
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return path
