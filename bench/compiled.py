"""The compiled engine: K seeds as replicas with stacked weights, whole chunks of epochs in one compiled call.

Each chunk of ``train.eval_every`` epochs runs inside one compiled while-loop (forward pass, gradients and an Adam
update as tensor operations); the held-out set of every packed seed is scored by one compiled call after each
chunk. Adam is elementwise and the summed loss has a separate term per replica, so replica k trains exactly as
seed k would alone.

The compiled functions depend only on the variant's structure (:class:`Structure`); everything that changes from
one job to the next (initial weights, data, learning rate, epoch counts) is an input. They are kept for the life
of the process, so the jobs of a sweep that one process runs (Hydra's basic launcher, reused joblib workers)
trace and compile each structure and shape once.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from bench import compile_cache
from bench import data as datasets
from bench.engines import EPSILON, ProgressHook, Recorder, Timings, scores_validation
from bench.models import initial_weights, vectorised_logits
from bench.schema import BenchConfig, Cell, Direction, Merge, ModelConfig

log = logging.getLogger(__name__)

# Keras Adam defaults.
BETA_1, BETA_2 = 0.9, 0.999
# Held-out sequence-steps (over all packed seeds) scored per compiled call: bounds the memory of long sequences
# and many seeds while the default job (10 seeds x 1000 sequences x 10 steps) is one call.
EVAL_STEPS_PER_CALL = 1_000_000


@dataclass(frozen=True)
class Structure:
    """What the compiled functions depend on beyond the shapes of their inputs."""

    direction: Direction
    merge: Merge | None
    aligned: bool
    cell: Cell
    # the recurrence unrolled in the graph, or a compiled loop over time (see bench.models.vectorised_logits)
    unroll: bool
    jit_compile: bool

    @classmethod
    def of(cls, cfg: BenchConfig) -> Structure:
        model = cfg.model
        return cls(
            direction=Direction(model.direction),
            merge=None if model.merge is None else Merge(model.merge),
            aligned=bool(model.aligned),
            cell=Cell(model.cell),
            unroll=cfg.data.max_timesteps <= cfg.train.unroll_max_steps,
            jit_compile=bool(cfg.train.jit_compile),
        )

    @property
    def model(self) -> ModelConfig:
        # units are read from the weights' shapes
        return ModelConfig(direction=self.direction, merge=self.merge, aligned=self.aligned, cell=self.cell)


@dataclass(frozen=True)
class Functions:
    """The compiled functions of one structure (see :func:`functions_for`)."""

    train_chunk: tf.types.experimental.PolymorphicFunction
    evaluate: tf.types.experimental.PolymorphicFunction


def _per_replica_means(values: tf.Tensor, weight: tf.Tensor, axis: list[int]) -> tf.Tensor:
    return tf.reduce_sum(values * weight, axis=axis) / tf.reduce_sum(weight, axis=axis)


@functools.cache
def functions_for(structure: Structure) -> Functions:
    """The training and scoring functions of a structure, created once per process.

    ``train_chunk(params, m, v, done, x, y, mask, n_epochs, learning_rate)`` runs ``n_epochs`` Adam updates on
    x, y [K, C, B, T] (C >= n_epochs epochs of B sequences, mask bool of the same shape or None), epoch counter
    starting after ``done``, and returns the new params, m, v and the per-epoch training loss and accuracy [C, K].

    ``evaluate(params, x, y, mask)`` scores x, y [K, N, T] and returns the loss and accuracy [K, N] of each
    sequence, means over its real steps, the loss clipped as Keras clips probabilities.
    """
    model, unroll = structure.model, structure.unroll

    def step_loss(params, x, y, mask):
        logits = vectorised_logits(model, params, x, mask, unroll)
        losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)  # [K, B, T]
        correct = tf.cast(tf.equal(tf.cast(logits > 0, y.dtype), y), y.dtype)
        weight = tf.ones_like(y) if mask is None else tf.cast(mask, y.dtype)
        return _per_replica_means(losses, weight, [1, 2]), _per_replica_means(correct, weight, [1, 2])

    @tf.function(jit_compile=structure.jit_compile, autograph=False)
    def train_chunk(params, m, v, done, x, y, mask, n_epochs, learning_rate):
        chunk, n_replicas = x.shape[1], x.shape[0]
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
            alpha = learning_rate * tf.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
            m = {k: m[k] + (grads[k] - m[k]) * (1 - BETA_1) for k in params}
            v = {k: v[k] + (tf.square(grads[k]) - v[k]) * (1 - BETA_2) for k in params}
            params = {k: params[k] - m[k] * alpha / (tf.sqrt(v[k]) + EPSILON) for k in params}
            losses = tf.tensor_scatter_nd_update(losses, [[i]], loss[None])
            accuracies = tf.tensor_scatter_nd_update(accuracies, [[i]], accuracy[None])
            return i + 1, params, m, v, losses, accuracies

        _, params, m, v, losses, accuracies = tf.while_loop(
            lambda i, *_: i < n_epochs, body, (tf.constant(0), params, m, v, losses, accuracies)
        )
        return params, m, v, losses, accuracies

    @tf.function(jit_compile=structure.jit_compile, autograph=False)
    def evaluate(params, x, y, mask):
        probabilities = tf.sigmoid(vectorised_logits(model, params, x, mask, unroll))
        p = tf.clip_by_value(probabilities, EPSILON, 1 - EPSILON)
        step_losses = -(y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p))
        correct = tf.cast(tf.equal(probabilities > 0.5, y > 0.5), y.dtype)
        weight = tf.ones_like(y) if mask is None else tf.cast(mask, y.dtype)
        return _per_replica_means(step_losses, weight, [2]), _per_replica_means(correct, weight, [2])

    return Functions(train_chunk, evaluate)


# Structures and input shapes this process has traced and compiled (or loaded from the persistent cache).
_compiled: set[str] = set()
# Bumped by forget_compiled, so that functions traced again get names of their own.
_generation = 0


def forget_compiled() -> None:
    """Drops every function this process traced and compiled, so that the next jobs compile theirs again (the
    benchmark measures compile times this way)."""
    global _generation
    functions_for.cache_clear()
    _compiled.clear()
    _generation += 1


def call(function, structure: Structure, timings: Timings, *args):
    """Calls a function of :func:`functions_for`.

    The first call for a structure and input shapes traces it with names that depend on them alone (see
    :func:`bench.compile_cache.stable_names`) and compiles it, or loads it from the persistent cache; later calls
    run the compiled function.
    """
    signature = [
        None if a is None else f"{a.dtype.name}{a.shape}" for a in tf.nest.flatten(args, expand_composites=True)
    ]
    key = f"{function.__name__} {structure} {signature} {_generation}"
    if key in _compiled:
        return function(*args)
    started = time.perf_counter()
    with compile_cache.stable_names(key):
        function.get_concrete_function(*args)
    with compile_cache.quiet_stderr():
        result = function(*args)
    _compiled.add(key)
    timings.compile_s += time.perf_counter() - started
    return result


class HeldoutScorer:
    """Scores the held-out sets of K packed seeds in as few equal compiled calls as memory allows."""

    def __init__(
        self, evaluate, structure: Structure, timings: Timings, heldout: list[datasets.Sequences], masked: bool
    ):
        self.evaluate, self.structure, self.timings = evaluate, structure, timings
        x = np.stack([h.x for h in heldout])  # [K, N, T]
        n_replicas, size, steps = x.shape
        calls = -(-n_replicas * size * steps // EVAL_STEPS_PER_CALL)
        self.block = -(-size // calls)
        # Equal blocks compile once: the last one is topped up with copies of the first sequences.
        padded = calls * self.block

        def blocks(array: np.ndarray) -> list[tf.Tensor]:
            array = np.concatenate([array, array[:, : padded - size]], axis=1)
            return [tf.constant(array[:, i : i + self.block]) for i in range(0, padded, self.block)]

        self.size = size
        self.x = blocks(x)
        self.y = blocks(np.stack([h.y for h in heldout]))
        self.mask = blocks(np.stack([h.mask for h in heldout])) if masked else [None] * calls

    def __call__(self, params) -> tuple[np.ndarray, np.ndarray]:
        """Per-sequence held-out loss and accuracy [K, N] of every replica."""
        parts = [
            call(self.evaluate, self.structure, self.timings, params, x, y, mask)
            for x, y, mask in zip(self.x, self.y, self.mask, strict=True)
        ]
        loss = np.concatenate([part[0].numpy() for part in parts], axis=1)[:, : self.size]
        accuracy = np.concatenate([part[1].numpy() for part in parts], axis=1)[:, : self.size]
        return loss, accuracy


def _extra_lengths(cfg: BenchConfig) -> list[int]:
    data = cfg.data
    return datasets.extra_heldout_lengths(data.min_timesteps, data.max_timesteps, data.heldout_lengths)


def _length_scorer(
    cfg: BenchConfig, structure: Structure, timings: Timings, seeds: list[int], length: int
) -> HeldoutScorer:
    """Scores every packed seed's held-out set of another ``length`` (fixed-length, so unmasked), with the
    recurrence unrolled or looped over time as that length calls for."""
    data = cfg.data
    validation = scores_validation(cfg)
    sets = [datasets.heldout_at_length(seed, length, data.threshold, data.heldout_size, validation) for seed in seeds]
    at_length = dataclasses.replace(structure, unroll=length <= cfg.train.unroll_max_steps)
    return HeldoutScorer(functions_for(at_length).evaluate, at_length, timings, sets, masked=False)


def train_compiled(cfg: BenchConfig, recorder: Recorder, timings: Timings, progress: ProgressHook) -> None:
    """Trains every seed of ``recorder`` side by side, filling recorder and timings."""
    data, train_cfg, model = cfg.data, cfg.train, cfg.model
    seeds = recorder.seeds
    timings.packed_seeds = len(seeds)
    variable = data.min_timesteps != data.max_timesteps
    chunk = min(train_cfg.eval_every, train_cfg.epochs)
    structure = Structure.of(cfg)
    functions = functions_for(structure)

    weights = [initial_weights(model, seed) for seed in seeds]
    params = {name: tf.constant(np.stack([w[name] for w in weights])) for name in weights[0]}
    first_moments = {name: tf.zeros_like(value) for name, value in params.items()}
    second_moments = {name: tf.zeros_like(value) for name, value in params.items()}
    learning_rate = tf.constant(train_cfg.learning_rate, tf.float32)
    batches = [
        datasets.training_batches(
            s, data.min_timesteps, data.max_timesteps, data.threshold, train_cfg.batch_size, chunk
        )
        for s in seeds
    ]
    heldout = [
        datasets.heldout_set(
            s, data.min_timesteps, data.max_timesteps, data.threshold, data.heldout_size, scores_validation(cfg)
        )
        for s in seeds
    ]
    score_heldout = HeldoutScorer(functions.evaluate, structure, timings, heldout, variable)
    score_at_length = {length: _length_scorer(cfg, structure, timings, seeds, length) for length in _extra_lengths(cfg)}

    def evaluate(epoch: int) -> None:
        started = time.perf_counter()
        loss, accuracy = score_heldout(params)
        recorder.add_heldout(epoch, loss, accuracy, heldout)
        for length, scorer in score_at_length.items():
            recorder.add_at_length(epoch, length, *scorer(params))
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
        params, first_moments, second_moments, losses, accuracies = call(
            functions.train_chunk,
            structure,
            timings,
            *(params, first_moments, second_moments, tf.constant(done), x, y, mask),
            *(tf.constant(n_epochs), learning_rate),
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
