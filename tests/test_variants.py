"""The variant names: their order, their models, their config names, and names that carry settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from bench.schema import Cell, config_hash, to_plain
from bench.variants import (
    CONFIG_VARIANTS,
    VARIANT_MODELS,
    VARIANTS,
    as_variant,
    base_variant,
    cell_of,
    labelled_variant,
    lstm_variant,
    variant_name,
    variant_order,
    variant_overrides,
)
from helpers.configs import CONF, make_config

LSTM = (
    "forward",
    "backward",
    "backward-unaligned",
    "bidirectional-sum",
    "bidirectional-mul",
    "bidirectional-concat",
    "bidirectional-ave",
)


def test_variants_in_report_order():
    # the LSTM's variants, then the same directions and merges with each other cell
    assert VARIANTS == (*LSTM, *(f"{name}-gru" for name in LSTM), *(f"{name}-simple-rnn" for name in LSTM))
    assert tuple(CONFIG_VARIANTS.values()) == LSTM


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_is_composed_by_its_overrides_and_spelled_either_way(variant):
    model = make_config(*variant_overrides(variant)).model
    assert variant_name(model) == variant
    expected = VARIANT_MODELS[variant]
    assert (model.direction, model.merge, model.aligned, model.cell) == (
        expected.direction,
        expected.merge,
        expected.aligned,
        expected.cell,
    )
    assert as_variant(variant.replace("-", "_")) == as_variant(variant) == variant
    assert cell_of(variant) is expected.cell and cell_of(f"{variant} [units=10]") is expected.cell
    assert VARIANT_MODELS[lstm_variant(variant)].direction == expected.direction
    assert VARIANT_MODELS[lstm_variant(variant)].cell is Cell.lstm


def test_cell_names_and_spellings():
    assert variant_overrides("bidirectional-sum-gru") == ["model=bidirectional_sum", "model.cell=gru"]
    assert variant_overrides("backward-unaligned") == ["model=backward_unaligned"]
    assert variant_name(make_config("model=backward_unaligned", "model.cell=simple_rnn").model) == (
        "backward-unaligned-simple-rnn"
    )
    assert as_variant("forward_simple_rnn") == "forward-simple-rnn"
    assert cell_of("mystery") is None
    # the default cell is the LSTM, and the LSTM's runs keep the digest they had before cells could be chosen
    cfg = make_config("model=forward")
    assert cfg.model.cell is Cell.lstm
    assert config_hash(cfg) != config_hash(make_config("model=forward", "model.cell=gru"))
    without_cell = OmegaConf.create(to_plain(cfg))
    del without_cell.model["cell"]
    assert config_hash(cfg) == config_hash(without_cell)


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


def test_the_cells_preset_sweeps_every_direction_and_merge_of_every_cell():
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("config", overrides=["experiment=cells"], return_hydra_config=True)
    params = cfg.hydra.sweeper.params
    jobs = [
        variant_name(make_config(f"model={model}", f"model.cell={cell}").model)
        for model in params.model.split(",")
        for cell in params["model.cell"].split(",")
    ]
    assert sorted(jobs) == sorted(VARIANTS)
    assert cfg.n_seeds == 10
    assert cfg.hydra.sweep.dir == "outputs/multirun/cells-10seeds-1000epochs"


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
