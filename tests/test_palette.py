"""How rows are drawn: a distinct, fixed style per variant, shades for runs of one model with other settings."""

from __future__ import annotations

from bench.palette import KNOWN, variant_palette, variant_styles
from bench.variants import CONFIG_VARIANTS, VARIANTS, lstm_variant

LSTM_VARIANTS = list(CONFIG_VARIANTS.values())


def test_every_variant_has_its_own_colour_and_its_own_line():
    assert set(KNOWN) == set(LSTM_VARIANTS)
    styles = variant_styles(LSTM_VARIANTS)
    assert list(styles) == LSTM_VARIANTS
    assert len({style.colour for style in styles.values()}) == len(LSTM_VARIANTS)
    # within a direction, line style and marker tell variants apart as well as colour does
    merges = [styles[name] for name in LSTM_VARIANTS if name.startswith("bidirectional-")]
    assert len({(style.linestyle, style.marker) for style in merges}) == len({style.marker for style in merges}) == 4
    backward = (styles["backward"], styles["backward-unaligned"])
    assert backward[0].linestyle != backward[1].linestyle and backward[0].marker != backward[1].marker


def test_every_variant_of_every_cell_is_drawn_its_own_way_and_the_cell_by_the_marker_fill():
    styles = variant_styles(VARIANTS)
    assert list(styles) == list(VARIANTS) and len(VARIANTS) == 21
    assert len({style.colour for style in styles.values()}) == len(VARIANTS)
    assert len({(s.colour, s.linestyle, s.marker, s.fillstyle) for s in styles.values()}) == len(VARIANTS)
    fills = {name.removeprefix(lstm_variant(name)): {styles[name].fillstyle} for name in VARIANTS}
    assert fills == {"": {"full"}, "-gru": {"none"}, "-simple-rnn": {"bottom"}}
    for name in VARIANTS:
        lstm = styles[lstm_variant(name)]
        # the direction and merge keep their line and marker shape in every cell; GRU darker, SimpleRNN lighter
        assert (styles[name].linestyle, styles[name].marker) == (lstm.linestyle, lstm.marker)
        if name.endswith("-gru"):
            assert sum(styles[name].colour) < sum(lstm.colour)
        if name.endswith("-simple-rnn"):
            assert sum(styles[name].colour) > sum(lstm.colour)
    # a report of the GRU's variants alone draws them as they are drawn beside the others
    gru = [name for name in VARIANTS if name.endswith("-gru")]
    assert variant_styles(gru) == {name: styles[name] for name in gru}


def test_merges_share_a_hue_family_ordered_by_lightness():
    lstm = variant_styles(LSTM_VARIANTS)
    colours = [lstm[name].colour for name in LSTM_VARIANTS if name.startswith("bidirectional-")]
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
