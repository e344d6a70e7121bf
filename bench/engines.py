"""Training engines: both train K seeds of one variant and record tidy per-epoch results.

- ``fast``: the compiled engine (:mod:`bench.compiled`): the K seeds as replicas with stacked weights, whole chunks
  of epochs and the held-out scoring in compiled calls.
- ``reference``: the original experiment's loop, one Keras ``model.fit`` call per epoch, one seed after another.

Both start from :func:`bench.models.initial_weights` and read the same batches from :mod:`bench.data`, so from
one seed they agree epoch by epoch. This module holds what both share: the recorder of results, the timings and
the TensorFlow set-up.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench import compile_cache
from bench import data as datasets
from bench.schema import BenchConfig, Device, Engine, EvaluationSet
from bench.store import LENGTH_COLUMNS, METRIC_COLUMNS
from bench.variants import variant_name

log = logging.getLogger(__name__)

# Keras clips probabilities by this much before taking logarithms.
EPSILON = 1e-7
# TensorFlow's switch to the legacy Keras package (see import_tensorflow)
LEGACY_KERAS = "TF_USE_LEGACY_KERAS"


def score(probabilities: np.ndarray, sequences: datasets.Sequences) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence loss and accuracy over real steps.

    Args:
        probabilities: [..., N, T] predicted probabilities of label 1.
        sequences: labels y [N, T] (or [..., N, T]) and lengths.

    Returns:
        (loss, accuracy), each [..., N]: mean binary cross-entropy and fraction of correct steps over each
        sequence's real steps.
    """
    p = np.clip(probabilities.astype(np.float64), EPSILON, 1 - EPSILON)
    y, real = sequences.y, sequences.mask
    step_loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    correct = (probabilities > 0.5) == (y > 0.5)
    lengths = sequences.lengths
    return (step_loss * real).sum(-1) / lengths, (correct & real).sum(-1) / lengths


