"""Typed configuration schema: the YAML in conf/ is merged onto these dataclasses.

Enums make a wrong choice (``model.merge=avg``) fail when Hydra composes the config; :func:`validate` checks
the ranges and cross-field rules that a type cannot express, and names the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.util
import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import II, MISSING, DictConfig, OmegaConf


class Direction(Enum):
    forward = "forward"
    backward = "backward"
    bidirectional = "bidirectional"


class Merge(Enum):
    sum = "sum"
    mul = "mul"
    concat = "concat"
    ave = "ave"


class Cell(Enum):
    # the recurrent layer: keras.layers.LSTM, GRU (Keras 3's default reset_after=True) or SimpleRNN (tanh)
    lstm = "lstm"
    gru = "gru"
    simple_rnn = "simple_rnn"


class Device(Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class Engine(Enum):
    # chunks of epochs compiled into one function each (XLA by default), seeds packed side by side
    fast = "fast"
    # the original experiment's loop: one Keras model.fit call per epoch
    reference = "reference"


class EvaluationSet(Enum):
    # the fixed held-out set that reports score
    heldout = "heldout"
    # a set drawn from streams of its own, for choosing settings (a learning rate) without the held-out set
    validation = "validation"


@dataclass
class ModelConfig:
    # which way the recurrent layer reads the sequence
    direction: Direction = MISSING
    # how Bidirectional combines its two directions; only for direction=bidirectional
    merge: Merge | None = None
    # backward only: flip the reversed output sequence back into input order (False reproduces the original)
    aligned: bool = True
    # hidden units per direction
    units: int = 20
    # the recurrent layer of every direction
    cell: Cell = Cell.lstm


@dataclass
class DataConfig:
    # sequence length when all sequences have one length
    n_timesteps: int = 10
    # each sequence draws its length uniformly from [min_timesteps, max_timesteps]
    min_timesteps: int = II(".n_timesteps")
    max_timesteps: int = II(".n_timesteps")
    # a label turns to 1 once the running sum reaches threshold * length
    threshold: float = 0.25
    # sequences in the fixed held-out set
    heldout_size: int = 1000
    # lengths the held-out set is also scored at (null: the training lengths only); each length outside the
    # training range gets its own fixed set of heldout_size sequences, threshold a quarter of its own length
    heldout_lengths: list[int] | None = None
    # what the held-out rows score: the held-out set, or the validation set that choosing settings uses
    evaluation_set: EvaluationSet = EvaluationSet.heldout


@dataclass
class TrainConfig:
    # one epoch is one gradient update on a fresh batch, as in the original experiment
    epochs: int = 1000
    batch_size: int = 1
    learning_rate: float = 0.001
    # held-out evaluation every this many epochs, and always after the last one
    eval_every: int = 50
    # compile the training loop with XLA (faster steady state, slower start)
    jit_compile: bool = True
    # sequences up to this many steps run the recurrence unrolled in the compiled graph, longer ones as a
    # compiled loop over time (whose compile time does not grow with the length)
    unroll_max_steps: int = 4


@dataclass
class RuntimeConfig:
    # TensorFlow intra- and inter-op threads; 0 shares the cores between the jobs a launcher runs side by side
    threads: int = 1
    # make TensorFlow ops deterministic (same hardware only; may be slower)
    deterministic: bool = False
    # seconds between progress lines on the terminal and in the job log
    progress_every_s: float = 5.0
    # run jobs again even when their folder already holds a completed run of the same config
    rerun: bool = False
    # stop a sweep at the first failed job instead of running the rest
    fail_fast: bool = False
    # folder of compiled functions kept between runs (under it, one folder per machine type); null turns it off
    compile_cache: str | None = "outputs/compile_cache"
    # move job folders that hold results of other settings into <folder>/archive/<time>/ instead of stopping
    archive: bool = False


class OnError(Enum):
    # a tracker that cannot log fails the job (its folder is written first)
    fail = "fail"
    # a tracker that cannot log warns and the job goes on
    warn = "warn"


@dataclass
class TrackingConfig:
    # log each job to MLflow: a run per job, a nested run per seed, a parent run per sweep
    mlflow: bool = False
    # write TensorBoard event files into each job folder, with the HParams plugin's session summary
    tensorboard: bool = False
    # MLflow tracking URI: the default is an SQLite file (no server); any other URI MLflow accepts works
    uri: str = "sqlite:///outputs/mlflow.db"
    # MLflow experiment the runs go to
    experiment: str = "bilstm-bench"
    on_error: OnError = OnError.fail


@dataclass
class BenchConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    # first seed; a job with n_seeds=K trains seeds seed .. seed+K-1
    seed: int = 0
    # replicas trained side by side in one job, each exactly the run its seed would be alone
    n_seeds: int = 1
    device: Device = Device.auto
    engine: Engine = Engine.fast


# Config group -> its schema, registered as ``base_<group>``: each YAML file of the group extends it and holds only
# what differs from the defaults above. train and runtime offer no choices, so they are no group: the root schema
# holds them, and ``train.epochs=250`` sets a value. tracking is a group whose options combine
# (tracking=[mlflow,tensorboard]): each option sets one key onto the root schema's TrackingConfig, since extending
# the schema would reset the keys an earlier option set.
GROUP_SCHEMAS: dict[str, type] = {"model": ModelConfig, "data": DataConfig}


def register_configs() -> None:
    """Registers the root schema as ``base_config`` and each group's as ``<group>/base_<group>``.

    conf/config.yaml extends ``base_config``; conf/<group>/*.yaml extend ``base_<group>``.
    """
    # imported here: the analysis side reads the enums of this module (bench.variants) and never needs Hydra
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    store.store(name="base_config", node=BenchConfig)
    for group, schema in GROUP_SCHEMAS.items():
        store.store(group=group, name=f"base_{group}", node=schema)


class ConfigError(ValueError):
    """A configuration value that is out of range; the message names the key and what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str):
        self.key = key
        super().__init__(f"{key}={value!s} is not allowed: {allowed}")


def _require(condition: bool, key: str, value: Any, allowed: str) -> None:
    if not condition:
        raise ConfigError(key, value, allowed)


# keras.utils.set_random_seed seeds NumPy's global generator, which takes seeds below 2**32 only.
MAX_SEED = 2**32 - 1


def _unknown_key(cfg: Any, schema: type, prefix: str = "") -> None:
    """Raises ConfigError for the first key that ``schema`` lacks (keys added with ``+key=value``)."""
    fields = {item.name: item for item in dataclasses.fields(schema)}
    for key in cfg:
        if prefix == "" and key == "hydra":
            continue
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"did you mean {prefix}{close[0]}? " if close else ""
            known = ", ".join(fields)
            place = f"{prefix.rstrip('.')} has" if prefix else "the config's keys are"
            raise ConfigError(f"{prefix}{key}", cfg[key], f"no such key; {hint}{place} {known}")
        nested = fields[key].type
        if isinstance(nested, str):
            nested = globals().get(nested)
        if dataclasses.is_dataclass(nested) and isinstance(cfg[key], DictConfig):
            _unknown_key(cfg[key], nested, f"{prefix}{key}.")


def validate(cfg: DictConfig | BenchConfig) -> None:
    """Checks keys, ranges and cross-field rules, raising :class:`ConfigError` for the first bad value."""
    if isinstance(cfg, DictConfig):
        _unknown_key(cfg, BenchConfig)
    model, data, train, runtime = cfg.model, cfg.data, cfg.train, cfg.runtime
    _require(cfg.seed >= 0, "seed", cfg.seed, "a whole number >= 0")
    _require(cfg.seed <= MAX_SEED, "seed", cfg.seed, f"a whole number <= {MAX_SEED} (2**32 - 1)")
    _require(cfg.n_seeds >= 1, "n_seeds", cfg.n_seeds, "a whole number >= 1")
    last = cfg.seed + cfg.n_seeds - 1
    _require(
        last <= MAX_SEED,
        "n_seeds",
        cfg.n_seeds,
        f"the last seed, seed + n_seeds - 1 = {last}, must be <= {MAX_SEED} (2**32 - 1)",
    )
    _require(model.units >= 1, "model.units", model.units, "a whole number >= 1")
    if Direction(model.direction) is Direction.bidirectional:
        _require(model.merge is not None, "model.merge", None, "one of sum, mul, concat, ave for bidirectional")
    else:
        _require(
            model.merge is None,
            "model.merge",
            enum_name(model.merge),
            f"merge applies to model=bidirectional only, not direction {enum_name(model.direction)}",
        )
    if Direction(model.direction) is not Direction.backward:
        _require(model.aligned, "model.aligned", model.aligned, "false applies to model=backward only")
    _require(data.n_timesteps >= 2, "data.n_timesteps", data.n_timesteps, "a whole number >= 2")
    _require(data.min_timesteps >= 2, "data.min_timesteps", data.min_timesteps, "a whole number >= 2")
    _require(
        data.max_timesteps >= data.min_timesteps,
        "data.max_timesteps",
        data.max_timesteps,
        f"a whole number >= data.min_timesteps ({data.min_timesteps})",
    )
    _require(0 < data.threshold < 1, "data.threshold", data.threshold, "a number strictly between 0 and 1")
    _require(data.heldout_size >= 1, "data.heldout_size", data.heldout_size, "a whole number >= 1")
    if data.heldout_lengths is not None:
        lengths = list(data.heldout_lengths)
        _require(
            bool(lengths) and min(lengths) >= 2 and len(set(lengths)) == len(lengths),
            "data.heldout_lengths",
            lengths,
            "a non-empty list of distinct whole numbers >= 2, or null for the training lengths",
        )
    _require(train.epochs >= 1, "train.epochs", train.epochs, "a whole number >= 1")
    _require(train.batch_size >= 1, "train.batch_size", train.batch_size, "a whole number >= 1")
    _require(
        math.isfinite(train.learning_rate) and train.learning_rate > 0,
        "train.learning_rate",
        train.learning_rate,
        "a finite number > 0",
    )
    _require(train.eval_every >= 1, "train.eval_every", train.eval_every, "a whole number >= 1")
    _require(train.unroll_max_steps >= 0, "train.unroll_max_steps", train.unroll_max_steps, "a whole number >= 0")
    _require(
        runtime.threads >= 0,
        "runtime.threads",
        runtime.threads,
        "a whole number >= 0 (0: share the cores)",
    )
    _require(
        math.isfinite(runtime.progress_every_s) and runtime.progress_every_s > 0,
        "runtime.progress_every_s",
        runtime.progress_every_s,
        "a finite number > 0",
    )
    tracking = cfg.tracking
    _require(bool(tracking.uri.strip()), "tracking.uri", tracking.uri, "an MLflow tracking URI")
    _require(bool(tracking.experiment.strip()), "tracking.experiment", tracking.experiment, "a non-empty name")
    for tracker in ("mlflow", "tensorboard"):
        if getattr(tracking, tracker):
            installed = importlib.util.find_spec(tracker) is not None
            _require(installed, f"tracking.{tracker}", "true", f"needs {tracker}: pip install -e '.[{tracker}]'")


def enum_name(value: Any) -> str:
    """An enum's name (``Merge.sum`` -> ``sum``); any other value as text."""
    return value.name if isinstance(value, Enum) else str(value)


def seeds_of(cfg: DictConfig | BenchConfig) -> list[int]:
    """The seeds a job trains: seed .. seed + n_seeds - 1."""
    return list(range(cfg.seed, cfg.seed + cfg.n_seeds))


def to_plain(cfg: DictConfig) -> dict[str, Any]:
    """The resolved config as plain JSON-ready data (enums as their names)."""
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


# Settings that change how a run executes or where it is logged, never what it computes.
EXECUTION_ONLY = ("runtime", "tracking")


def config_hash(cfg: DictConfig) -> str:
    """A digest of everything that determines a run's numbers, used to recognise a finished job on resume."""
    plain = {k: v for k, v in to_plain(cfg).items() if k not in EXECUTION_ONLY and k != "hydra"}
    if plain.get("model", {}).get("cell") == Cell.lstm.name:
        # the default cell leaves the digest as it was before cells could be chosen, so those runs still resume
        del plain["model"]["cell"]
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:16]
