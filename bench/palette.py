"""How each row of a report is drawn: a colour, a line style and a marker that it keeps in every figure.

One hue family per direction, from the colour-blind-safe Okabe-Ito set and a blue ramp: forward green, the two
backward variants vermillion and orange, the four bidirectional merges four steps of blue from dark to light.
Within a family, variants also differ in line style and marker (the merges: solid circle, dashed square,
dash-dot triangle, dotted diamond), so they stay apart in greyscale and for every kind of colour blindness. The
other cells keep their direction's and merge's line style and marker shape, and show the cell by the marker's fill
and a shade: filled markers for the LSTM, hollow and darker for the GRU, half-filled and lighter for the SimpleRNN.
A model named with its settings ("forward [learning_rate=0.01]") gets a shade of its model's colour and its
model's style; other names get the remaining colours, solid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from matplotlib.colors import to_rgb

from bench.schema import Cell
from bench.variants import VARIANTS, base_variant, cell_of, lstm_variant, variant_order

Colour = tuple[float, float, float]


@dataclass(frozen=True)
class Style:
    """How one row is drawn: an RGB colour, a matplotlib line style and a marker."""

    colour: Colour
    linestyle: str | tuple = "-"
    marker: str = "o"
    # matplotlib's fillstyle of the marker: full, none (hollow) or a half
    fillstyle: str = "full"


# LSTM variant -> (colour, line style, marker); the keys are the LSTM's names in bench.variants.VARIANTS
KNOWN = {
    "forward": ("#009E73", "-", "P"),
    "backward": ("#D55E00", "-", "v"),
    "backward-unaligned": ("#E69F00", (0, (5, 2)), "X"),
    "bidirectional-sum": ("#08306B", "-", "o"),
    "bidirectional-mul": ("#2171B5", (0, (5, 2)), "s"),
    "bidirectional-concat": ("#4A9FD8", "-.", "^"),
    "bidirectional-ave": ("#8FC1E6", ":", "D"),
}
# cell -> (how far its colour moves towards black (< 0) or white (> 0), marker fill)
CELL_LOOKS = {Cell.lstm: (0.0, "full"), Cell.gru: (-0.35, "none"), Cell.simple_rnn: (0.3, "bottom")}
# for names the schema does not know: Okabe-Ito colours no variant uses, then greys
SPARE = ("#CC79A7", "#000000", "#F0E442", "#777777", "#BBBBBB")


def _blend(colour: Colour, towards: float, amount: float) -> Colour:
    return tuple(channel + amount * (towards - channel) for channel in colour)


def _shade(colour: Colour, amount: float) -> Colour:
    """``amount`` < 0 darkens by that fraction towards black, > 0 lightens towards white."""
    return _blend(colour, 0.0, -amount) if amount < 0 else _blend(colour, 1.0, amount)


def _variant_style(variant: str) -> Style:
    """The fixed style of a variant the schema knows: its LSTM's colour, line and marker, and its cell's look."""
    colour, linestyle, marker = KNOWN[lstm_variant(variant)]
    amount, fillstyle = CELL_LOOKS[cell_of(variant)]
    return Style(_shade(to_rgb(colour), amount), linestyle, marker, fillstyle)


def variant_styles(variants: Iterable[str]) -> dict[str, Style]:
    """A fixed :class:`Style` per name, in report order (:func:`bench.variants.variant_order`).

    Names of one model with other settings get shades of its colour from dark to light in report order; unknown
    names the SPARE colours in alphabetical order.
    """
    ordered = variant_order(variants)
    styles = {name: _variant_style(name) for name in VARIANTS}
    shades: dict[str, list[str]] = {}
    for name in ordered:
        if name not in styles and base_variant(name) in styles:
            shades.setdefault(base_variant(name), []).append(name)
    for model, names in shades.items():
        base = styles[model]
        for index, name in enumerate(names):
            # from 45% darker to 45% lighter than the model's colour
            amount = 0.0 if len(names) == 1 else -0.45 + 0.9 * index / (len(names) - 1)
            styles[name] = Style(_shade(base.colour, amount), base.linestyle, base.marker, base.fillstyle)
    unknown = sorted(set(ordered) - set(styles))
    styles.update({name: Style(to_rgb(SPARE[index % len(SPARE)])) for index, name in enumerate(unknown)})
    return {name: styles[name] for name in ordered}


def variant_palette(variants: Iterable[str]) -> dict[str, Colour]:
    """Name -> colour of :func:`variant_styles`, for seaborn's ``palette``."""
    return {name: style.colour for name, style in variant_styles(variants).items()}
