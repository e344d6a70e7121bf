"""Figures of a report, drawn on Agg-rendered matplotlib figures from tables the statistics modules computed.

Every mean and interval a figure shows is read from a table (curve bands from :func:`bench.stats.curve_intervals`,
per-row intervals from the summary, pairwise cells from :mod:`bench.pairwise`), so a figure shows exactly the
intervals of the tables and drawing it resamples nothing. Lines and bands are plain matplotlib for that reason;
seaborn draws the per-seed points. Figures are made without pyplot, so drawing them
changes no global matplotlib state and needs no display. Each row keeps its :mod:`bench.palette` style.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bench.palette import Style

# label -> value of a reference predictor, drawn as a grey horizontal line
References = Mapping[str, float]
LAYOUT = "constrained"
REFERENCE_STYLES = ("--", ":", "-.", (0, (1, 3)))


def new_axes(width: float = 7.5, height: float = 4.5, ncols: int = 1, **options) -> list[Axes]:
    """Axes on a new Agg figure of the given size in inches, ``ncols`` side by side (options to subplots)."""
    figure = Figure(figsize=(width, height), layout=LAYOUT)
    FigureCanvasAgg(figure)
    return list(figure.subplots(1, ncols, squeeze=False, **options)[0])


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else new_axes()[0]


def draw_references(ax: Axes, references: References, horizontal: bool = True) -> None:
    """Grey reference lines, one line style each, labelled for the legend."""
    for index, (label, value) in enumerate(references.items()):
        draw = ax.axhline if horizontal else ax.axvline
        style = REFERENCE_STYLES[index % len(REFERENCE_STYLES)]
        draw(value, color="0.4", linestyle=style, linewidth=1.2, label=label, zorder=0)


def legend_outside(ax: Axes, title: str | None = "variant", sources: Sequence[Axes] = (), below: bool = False) -> None:
    """The legend of the labelled artists of ``ax`` (or of all ``sources``, each label once), to its right or
    below it."""
    entries: dict[str, object] = {}
    for source in sources or (ax,):
        handles, labels = source.get_legend_handles_labels()
        for handle, label in zip(handles, labels, strict=True):
            entries.setdefault(label, handle)
    if not entries:
        return
    where = {"loc": "upper left", "bbox_to_anchor": (1.01, 1.0)}
    if below:
        # under the tilted category labels
        where = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.3)}
    ax.legend(list(entries.values()), list(entries), title=title, frameon=False, **where)


def plot_curves(
    bands: pd.DataFrame,
    y: str,
    *,
    styles: Mapping[str, Style],
    x: str = "epoch",
    references: References | None = None,
    ylabel: str | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """One line per row: the mean of ``y`` against ``x`` with its interval as a band.

    Args:
        bands: :func:`bench.stats.curve_intervals` rows: variant, ``x``, <y>_mean, <y>_low, <y>_high.
        y: the value drawn, e.g. loss.
        styles: variant -> :class:`bench.palette.Style`, in legend order.
        x: the column on the horizontal axis (epoch or length).
        references: label -> value of horizontal reference lines.
        ylabel, title: axis label (default ``y``) and title.
        ax: where to draw; a new figure when None.

    Returns:
        The axes.
    """
    ax = _axes(ax)
    for variant, style in styles.items():
        rows = bands.loc[bands["variant"] == variant]
        if rows.empty:
            continue
        along = rows[x].to_numpy()
        ax.fill_between(along, rows[f"{y}_low"], rows[f"{y}_high"], color=style.colour, alpha=0.2, linewidth=0)
        ax.plot(
            along,
            rows[f"{y}_mean"],
            color=style.colour,
            linestyle=style.linestyle,
            marker=style.marker,
            fillstyle=style.fillstyle,
            markevery=max(1, len(rows) // 20),
            markersize=4,
            linewidth=1.6,
            label=variant,
        )
    draw_references(ax, references or {})
    ax.set(xlabel=x, ylabel=ylabel or y, title=title)
    return ax


def plot_seeds_and_intervals(
    seeds: pd.DataFrame,
    intervals: pd.DataFrame,
    value: str,
    *,
    styles: Mapping[str, Style],
    horizontal: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Per row, every seed as a point in the row's colour, and the mean with its interval as a black diamond and bar.

    Args:
        seeds: rows with columns variant and ``value``, one per seed.
        intervals: one row per variant with columns variant, mean, low, high (from a table of the report).
        value: the per-seed column.
        styles: variant -> style, in drawing order.
        horizontal: rows along the vertical axis (values along the horizontal one).
        ax: where to draw; a new figure when None.

    Returns:
        The axes.
    """
    ax = _axes(ax)
    order = [name for name in styles if name in set(seeds["variant"])]
    palette = {name: styles[name].colour for name in order}
    where = {"x": value, "y": "variant"} if horizontal else {"x": "variant", "y": value}
    with _seeded_jitter():
        sns.stripplot(
            data=seeds, **where, order=order, hue="variant", hue_order=order, palette=palette, legend=False,
            jitter=0.2, alpha=0.7, ax=ax,
        )  # fmt: skip
    drawn = intervals.set_index("variant").reindex(order)
    positions = np.arange(len(order))
    mean = drawn["mean"].to_numpy()
    error = np.abs(np.stack([mean - drawn["low"].to_numpy(), drawn["high"].to_numpy() - mean]))
    bars = {"fmt": "D", "color": "black", "markersize": 5, "capsize": 4, "elinewidth": 1.5, "zorder": 3}
    if horizontal:
        ax.errorbar(mean, positions, xerr=error, **bars)
    else:
        ax.errorbar(positions, mean, yerr=error, **bars)
    return ax


