"""The variants' shapes and alignment, and the vectorised model against the Keras layers it replaces."""

from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from bench import data
from bench.keras_model import PAD_VALUE, build_keras_model, set_keras_weights
from bench.models import initial_weights, vectorised_logits
from helpers.configs import CELL_OVERRIDES, MODEL_OVERRIDES, make_config


def keras_probabilities(model_cfg, weights, sequences, masked):
    network = build_keras_model(model_cfg, sequences.x.shape[-1], masked=masked)
    set_keras_weights(network, model_cfg, weights)
    inputs = np.where(sequences.mask, sequences.x, PAD_VALUE)[..., None]
    return network(inputs, training=False).numpy()[..., 0]


def vectorised_probabilities(model_cfg, weights, sequences, masked, unroll=True):
    params = {name: tf.constant(value[None]) for name, value in weights.items()}
    mask = tf.constant(sequences.mask[None]) if masked else None
    logits = vectorised_logits(model_cfg, params, tf.constant(sequences.x[None]), mask, unroll)
    return tf.sigmoid(logits).numpy()[0]


@pytest.mark.parametrize("merge, width", [("sum", 20), ("mul", 20), ("concat", 40), ("ave", 20)])
def test_bidirectional_output_width_per_merge_mode(merge, width):
    model_cfg = make_config(f"model.merge={merge}").model
    network = build_keras_model(model_cfg, 10, masked=False)
    assert network.get_layer("rnn").output.shape == (None, 10, width)
    assert network.output.shape == (None, 10, 1)
    # two LSTM(20) cells of 1,760 weights each, and a Dense head on `width` features
    assert network.count_params() == 2 * 1760 + width + 1


@pytest.mark.parametrize("variant", ["forward", "backward", "backward-unaligned"])
def test_one_direction_has_the_original_parameter_count(variant):
    model_cfg = make_config(MODEL_OVERRIDES[variant]).model
    assert build_keras_model(model_cfg, 10, masked=False).count_params() == 1781


# weights of one cell of 20 units on one input feature: kernel, recurrent kernel, bias
CELL_WEIGHTS = {
    "lstm": [(1, 80), (20, 80), (80,)],
    "gru": [(1, 60), (20, 60), (2, 60)],  # Keras 3's reset_after=True: an input and a recurrent bias row
    "simple_rnn": [(1, 20), (20, 20), (20,)],
}


@pytest.mark.parametrize("cell", list(CELL_WEIGHTS))
@pytest.mark.parametrize("model", ["bidirectional_concat", "backward"])
def test_each_cell_is_the_keras_layer_of_its_name_with_weights_of_keras_shapes(cell, model):
    model_cfg = make_config(f"model={model}", f"model.cell={cell}").model
    network = build_keras_model(model_cfg, 10, masked=False)
    rnn = network.get_layer("rnn")
    layers = [rnn.forward_layer, rnn.backward_layer] if model == "bidirectional_concat" else [rnn]
    expected_class = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "SimpleRNN"}[cell]
    weights = initial_weights(model_cfg, seed=2)
    for layer, prefix in zip(layers, ["fw", "bw"] if len(layers) == 2 else ["bw"], strict=True):
        assert type(layer).__name__ == expected_class
        assert [tuple(w.shape) for w in layer.get_weights()] == CELL_WEIGHTS[cell]
        assert [weights[f"{prefix}_{part}"].shape for part in ("kernel", "recurrent", "bias")] == CELL_WEIGHTS[cell]
    if cell == "gru":
        assert layers[0].cell.reset_after
    if cell == "simple_rnn":
        assert layers[0].cell.activation.__name__ == "tanh"
    set_keras_weights(network, model_cfg, weights)  # every array fits its layer
    head = 40 if model == "bidirectional_concat" else 20
    assert network.count_params() == len(layers) * sum(int(np.prod(shape)) for shape in CELL_WEIGHTS[cell]) + head + 1


@pytest.mark.parametrize("cell", ["gru", "simple_rnn"])
def test_other_cells_start_from_keras_initialisers_drawn_per_seed(cell):
    """Kernel glorot-uniform, recurrent kernel orthogonal, biases zero: Keras' defaults for GRU and SimpleRNN."""
    model_cfg = make_config("model=bidirectional_sum", f"model.cell={cell}").model
    weights = initial_weights(model_cfg, seed=3)
    width = weights["fw_kernel"].shape[1]
    limit = np.sqrt(6 / (1 + width))
    assert np.abs(weights["fw_kernel"]).max() <= limit and np.abs(weights["fw_kernel"]).max() > 0.8 * limit
    recurrent = weights["bw_recurrent"]
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(20), atol=1e-5)
    assert not weights["fw_bias"].any() and not weights["bw_bias"].any()
    assert not np.array_equal(weights["fw_recurrent"], weights["bw_recurrent"])
    again = initial_weights(model_cfg, seed=3)
    assert all(np.array_equal(again[name], weights[name]) for name in weights)
    other = initial_weights(model_cfg, seed=4)
    assert not np.array_equal(other["fw_recurrent"], weights["fw_recurrent"])