@dataclass
class Recorder:
    """Collects the tidy results of one job as training goes.

    ``metrics`` columns: variant, direction, merge, aligned, seed, epoch, split (train|heldout), loss, accuracy.
    ``by_length`` columns: the same identity columns, epoch, length, n_sequences, loss, accuracy: every held-out
    evaluation, per sequence length of the held-out set and per other length scored (``data.heldout_lengths``).
    Held-out loss and accuracy are means over real steps, so every step counts once whatever its sequence length.
    """

    cfg: BenchConfig
    seeds: list[int]
    # seed -> {"status": "failed", "epoch": e, "error": why}
    failures: dict[int, dict] = field(default_factory=dict)
    frames: dict[str, list[pd.DataFrame]] = field(default_factory=lambda: {"train": [], "heldout": [], "length": []})

    def __post_init__(self) -> None:
        model = self.cfg.model
        merge = getattr(model.merge, "name", model.merge)
        self.identity = {
            "variant": variant_name(model),
            "direction": getattr(model.direction, "name", model.direction),
            "merge": merge if merge is not None else "",
            "aligned": bool(model.aligned),
        }

    def active(self, replica: int) -> bool:
        return self.seeds[replica] not in self.failures

    def add_train(self, first_epoch: int, losses: np.ndarray, accuracies: np.ndarray) -> None:
        """Adds training rows for epochs first_epoch.. from [n_epochs, K] arrays; a non-finite loss fails a seed."""
        n_epochs, n_replicas = losses.shape
        epochs = first_epoch + np.arange(n_epochs)
        finite = np.isfinite(losses)
        first_bad = np.where(finite.all(axis=0), n_epochs, np.argmax(~finite, axis=0))
        active = np.array([self.active(k) for k in range(n_replicas)])
        keep = (np.arange(n_epochs)[:, None] < first_bad[None]) & active[None]
        for replica in np.flatnonzero(active & (first_bad < n_epochs)):
            epoch, loss = int(epochs[first_bad[replica]]), losses[first_bad[replica], replica]
            self.failures[self.seeds[replica]] = {
                "status": "failed",
                "epoch": epoch,
                "error": f"loss is {loss} at epoch {epoch}",
            }
        self.frames["train"].append(
            pd.DataFrame(
                {
                    "seed": np.broadcast_to(np.asarray(self.seeds), keep.shape)[keep],
                    "epoch": np.broadcast_to(epochs[:, None], keep.shape)[keep],
                    "split": "train",
                    "loss": losses[keep].astype(np.float64),
                    "accuracy": accuracies[keep].astype(np.float64),
                }
            )
        )

    def add_heldout(
        self, epoch: int, loss: np.ndarray, accuracy: np.ndarray, heldout: list[datasets.Sequences]
    ) -> None:
        """Adds the held-out rows of every active replica from per-sequence loss and accuracy [K, N].

        Each replica's row is the mean over all real steps (sequences weighted by their lengths); the by-length
        table gets one row per replica and sequence length of its held-out set.
        """
        active = [k for k in range(len(self.seeds)) if self.active(k)]
        steps = np.stack([heldout[k].lengths for k in active]).astype(np.float64)
        loss, accuracy = np.asarray(loss, np.float64)[active], np.asarray(accuracy, np.float64)[active]
        seeds = [self.seeds[k] for k in active]
        self.frames["heldout"].append(
            pd.DataFrame(
                {
                    "seed": seeds,
                    "epoch": epoch,
                    "split": "heldout",
                    "loss": (loss * steps).sum(1) / steps.sum(1),
                    "accuracy": (accuracy * steps).sum(1) / steps.sum(1),
                },
                columns=METRIC_COLUMNS[4:],
            )
        )
        length_rows = []
        for row, seed in enumerate(seeds):
            for length in np.unique(steps[row]):
                chosen = steps[row] == length
                length_rows.append(
                    {
                        "seed": seed,
                        "epoch": epoch,
                        "length": int(length),
                        "n_sequences": int(chosen.sum()),
                        "loss": float(loss[row, chosen].mean()),
                        "accuracy": float(accuracy[row, chosen].mean()),
                    }
                )
        self.frames["length"].append(pd.DataFrame.from_records(length_rows, columns=LENGTH_COLUMNS[4:]))

    def add_at_length(self, epoch: int, length: int, loss: np.ndarray, accuracy: np.ndarray) -> None:
        """Adds the by-length rows of a held-out set of one other length from per-sequence loss and accuracy
        [K, N] (one row per active replica, the mean over its N sequences)."""
        active = [k for k in range(len(self.seeds)) if self.active(k)]
        loss, accuracy = np.asarray(loss, np.float64)[active], np.asarray(accuracy, np.float64)[active]
        frame = pd.DataFrame(
            {
                "seed": [self.seeds[k] for k in active],
                "epoch": epoch,
                "length": length,
                "n_sequences": loss.shape[1],
                "loss": loss.mean(1),
                "accuracy": accuracy.mean(1),
            },
            columns=LENGTH_COLUMNS[4:],
        )
        self.frames["length"].append(frame)

    def _table(self, frames: list[pd.DataFrame], columns: list[str], order: list[str]) -> pd.DataFrame:
        parts = [frame for frame in frames if len(frame)]
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns[4:])
        table = table.assign(**self.identity)[columns]
        return table.sort_values(order, kind="stable", ignore_index=True).astype({"seed": int, "epoch": int})

    def metrics(self) -> pd.DataFrame:
        return self._table(self.frames["train"] + self.frames["heldout"], METRIC_COLUMNS, ["seed", "split", "epoch"])

    def by_length(self) -> pd.DataFrame:
        return self._table(self.frames["length"], LENGTH_COLUMNS, ["seed", "epoch", "length"])

    def latest(self, split: str, column: str) -> float:
        """Mean over seeds of the most recent ``split`` value of ``column`` (for progress lines)."""
        frames = [frame for frame in self.frames[split] if len(frame)]
        if not frames:
            return float("nan")
        last = frames[-1]
        return float(last.groupby("seed")[column].last().mean())