def tilt_labels(ax: Axes) -> None:
    """Category labels on the horizontal axis turned by 30 degrees, right-aligned under their tick."""
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")


def _signed(value: float, digits: int) -> str:
    return "n/a" if pd.isna(value) else f"{value:+.{digits}f}"


def plot_pairwise_matrix(
    cells: pd.DataFrame, order: Sequence[str], *, alpha: float, digits: int = 4, ax: Axes | None = None
) -> Axes:
    """Every pair of rows as a cell: row minus column, with its interval and the row's win rate.

    Args:
        cells: comparisons in both orientations (:func:`bench.pairwise.both_ways`): variant, other,
            mean_difference, difference_low, difference_high, win_rate, p_holm.
        order: the rows and columns, in order.
        alpha: cells with a Holm-adjusted p below it are drawn in bold and starred.
        digits: decimals of the differences.
        ax: where to draw; a new figure when None.

    Returns:
        The axes.
    """
    ax = ax if ax is not None else new_axes(width=1.45 * len(order) + 3, height=1.0 * len(order) + 1.5)[0]
    table = cells.set_index(["variant", "other"])
    difference = np.full((len(order), len(order)), np.nan)
    text = np.full(difference.shape, "", dtype=object)
    for i, row in enumerate(order):
        for j, column in enumerate(order):
            if (row, column) not in table.index:
                continue
            cell = table.loc[(row, column)]
            difference[i, j] = cell["mean_difference"]
            star = "*" if cell["p_holm"] < alpha else ""
            interval = f"[{_signed(cell['difference_low'], digits)}, {_signed(cell['difference_high'], digits)}]"
            text[i, j] = f"{_signed(cell['mean_difference'], digits)}{star}\n{interval}\nwins {cell['win_rate']:.2f}"
    limit = np.nanmax(np.abs(difference)) if np.isfinite(difference).any() else 1.0
    image = ax.imshow(np.ma.masked_invalid(difference), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    colours = image.cmap(image.norm(np.nan_to_num(difference)))
    for (i, j), label in np.ndenumerate(text):
        # white text where the cell is dark
        dark = np.dot(colours[i, j, :3], (0.299, 0.587, 0.114)) < 0.5
        weight = "bold" if "*" in label else "normal"
        cell = ax.text(j, i, label, ha="center", va="center", fontsize=7, color="white" if dark else "black")
        # inside the axes: leaving the cells out of layout and tight-box measuring saves most of the drawing time
        cell.set(weight=weight, in_layout=False)
    ax.figure.colorbar(image, ax=ax, label="mean paired difference (row - column)")
    ax.set_xticks(range(len(order)), order)
    ax.set_yticks(range(len(order)), order)
    ax.set(xlabel="column", ylabel="row")
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    tilt_labels(ax)
    return ax


@contextlib.contextmanager
def _seeded_jitter(seed: int = 0) -> Iterator[None]:
    """seaborn draws strip-plot jitter from NumPy's global generator: seeded here, so the same values give the same
    figure in every report, and restored afterwards."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


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
