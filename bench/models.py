"""The recurrent models: initial weights, the Keras builder, and the same model vectorised over seeds.

Every variant is one ``ModelConfig`` read by the functions here: a recurrent layer of ``units`` (forward LSTM,
backward LSTM with go_backwards, or Bidirectional with a merge mode) returning sequences, then a
TimeDistributed Dense(1, sigmoid) head.

Weights are a dict of NumPy arrays keyed by ``WEIGHT_NAMES``; the vectorised model takes the same dict with a
leading replica axis K, so K seeds train side by side with disjoint weights.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from bench.data import init_rng
from bench.schema import Direction, Merge, ModelConfig

FORWARD_CELL, BACKWARD_CELL, HEAD = 0, 1, 2


def cells(model: ModelConfig) -> list[str]:
    """Prefixes of the LSTM cells a variant has: ["fw"], ["bw"] or ["fw", "bw"]."""
    direction = Direction(model.direction)
    return {Direction.forward: ["fw"], Direction.backward: ["bw"], Direction.bidirectional: ["fw", "bw"]}[direction]


def head_width(model: ModelConfig) -> int:
    """Features the Dense head sees per step: twice the units for concat, the units otherwise."""
    bidirectional_concat = Direction(model.direction) is Direction.bidirectional and Merge(model.merge) is Merge.concat
    return 2 * model.units if bidirectional_concat else model.units


def _glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    limit = np.sqrt(6.0 / (shape[0] + shape[1]))
    return rng.uniform(-limit, limit, size=shape)


def _orthogonal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    # Keras' Orthogonal initializer: QR of a normal matrix, signs fixed by the diagonal of R.
    rows, cols = shape
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q = q * np.sign(np.diag(r))
    return q.T if rows < cols else q


def initial_weights(model: ModelConfig, seed: int) -> dict[str, np.ndarray]:
    """Keras' default initial weights for one seed, drawn with NumPy so every engine starts from the same ones.

    Returns:
        float32 arrays: for each cell c in :func:`cells`: ``c_kernel`` [1, 4U], ``c_recurrent`` [U, 4U],
        ``c_bias`` [4U] (gates i, f, c, o; forget bias 1 as in unit_forget_bias); ``head_kernel`` [D, 1] and
        ``head_bias`` [1] with D = :func:`head_width`. A cell's draw depends only on the seed and which cell it is,
        so the forward cell of every variant starts the same for one seed.
    """
    units = model.units
    weights: dict[str, np.ndarray] = {}
    for prefix in cells(model):
        rng = init_rng(seed, FORWARD_CELL if prefix == "fw" else BACKWARD_CELL)
        weights[f"{prefix}_kernel"] = _glorot_uniform(rng, (1, 4 * units))
        weights[f"{prefix}_recurrent"] = _orthogonal(rng, (units, 4 * units))
        bias = np.zeros(4 * units)
        bias[units : 2 * units] = 1.0
        weights[f"{prefix}_bias"] = bias
    weights["head_kernel"] = _glorot_uniform(init_rng(seed, HEAD), (head_width(model), 1))
    weights["head_bias"] = np.zeros(1)
    return {name: value.astype(np.float32) for name, value in weights.items()}


# ----------------------------------------------------------------------------------------------------------
# Keras model (the reference engine)


def build_keras_model(model: ModelConfig, timesteps: int, masked: bool):
    """The Keras model of a variant.

    Args:
        model: the variant.
        timesteps: padded sequence length T.
        masked: put a Masking layer first, so padded steps (value :data:`PAD_VALUE`) are skipped.

    Returns:
        An uncompiled ``keras.Model`` mapping [B, T, 1] to probabilities [B, T, 1].
    """
    inputs = keras.Input(shape=(timesteps, 1))
    hidden = keras.layers.Masking(mask_value=PAD_VALUE)(inputs) if masked else inputs
    direction = Direction(model.direction)
    if direction is Direction.bidirectional:
        hidden = keras.layers.Bidirectional(
            keras.layers.LSTM(model.units, return_sequences=True),
            merge_mode=Merge(model.merge).value,
            name="rnn",
        )(hidden)
    else:
        backward = direction is Direction.backward
        hidden = keras.layers.LSTM(model.units, return_sequences=True, go_backwards=backward, name="rnn")(hidden)
        if backward and model.aligned:
            # go_backwards returns the sequence in reversed time order; flip it back so step t meets label t.
            hidden = ReverseTime(name="align")(hidden)
    outputs = keras.layers.TimeDistributed(keras.layers.Dense(1, activation="sigmoid"), name="head")(hidden)
    return keras.Model(inputs, outputs)


# Keras' Masking layer needs a sentinel value; data values lie in [0, 1).
PAD_VALUE = -1.0


class ReverseTime(keras.layers.Layer):
    """Flips [B, T, D] along time, keeping the incoming padding mask.

    After a go_backwards LSTM over post-padded input, the flip puts the real steps back where the mask says
    they are (a Lambda layer would drop the mask, and padding would count in the loss).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=1)


