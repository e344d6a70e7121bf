"""The variant names: their order, their models, their config names, and names that carry settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from bench.schema import (
    CONFIG_VARIANTS,
    VARIANT_MODELS,
    VARIANTS,
    as_variant,
    base_variant,
    labelled_variant,
    variant_name,
    variant_order,
)
from helpers.configs import CONF, make_config


def test_variants_in_report_order():
    assert VARIANTS == (
        "forward",
        "backward",
        "backward-unaligned",
        "bidirectional-sum",
        "bidirectional-mul",
        "bidirectional-concat",
        "bidirectional-ave",
    )


@pytest.mark.parametrize(("config", "variant"), list(CONFIG_VARIANTS.items()))
def test_each_config_name_composes_its_variant_and_model(config, variant):
    model = make_config(f"model={config}").model
    assert variant_name(model) == variant
    expected = VARIANT_MODELS[variant]
    assert (model.direction, model.merge, model.aligned) == (expected.direction, expected.merge, expected.aligned)


def test_every_model_config_but_the_bidirectional_default_names_a_variant():
    configs = {path.stem for path in Path(CONF, "model").glob("*.yaml")}
    assert configs - set(CONFIG_VARIANTS) == {"bidirectional"}
    assert set(CONFIG_VARIANTS) <= configs
    assert variant_name(make_config("model=bidirectional").model) == "bidirectional-concat"


def test_the_all_preset_sweeps_every_variant_in_order():
    preset = OmegaConf.load(Path(CONF, "experiment", "all.yaml"))
    assert preset.hydra.sweeper.params.model.split(",") == list(CONFIG_VARIANTS)


def test_a_model_named_either_way_is_its_variant():
    assert as_variant("bidirectional_sum") == as_variant("bidirectional-sum") == "bidirectional-sum"
    assert as_variant("backward_unaligned") == "backward-unaligned"
    assert as_variant("forward [units=10]") == "forward [units=10]"
    assert as_variant("bidirectional") == "bidirectional"


def test_a_name_with_settings_keeps_its_variant():
    name = labelled_variant("forward", {"learning_rate": 0.01, "units": 40})
    assert name == "forward [learning_rate=0.01, units=40]"
    assert base_variant(name) == "forward" and base_variant("bidirectional-sum") == "bidirectional-sum"


def test_variant_order():
    assert variant_order(["zz", "bidirectional-ave", "forward", "aa", "forward"]) == [
        "forward",
        "bidirectional-ave",
        "aa",
        "zz",
    ]
    assert variant_order(["backward", "forward [units=40]", "forward [units=10]", "forward"]) == [
        "forward",
        "forward [units=10]",
        "forward [units=40]",
        "backward",
    ]
