"""The report as a document: blocks (heading, paragraph, bullets, table, image), their Markdown and HTML.

A report is built once as a list of blocks and rendered twice, so report.md and report.html say the same.
Numbers and lists of values are formatted here, so every table writes them alike.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image as PILImage


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


# CSS pixels per inch of a figure: its 10-point text then reads like the page's text.
FIGURE_CSS_PER_INCH = 120


def _display_width(path: Path) -> int:
    """A PNG's width in CSS pixels; a figure saved at more dots per inch (plots.save) stays sharp on dense screens."""
    with PILImage.open(path) as image:
        dpi = image.info.get("dpi", (FIGURE_CSS_PER_INCH,))[0]
        return round(image.width * FIGURE_CSS_PER_INCH / dpi)


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
            body.append(
                f'<div class="table"><table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table></div>'
            )
        else:
            encoded = base64.b64encode(block.path.read_bytes()).decode("ascii")
            body.append(
                f'<figure><img alt="{html.escape(block.path.stem)}" width="{_display_width(block.path)}"'
                f' src="data:image/png;base64,{encoded}"><figcaption>{_html_text(block.caption)}</figcaption></figure>'
            )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        # a table wider than the page scrolls in its own box; a value and its interval stay on one line
        ".table{overflow-x:auto;margin:1em 0}table{border-collapse:collapse;font-size:.9em}"
        "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}th{background:#f2f2f2}"
        "td{white-space:nowrap;font-variant-numeric:tabular-nums}"
        "figure{margin:1.5em 0}img{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}"
        "code{background:#f4f4f4;padding:0 .2em;overflow-wrap:anywhere}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def format_number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals, or n/a for NaN."""
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def format_interval(mean: float, low: float, high: float, digits: int = 3) -> str:
    """Like ``0.912 [0.897, 0.925]``; the interval is n/a when it could not be estimated (under two seeds)."""
    if pd.isna(low) or pd.isna(high):
        return f"{format_number(mean, digits)} [n/a]"
    return f"{format_number(mean, digits)} [{format_number(low, digits)}, {format_number(high, digits)}]"


def format_p_value(value: float) -> str:
    """A p-value to three significant digits, ``n/a`` when there is none."""
    return "n/a" if pd.isna(value) else f"{value:.3g}"


def format_epochs(first: int, last: int) -> str:
    """An epoch range: ``epochs 900-1000``, or ``epoch 20`` when it is one epoch."""
    return f"epoch {last}" if first == last else f"epochs {first}-{last}"


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


def format_distinct(values: pd.Series) -> str:
    """The distinct values present, sorted as text and joined by commas; ``unknown`` when there are none."""
    present = [value for value in values.tolist() if value is not None and not pd.isna(value)]
    if not present:
        return "unknown"
    return ", ".join(str(value) or "(empty)" for value in sorted(set(present), key=str))