# every LSTM variant in both forms on both kinds of lengths; the other cells' variants in two of those four cases
FORWARD_PASSES = [
    pytest.param(
        variant, masked, unroll, id=f"{variant}-{'variable' if masked else 'fixed'}-{'unrolled' if unroll else 'loop'}"
    )
    for variant in CELL_OVERRIDES
    for masked, unroll in (
        [(False, True), (True, True), (False, False), (True, False)]
        if variant in MODEL_OVERRIDES
        else [(False, True), (True, False)]
    )
]


@pytest.mark.parametrize("variant, masked, unroll", FORWARD_PASSES)
def test_vectorised_model_matches_keras_at_real_steps(variant, masked, unroll):
    model_cfg = make_config(*CELL_OVERRIDES[variant]).model
    weights = initial_weights(model_cfg, seed=7)
    sequences = data.heldout_set(1, 4 if masked else 10, 10, 0.25, 32)
    expected = keras_probabilities(model_cfg, weights, sequences, masked)
    actual = vectorised_probabilities(model_cfg, weights, sequences, masked, unroll)
    np.testing.assert_allclose(actual[sequences.mask], expected[sequences.mask], atol=1e-6)


def graph_size(model_cfg, steps: int, unroll: bool) -> int:
    """Operations in the traced training step of one replica, its loops' bodies and gradients included."""
    weights = {name: tf.constant(value[None]) for name, value in initial_weights(model_cfg, 0).items()}

    @tf.function(autograph=False)
    def loss_and_gradients(params, x):
        with tf.GradientTape() as tape:
            tape.watch(params)
            loss = tf.reduce_sum(vectorised_logits(model_cfg, params, x, None, unroll))
        return loss, tape.gradient(loss, params)

    graph = loss_and_gradients.get_concrete_function(weights, tf.zeros([1, 1, steps])).graph.as_graph_def()
    return len(graph.node) + sum(len(function.node_def) for function in graph.library.function)


def test_the_loop_over_time_is_one_graph_for_every_length_and_the_unrolled_form_grows_with_it():
    model_cfg = make_config("model=bidirectional_concat").model
    assert graph_size(model_cfg, 10, unroll=False) == graph_size(model_cfg, 200, unroll=False)
    assert graph_size(model_cfg, 20, unroll=True) > 1.5 * graph_size(model_cfg, 10, unroll=True)


@pytest.mark.parametrize(
    "direction, merge, cell", [("bidirectional", "avg", "lstm"), ("sideways", None, "lstm"), ("forward", None, "lstn")]
)
def test_an_unknown_merge_direction_or_cell_raises_where_it_is_dispatched(direction, merge, cell):
    model_cfg = SimpleNamespace(direction=direction, merge=merge, aligned=True, units=20, cell=cell)
    weights = initial_weights(make_config("model=bidirectional_concat").model, 0)
    params = {name: tf.constant(value[None]) for name, value in weights.items()}
    unknown = merge or (direction if cell == "lstm" else cell)
    with pytest.raises(ValueError, match=unknown):
        vectorised_logits(model_cfg, params, tf.zeros([1, 1, 10]), None)
    with pytest.raises(ValueError, match=unknown):
        build_keras_model(model_cfg, 10, masked=False)
    if cell != "lstm":
        with pytest.raises(ValueError, match=unknown):
            initial_weights(model_cfg, 0)


@pytest.mark.parametrize("aligned", [True, False])
def test_backward_prediction_at_step_t_depends_only_on_inputs_t_onwards_when_aligned(aligned):
    model_cfg = make_config("model=backward" if aligned else "model=backward_unaligned").model
    weights = initial_weights(model_cfg, seed=0)
    base = data.heldout_set(0, 10, 10, 0.25, 1)
    before = keras_probabilities(model_cfg, weights, base, masked=False)[0]
    for t in range(1, 10):
        changed = base.x.copy()
        changed[0, :t] = 1 - changed[0, :t]  # change every input before step t
        after = keras_probabilities(model_cfg, weights, data.Sequences(changed, base.y, base.lengths), False)[0]
        if aligned:
            assert np.allclose(after[t:], before[t:], atol=1e-7), t
            assert not np.allclose(after[:t], before[:t], atol=1e-7), t
        else:
            # the original variant's output t has read inputs T-1-t..T-1: changing early inputs moves late outputs
            assert not np.allclose(after[10 - t :], before[10 - t :], atol=1e-7), t


def test_initial_weights_depend_on_the_seed_only_and_start_forward_cells_alike():
    forward = initial_weights(make_config("model=forward").model, seed=3)
    bidirectional = initial_weights(make_config("model=bidirectional").model, seed=3)
    np.testing.assert_array_equal(forward["fw_recurrent"], bidirectional["fw_recurrent"])
    assert not np.array_equal(
        forward["fw_recurrent"], initial_weights(make_config("model=forward").model, 4)["fw_recurrent"]
    )
    recurrent = forward["fw_recurrent"]  # orthogonal rows, as Keras initialises it
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(20), atol=1e-5)
    assert forward["fw_bias"][20:40].tolist() == [1.0] * 20  # unit forget bias
