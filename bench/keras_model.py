"""The Keras model of a variant, for the reference engine (the compiled engine never loads Keras).

It has the weights :func:`bench.models.initial_weights` draws, under the same names.
"""

from __future__ import annotations

import keras
import numpy as np

from bench.models import cells
from bench.schema import Cell, Direction, Merge, ModelConfig


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
    layers = {Cell.lstm: keras.layers.LSTM, Cell.gru: keras.layers.GRU, Cell.simple_rnn: keras.layers.SimpleRNN}
    cell = Cell(model.cell)
    if cell not in layers:
        raise ValueError(f"model.cell: no Keras layer for {cell}")
    recurrent_layer = layers[cell]
    if direction is Direction.bidirectional:
        hidden = keras.layers.Bidirectional(
            recurrent_layer(model.units, return_sequences=True),
            merge_mode=Merge(model.merge).value,
            name="rnn",
        )(hidden)
    else:
        backward = direction is Direction.backward
        hidden = recurrent_layer(model.units, return_sequences=True, go_backwards=backward, name="rnn")(hidden)
        if backward and model.aligned:
            # go_backwards returns the sequence in reversed time order; flip it back so step t meets label t.
            hidden = ReverseTime(name="align")(hidden)
    outputs = keras.layers.TimeDistributed(keras.layers.Dense(1, activation="sigmoid"), name="head")(hidden)
    return keras.Model(inputs, outputs)


# Keras' Masking layer needs a sentinel value; data values lie in [0, 1).
PAD_VALUE = -1.0


class ReverseTime(keras.layers.Layer):
    """Flips [B, T, D] along time, keeping the incoming padding mask.

    After a go_backwards layer over post-padded input, the flip puts the real steps back where the mask says
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
