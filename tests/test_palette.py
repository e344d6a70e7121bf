"""How rows are drawn: a distinct, fixed style per variant, shades for runs of one model with other settings."""

from __future__ import annotations

from bench.palette import KNOWN, variant_palette, variant_styles
from bench.schema import VARIANTS


def test_every_variant_has_its_own_colour_and_its_own_line():
    assert set(KNOWN) == set(VARIANTS)
    styles = variant_styles(VARIANTS)
    assert list(styles) == list(VARIANTS)
    assert len({style.colour for style in styles.values()}) == len(VARIANTS)
    # within a direction, line style and marker tell variants apart as well as colour does
    merges = [styles[name] for name in VARIANTS if name.startswith("bidirectional-")]
    assert len({(style.linestyle, style.marker) for style in merges}) == len({style.marker for style in merges}) == 4
    backward = (styles["backward"], styles["backward-unaligned"])
    assert backward[0].linestyle != backward[1].linestyle and backward[0].marker != backward[1].marker


def test_merges_share_a_hue_family_ordered_by_lightness():
    colours = [variant_styles(VARIANTS)[name].colour for name in VARIANTS if name.startswith("bidirectional-")]
    assert all(blue > red for red, _, blue in colours)
    assert [sum(colour) for colour in colours] == sorted(sum(colour) for colour in colours)


def test_runs_of_one_model_with_other_settings_get_shades_of_its_colour():
    plain = variant_palette(["forward", "backward"])
    shaded = variant_palette(["forward [units=10]", "forward [units=40]", "backward", "mystery"])
    assert shaded["backward"] == plain["backward"]
    low, high = shaded["forward [units=10]"], shaded["forward [units=40]"]
    assert low != high and sum(low) < sum(plain["forward"]) < sum(high)
    assert shaded["mystery"] not in (low, high, plain["forward"], plain["backward"])
    styles = variant_styles(["forward [units=10]", "forward"])
    assert styles["forward [units=10]"].marker == styles["forward"].marker