@dataclass
class Timings:
    """Seconds spent: until the first chunk of epochs finished (building, compiling and the held-out scoring at
    epoch 0 included), then training after it, and scoring the held-out sets (``eval_s``).

    ``packed_seeds`` is how many seeds one epoch of the engine trains at once (the compiled engine packs every
    seed of the job; the reference loop trains one at a time).
    """

    startup_s: float = float("nan")
    steady_s: float = 0.0
    steady_epochs: int = 0
    eval_s: float = 0.0
    packed_seeds: int = 1
    # the compiled engine: first calls of functions this process had not compiled before (tracing, compiling or
    # loading from the compilation cache, and that one call's own work)
    compile_s: float = 0.0

    @property
    def ms_per_epoch(self) -> float:
        return 1000 * self.steady_s / self.steady_epochs if self.steady_epochs else float("nan")

    @property
    def ms_per_seed_epoch(self) -> float:
        """Steady training milliseconds per update of one seed."""
        return self.ms_per_epoch / self.packed_seeds


# Called with (epochs done, epochs in the job); the reference engine counts every seed's epochs.
ProgressHook = Callable[[int, int], None]


def import_tensorflow():
    """Imports TensorFlow with its C++ start-up messages (printed before logging is set up) kept off stderr, and
    without Keras.

    As it starts, TensorFlow 2.21 imports Keras 3 (and through it scikit-learn) if it is installed, which the
    compiled engine never uses: only the reference engine does, and it imports Keras itself. While TensorFlow
    starts, ``TF_USE_LEGACY_KERAS`` sends that import to the legacy ``tf_keras`` package, which the project does
    not install, so nothing is loaded (docs/performance.md has the saving); the variable is restored at once, so
    ``tf.keras``, resolved when first used, is Keras 3 as usual.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    user_setting = os.environ.get(LEGACY_KERAS)
    os.environ.setdefault(LEGACY_KERAS, "1")
    try:
        with compile_cache.quiet_stderr():
            import tensorflow as tf
    finally:
        if user_setting is None:
            del os.environ[LEGACY_KERAS]
    return tf


def configure_tensorflow(cfg: BenchConfig) -> str:
    """Applies XLA's options, the compilation cache, thread counts and determinism, and returns the TensorFlow
    device name for ``cfg.device``.

    Raises:
        bench.schema.ConfigError: device=gpu on a machine where TensorFlow sees no GPU.
    """
    from bench.schema import ConfigError

    compile_cache.set_xla_options()
    cache_folder = compile_cache.enable(cfg.runtime.compile_cache)
    tf = import_tensorflow()

    if cfg.runtime.threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(cfg.runtime.threads)
            tf.config.threading.set_inter_op_parallelism_threads(cfg.runtime.threads)
        except RuntimeError:
            # A reused worker process already started TensorFlow with the count its first job set.
            log.debug(
                "TensorFlow threads already fixed at %s",
                tf.config.threading.get_intra_op_parallelism_threads(),
            )
    if cfg.runtime.deterministic:
        tf.config.experimental.enable_op_determinism()
    gpus = tf.config.list_physical_devices("GPU")
    device = Device(cfg.device)
    if device is Device.gpu and not gpus:
        raise ConfigError("device", "gpu", "TensorFlow sees no GPU on this machine; use device=cpu or device=auto")
    compile_cache.make_folder(cache_folder)
    return "/GPU:0" if gpus and device is not Device.cpu else "/CPU:0"


def train(cfg: BenchConfig, recorder: Recorder, timings: Timings, progress: ProgressHook) -> str:
    """Trains every seed of ``recorder`` with the engine ``cfg.engine`` chooses, filling recorder and timings.

    Returns:
        The TensorFlow device the run used, e.g. "/CPU:0".
    """
    device = configure_tensorflow(cfg)
    import tensorflow as tf

    if Engine(cfg.engine) is Engine.fast:
        from bench.compiled import train_compiled as run
    else:
        run = _train_reference
    with tf.device(device):
        run(cfg, recorder, timings, progress)
    return device


def scores_validation(cfg: BenchConfig) -> bool:
    """Whether the run scores the validation set in place of the held-out one (``data.evaluation_set``)."""
    return EvaluationSet(cfg.data.evaluation_set) is EvaluationSet.validation


def _eval_epochs(epochs: int, every: int) -> list[int]:
    return sorted({*range(every, epochs + 1, every), epochs})


def _train_reference(cfg: BenchConfig, recorder: Recorder, timings: Timings, progress: ProgressHook) -> None:
    import keras

    from bench.keras_model import PAD_VALUE, build_keras_model, set_keras_weights
    from bench.models import initial_weights

    data, train_cfg, model = cfg.data, cfg.train, cfg.model
    variable = data.min_timesteps != data.max_timesteps
    extra_lengths = datasets.extra_heldout_lengths(data.min_timesteps, data.max_timesteps, data.heldout_lengths)
    validation = scores_validation(cfg)
    eval_epochs = set(_eval_epochs(train_cfg.epochs, train_cfg.eval_every))

    def inputs(sequences: datasets.Sequences) -> np.ndarray:
        return np.where(sequences.mask, sequences.x, PAD_VALUE)[..., None]

    for replica, seed in enumerate(recorder.seeds):
        keras.backend.clear_session()
        keras.utils.set_random_seed(int(seed))
        started = time.perf_counter()
        network = build_keras_model(model, data.max_timesteps, masked=variable)
        set_keras_weights(network, model, initial_weights(model, seed))
        network.compile(
            optimizer=keras.optimizers.Adam(learning_rate=float(train_cfg.learning_rate)),
            loss=keras.losses.BinaryCrossentropy(),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
        )
        heldout = datasets.heldout_set(
            seed, data.min_timesteps, data.max_timesteps, data.threshold, data.heldout_size, validation
        )
        # each other held-out length is scored by a model of its own length that takes the trained weights
        other_lengths = {
            length: (
                build_keras_model(model, length, masked=variable),
                datasets.heldout_at_length(seed, length, data.threshold, data.heldout_size, validation),
            )
            for length in extra_lengths
        }
        # Writes straight into the job's tables, so an interruption keeps this seed's rows too.
        solo = Recorder(cfg, [seed], failures=recorder.failures, frames=recorder.frames)

        def evaluate(epoch: int, network=network, heldout=heldout, solo=solo, other_lengths=other_lengths) -> None:
            eval_started = time.perf_counter()
            probabilities = network.predict(inputs(heldout), batch_size=1000, verbose=0)[..., 0]
            loss, accuracy = score(probabilities, heldout)
            solo.add_heldout(epoch, loss[None], accuracy[None], [heldout])
            for length, (scorer, sequences) in other_lengths.items():
                scorer.set_weights(network.get_weights())
                probabilities = scorer.predict(inputs(sequences), batch_size=1000, verbose=0)[..., 0]
                loss, accuracy = score(probabilities, sequences)
                solo.add_at_length(epoch, length, loss[None], accuracy[None])
            timings.eval_s += time.perf_counter() - eval_started

        evaluate(0)
        batches = datasets.training_batches(
            seed, data.min_timesteps, data.max_timesteps, data.threshold, train_cfg.batch_size, 1
        )
        for epoch in range(1, train_cfg.epochs + 1):
            batch = next(batches)
            history = network.fit(
                inputs(batch)[0],
                batch.y[0][..., None],
                epochs=1,
                batch_size=train_cfg.batch_size,
                shuffle=False,
                verbose=0,
            ).history
            solo.add_train(epoch, np.array([[history["loss"][0]]]), np.array([[history["accuracy"][0]]]))
            if not solo.active(0):
                break
            if epoch == 1:
                # each seed builds and compiles its own model: only later epochs are steady
                if replica == 0:
                    timings.startup_s = time.perf_counter() - started
            else:
                timings.steady_s += time.perf_counter() - started
                timings.steady_epochs += 1
            if epoch in eval_epochs:
                evaluate(epoch)
            progress(replica * train_cfg.epochs + epoch, len(recorder.seeds) * train_cfg.epochs)
            started = time.perf_counter()
