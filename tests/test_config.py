"""Every default has one owner: the schema. Config files and the Makefile hold only what differs from it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from bench.schema import GROUP_SCHEMAS, BenchConfig
from helpers.configs import CONF, make_config

ROOT = CONF.parent


def schema_default(path: str) -> Any:
    """The schema's default at a dotted path such as ``train.epochs``, as the plain value a YAML file would hold."""
    defaults = OmegaConf.to_container(OmegaConf.structured(BenchConfig), enum_to_str=True)
    return OmegaConf.select(OmegaConf.create(defaults), path)


def leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a loaded YAML file by its dotted path; Hydra's own keys and the defaults list left out."""
    if not isinstance(node, dict):
        return {prefix.rstrip("."): node}
    found = {}
    for key, value in node.items():
        if key not in ("defaults", "hydra"):
            found.update(leaves(value, f"{prefix}{key}."))
    return found


def group_files() -> list[Path]:
    return sorted(path for group in GROUP_SCHEMAS for path in Path(CONF, group).glob("*.yaml"))


@pytest.mark.parametrize("path", group_files(), ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_a_group_option_extends_its_schema_and_sets_only_what_differs_from_it(path):
    group = path.parent.name
    loaded = OmegaConf.to_container(OmegaConf.load(path))
    parent, *rest = loaded["defaults"]
    assert rest in ([], ["_self_"])  # the option's own values after what it extends
    # an option extends the group's schema, or another option that does (bidirectional_sum extends bidirectional)
    assert parent == f"base_{group}" or Path(CONF, group, f"{parent}.yaml").exists(), f"{path} extends {parent}"
    for key, value in leaves(loaded).items():
        assert value != schema_default(f"{group}.{key}"), f"{path} sets {key}: {value}, the schema's default"


@pytest.mark.parametrize("path", sorted(Path(CONF, "experiment").glob("*.yaml")), ids=lambda path: path.stem)
def test_a_preset_sets_no_value_the_schema_already_has(path):
    for key, value in leaves(OmegaConf.to_container(OmegaConf.load(path))).items():
        assert value != schema_default(key), f"{path} sets {key}: {value}, the schema's default"


def test_train_and_runtime_are_no_groups_and_their_values_still_set_from_the_command_line():
    assert not Path(CONF, "train").exists() and not Path(CONF, "runtime").exists()
    cfg = make_config("train.epochs=250", "runtime.threads=0")
    assert (cfg.train.epochs, cfg.runtime.threads, cfg.train.eval_every) == (250, 0, 50)


def test_the_variable_length_data_option_is_what_the_preset_uses():
    option = make_config("data=variable_length").data
    assert (option.min_timesteps, option.max_timesteps, option.n_timesteps) == (5, 20, 10)
    preset = make_config("experiment=variable_length")
    assert preset.data == option
    assert preset.model == make_config("experiment=all").model
    fixed = make_config("data.n_timesteps=7").data
    assert (fixed.min_timesteps, fixed.max_timesteps) == (7, 7)


def test_trackers_combine_without_one_resetting_the_other():
    both = make_config("tracking=[mlflow,tensorboard]").tracking
    assert both.mlflow and both.tensorboard
    none = make_config().tracking
    assert not none.mlflow and not none.tensorboard


def dry_run(*args: str) -> list[str]:
    """The bench commands ``make -n`` would run for these arguments."""
    printed = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line for line in printed.splitlines() if "bench.run" in line]


@pytest.mark.parametrize("target", ["sweep", "directions", "merges", "variable-length"])
def test_the_makefile_passes_only_the_sizes_it_is_given(target):
    (plain,) = dry_run(target)
    assert "n_seeds=" not in plain and "train.epochs=" not in plain
    (sized,) = dry_run(target, "SEEDS=3", "EPOCHS=40")
    assert "n_seeds=3" in sized and "train.epochs=40" in sized


def test_the_makefile_runs_its_sweeps_side_by_side_unless_told_otherwise():
    (plain,) = dry_run("sweep")
    assert "hydra/launcher=parallel" in plain
    (basic,) = dry_run("sweep", "LAUNCHER=basic")
    assert "hydra/launcher=basic" in basic and "hydra/launcher=parallel" not in basic


def test_make_tuned_runs_the_final_sweeps_with_the_same_launcher_as_the_search():
    def commands(*args: str) -> tuple[str, str]:
        printed = subprocess.run(["make", "-n", "tuned", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        # under make itself (make test), make -n also prints the folders it enters and leaves
        (search,) = [line for line in printed.stdout.splitlines() if "bench.run" in line]
        (finals,) = [line for line in printed.stdout.splitlines() if "bench.tune" in line]
        return search, finals

    search, finals = commands()
    assert "hydra/launcher=parallel" in search and finals.endswith("--launcher parallel")
    search, finals = commands("LAUNCHER=basic")
    assert "hydra/launcher=basic" in search and finals.endswith("--launcher basic")
