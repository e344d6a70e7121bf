"""Training engines: both train K seeds of one variant and record tidy per-epoch results.

- ``fast``: the K seeds as replicas with stacked weights in one compiled step; each chunk of epochs runs inside
  one compiled while-loop (XLA by default), with a held-out evaluation between chunks. Adam is elementwise and
  the summed loss has a separate term per replica, so replica k trains exactly as seed k would alone.
- ``reference``: the original experiment's loop, one Keras ``model.fit`` call per epoch, one seed after another.

Both start from :func:`bench.models.initial_weights` and read the same batches from :mod:`bench.data`, so from
one seed they agree epoch by epoch.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench import data as datasets
from bench.schema import BenchConfig, Device, Engine, variant_name
from bench.store import LENGTH_COLUMNS, METRIC_COLUMNS

log = logging.getLogger(__name__)

# Keras clips probabilities by this much before taking logarithms.
EPSILON = 1e-7
# Held-out sequences (over all packed seeds) scored per call of the compiled prediction.
EVAL_SEQUENCES_PER_CALL = 10_000


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
    ``by_length`` columns: the same identity columns, epoch, length, n_sequences, loss, accuracy.
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
        self, epoch: int, probabilities: np.ndarray, heldout: list[datasets.Sequences], final: bool
    ) -> None:
        """Scores held-out predictions [K, N, T] of every active replica; at the final epoch also by length."""
        rows, length_rows = [], []
        for replica, seed in enumerate(self.seeds):
            if not self.active(replica):
                continue
            sequences = heldout[replica]
            loss, accuracy = score(probabilities[replica], sequences)
            steps = sequences.lengths
            rows.append(
                {
                    "seed": seed,
                    "epoch": epoch,
                    "split": "heldout",
                    "loss": float((loss * steps).sum() / steps.sum()),
                    "accuracy": float((accuracy * steps).sum() / steps.sum()),
                }
            )
            if final:
                for length in np.unique(steps):
                    chosen = steps == length
                    length_rows.append(
                        {
                            "seed": seed,
                            "epoch": epoch,
                            "length": int(length),
                            "n_sequences": int(chosen.sum()),
                            "loss": float(loss[chosen].mean()),
                            "accuracy": float(accuracy[chosen].mean()),
                        }
                    )
        self.frames["heldout"].append(pd.DataFrame.from_records(rows, columns=METRIC_COLUMNS[4:]))
        self.frames["length"].append(pd.DataFrame.from_records(length_rows, columns=LENGTH_COLUMNS[4:]))

    def _table(self, frames: list[pd.DataFrame], columns: list[str], order: list[str]) -> pd.DataFrame:
        parts = [frame for frame in frames if len(frame)]
        table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns[4:])
        table = table.assign(**self.identity)[columns]
        return table.sort_values(order, kind="stable", ignore_index=True).astype({"seed": int, "epoch": int})

    def metrics(self) -> pd.DataFrame:
        return self._table(self.frames["train"] + self.frames["heldout"], METRIC_COLUMNS, ["seed", "split", "epoch"])

    def by_length(self) -> pd.DataFrame:
        return self._table(self.frames["length"], LENGTH_COLUMNS, ["seed", "length"])

    def latest(self, split: str, column: str) -> float:
        """Mean over seeds of the most recent ``split`` value of ``column`` (for progress lines)."""
        frames = [frame for frame in self.frames[split] if len(frame)]
        if not frames:
            return float("nan")
        last = frames[-1]
        return float(last.groupby("seed")[column].last().mean())


@dataclass
class Timings:
    """Seconds spent: until the first chunk of epochs finished (building and compiling included), then training."""

    startup_s: float = float("nan")
    steady_s: float = 0.0
    steady_epochs: int = 0
    eval_s: float = 0.0

    @property
    def ms_per_epoch(self) -> float:
        return 1000 * self.steady_s / self.steady_epochs if self.steady_epochs else float("nan")


# Called with (epochs done, epochs in the job); the reference engine counts every seed's epochs.
ProgressHook = Callable[[int, int], None]


def import_tensorflow():
    """Imports TensorFlow with its C++ start-up messages (printed before logging is set up) kept off stderr."""
    saved_stderr, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow as tf
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
    return tf


def configure_tensorflow(cfg: BenchConfig) -> str:
    """Applies thread counts and determinism, and returns the TensorFlow device name for ``cfg.device``.

    Raises:
        bench.schema.ConfigError: device=gpu on a machine where TensorFlow sees no GPU.
    """
    from bench.schema import ConfigError

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
    return "/GPU:0" if gpus and device is not Device.cpu else "/CPU:0"


def train(cfg: BenchConfig, recorder: Recorder, timings: Timings, progress: ProgressHook) -> str:
    """Trains every seed of ``recorder`` with the engine ``cfg.engine`` chooses, filling recorder and timings.

    Returns:
        The TensorFlow device the run used, e.g. "/CPU:0".
    """
    device = configure_tensorflow(cfg)
    import keras
    import tensorflow as tf

    # Worker processes may be reused between jobs: start from a clean Keras state every time.
    keras.backend.clear_session()
    keras.utils.set_random_seed(int(cfg.seed))
    run = _train_fast if Engine(cfg.engine) is Engine.fast else _train_reference
    with tf.device(device):
        run(cfg, recorder, timings, progress)
    return device


def _eval_epochs(epochs: int, every: int) -> list[int]:
    return sorted({*range(every, epochs + 1, every), epochs})


def _train_fast(cfg: BenchConfig, recorder: Recorder, timings: Timings, progress: ProgressHook) -> None:
    import tensorflow as tf

    from bench.models import initial_weights, vectorised_logits

    data, train_cfg, model = cfg.data, cfg.train, cfg.model
    seeds = recorder.seeds
    variable = data.min_timesteps != data.max_timesteps
    chunk = min(train_cfg.eval_every, train_cfg.epochs)
    lr = float(train_cfg.learning_rate)
    beta_1, beta_2 = 0.9, 0.999  # Keras Adam defaults

    weights = [initial_weights(model, seed) for seed in seeds]
    params = {name: tf.constant(np.stack([w[name] for w in weights])) for name in weights[0]}
    first_moments = {name: tf.zeros_like(value) for name, value in params.items()}
    second_moments = {name: tf.zeros_like(value) for name, value in params.items()}
    batches = [
        datasets.training_batches(
            s, data.min_timesteps, data.max_timesteps, data.threshold, train_cfg.batch_size, chunk
        )
        for s in seeds
    ]
    heldout = [
        datasets.heldout_set(s, data.min_timesteps, data.max_timesteps, data.threshold, data.heldout_size)
        for s in seeds
    ]
    heldout_x = tf.constant(np.stack([h.x for h in heldout]))
    heldout_mask = tf.constant(np.stack([h.mask for h in heldout])) if variable else None

    def step_loss(params, x, y, mask):
        logits = vectorised_logits(model, params, x, mask)
        losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)  # [K, B, T]
        correct = tf.cast(tf.equal(tf.cast(logits > 0, y.dtype), y), y.dtype)
        weight = tf.ones_like(y) if mask is None else tf.cast(mask, y.dtype)
        real_steps = tf.reduce_sum(weight, axis=[1, 2])
        return tf.reduce_sum(losses * weight, axis=[1, 2]) / real_steps, tf.reduce_sum(
            correct * weight, [1, 2]
        ) / real_steps

    @tf.function(jit_compile=train_cfg.jit_compile)
    def train_chunk(params, m, v, done, x, y, mask, n_epochs):
        n_replicas = x.shape[0]
        losses = tf.zeros([chunk, n_replicas])
        accuracies = tf.zeros([chunk, n_replicas])

        def body(i, params, m, v, losses, accuracies):
            xi, yi = tf.gather(x, i, axis=1), tf.gather(y, i, axis=1)
            mi = None if mask is None else tf.gather(mask, i, axis=1)
            with tf.GradientTape() as tape:
                tape.watch(params)
                loss, accuracy = step_loss(params, xi, yi, mi)
                total = tf.reduce_sum(loss)
            grads = tape.gradient(total, params)
            t = tf.cast(done + i + 1, tf.float32)
            alpha = lr * tf.sqrt(1 - beta_2**t) / (1 - beta_1**t)
            m = {k: m[k] + (grads[k] - m[k]) * (1 - beta_1) for k in params}
            v = {k: v[k] + (tf.square(grads[k]) - v[k]) * (1 - beta_2) for k in params}
            params = {k: params[k] - m[k] * alpha / (tf.sqrt(v[k]) + EPSILON) for k in params}
            losses = tf.tensor_scatter_nd_update(losses, [[i]], loss[None])
            accuracies = tf.tensor_scatter_nd_update(accuracies, [[i]], accuracy[None])
            return i + 1, params, m, v, losses, accuracies

        _, params, m, v, losses, accuracies = tf.while_loop(
            lambda i, *_: i < n_epochs, body, (tf.constant(0), params, m, v, losses, accuracies)
        )
        return params, m, v, losses, accuracies

    # Held-out batches are large enough that graph mode runs them well; XLA would only add compile time.
    @tf.function(jit_compile=False)
    def predict(params, x, mask):
        return tf.sigmoid(vectorised_logits(model, params, x, mask))

    def evaluate(epoch: int) -> None:
        started = time.perf_counter()
        # Slices of the held-out set keep memory flat however many seeds are packed.
        block = max(1, EVAL_SEQUENCES_PER_CALL // len(seeds))
        probabilities = np.concatenate(
            [
                predict(
                    params,
                    heldout_x[:, i : i + block],
                    None if heldout_mask is None else heldout_mask[:, i : i + block],
                )
                for i in range(0, data.heldout_size, block)
            ],
            axis=1,
        )
        recorder.add_heldout(epoch, probabilities, heldout, final=epoch == train_cfg.epochs)
        timings.eval_s += time.perf_counter() - started

    engine_started = time.perf_counter()
    evaluate(0)
    started = time.perf_counter()
    for done in range(0, train_cfg.epochs, chunk):
        n_epochs = min(chunk, train_cfg.epochs - done)
        parts = [next(b) for b in batches]
        x = tf.constant(np.stack([p.x for p in parts]))
        y = tf.constant(np.stack([p.y for p in parts]))
        mask = tf.constant(np.stack([p.mask for p in parts])) if variable else None
        params, first_moments, second_moments, losses, accuracies = train_chunk(
            params, first_moments, second_moments, tf.constant(done), x, y, mask, tf.constant(n_epochs)
        )
        recorder.add_train(done + 1, losses.numpy()[:n_epochs], accuracies.numpy()[:n_epochs])
        finished = time.perf_counter()
        if done == 0:
            timings.startup_s = finished - engine_started
        else:
            timings.steady_s += finished - started
            timings.steady_epochs += n_epochs
        if len(recorder.failures) == len(seeds):
            log.warning("every seed has diverged; training stops at epoch %d", done + n_epochs)
            return
        evaluate(done + n_epochs)
        progress(done + n_epochs, train_cfg.epochs)
        started = time.perf_counter()


def _train_reference(cfg: BenchConfig, recorder: Recorder, timings: Timings, progress: ProgressHook) -> None:
    import keras

    from bench.models import PAD_VALUE, build_keras_model, initial_weights, set_keras_weights

    data, train_cfg, model = cfg.data, cfg.train, cfg.model
    variable = data.min_timesteps != data.max_timesteps
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
        heldout = datasets.heldout_set(seed, data.min_timesteps, data.max_timesteps, data.threshold, data.heldout_size)
        # Writes straight into the job's tables, so an interruption keeps this seed's rows too.
        solo = Recorder(cfg, [seed], failures=recorder.failures, frames=recorder.frames)

        def evaluate(epoch: int, network=network, heldout=heldout, solo=solo) -> None:
            eval_started = time.perf_counter()
            probabilities = network.predict(inputs(heldout), batch_size=1000, verbose=0)[..., 0]
            solo.add_heldout(epoch, probabilities[None], [heldout], final=epoch == train_cfg.epochs)
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