def set_keras_weights(keras_model, model: ModelConfig, weights: dict[str, np.ndarray]) -> None:
    """Loads :func:`initial_weights` (no replica axis) into a model from :func:`build_keras_model`."""
    rnn = keras_model.get_layer("rnn")
    layer_of = {"fw": rnn.forward_layer, "bw": rnn.backward_layer} if hasattr(rnn, "forward_layer") else {}
    for prefix in cells(model):
        layer = layer_of.get(prefix, rnn)
        layer.set_weights([weights[f"{prefix}_kernel"], weights[f"{prefix}_recurrent"], weights[f"{prefix}_bias"]])
    keras_model.get_layer("head").set_weights([weights["head_kernel"], weights["head_bias"]])


# ----------------------------------------------------------------------------------------------------------
# Vectorised model (the fast engine): the same computation with a leading replica axis K.


def _lstm_sequence(x: tf.Tensor, kernel, recurrent, bias, mask: tf.Tensor | None, backward: bool) -> tf.Tensor:
    """Runs one LSTM cell over a sequence with Keras' semantics, for K replicas at once.

    Args:
        x: [K, B, T] inputs (one feature per step).
        kernel: [K, 1, 4U]; recurrent: [K, U, 4U]; bias: [K, 4U].
        mask: bool [K, B, T] (True at real steps) or None when every step is real. At a masked step the state
            is carried over unchanged and the output is zero, as in Keras.
        backward: read the sequence from the last step to the first (go_backwards).

    Returns:
        [K, B, T, U] outputs in processing order, as Keras returns them: for ``backward`` output j belongs to
        input step T-1-j.
    """
    units = recurrent.shape[1]
    projected = x[..., None] * kernel[:, None] + bias[:, None, None]  # [K, B, T, 4U]
    batch_shape = tf.shape(x)[:2]
    state_shape = tf.concat([batch_shape, [units]], axis=0)
    h = tf.zeros(state_shape, dtype=x.dtype)
    c = tf.zeros(state_shape, dtype=x.dtype)
    steps = range(x.shape[2] - 1, -1, -1) if backward else range(x.shape[2])
    outputs = []
    for t in steps:
        z = projected[:, :, t] + tf.linalg.matmul(h, recurrent)
        i, f, g, o = tf.split(z, 4, axis=-1)
        c_next = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        h_next = tf.sigmoid(o) * tf.tanh(c_next)
        if mask is None:
            h, c, out = h_next, c_next, h_next
        else:
            real = mask[:, :, t, None]
            h, c = tf.where(real, h_next, h), tf.where(real, c_next, c)
            out = tf.where(real, h_next, tf.zeros_like(h_next))
        outputs.append(out)
    return tf.stack(outputs, axis=2)


def vectorised_logits(
    model: ModelConfig, params: dict[str, tf.Tensor], x: tf.Tensor, mask: tf.Tensor | None
) -> tf.Tensor:
    """Logits of K replicas of a variant.

    Args:
        model: the variant.
        params: :func:`initial_weights` names, each with a leading replica axis K.
        x: [K, B, T] inputs.
        mask: bool [K, B, T] or None.

    Returns:
        [K, B, T] logits; sigmoid gives the probabilities the Keras model outputs at real steps.
    """
    direction = Direction(model.direction)

    def run(prefix: str, backward: bool) -> tf.Tensor:
        return _lstm_sequence(
            x,
            params[f"{prefix}_kernel"],
            params[f"{prefix}_recurrent"],
            params[f"{prefix}_bias"],
            mask,
            backward,
        )

    if direction is Direction.forward:
        hidden = run("fw", backward=False)
    elif direction is Direction.backward:
        hidden = run("bw", backward=True)
        if model.aligned:
            hidden = tf.reverse(hidden, axis=[2])
    else:
        forward, backward = run("fw", backward=False), tf.reverse(run("bw", backward=True), axis=[2])
        merge = Merge(model.merge)
        if merge is Merge.concat:
            hidden = tf.concat([forward, backward], axis=-1)
        elif merge is Merge.sum:
            hidden = forward + backward
        elif merge is Merge.ave:
            hidden = (forward + backward) / 2
        else:
            hidden = forward * backward
    logits = tf.einsum("kbtd,kdo->kbto", hidden, params["head_kernel"]) + params["head_bias"][:, None, None]
    return logits[..., 0]
