"""Variable-length sequences: padding counts nowhere, in Keras and in the compiled engine."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bench import data
from bench.keras_model import PAD_VALUE, build_keras_model, set_keras_weights
from bench.models import initial_weights, vectorised_logits
from helpers.configs import CELL_OVERRIDES, MODEL_OVERRIDES, NO_XLA, make_config
from helpers.training import train_losses, train_metrics


def per_step_bce(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    return -(labels * np.log(p) + (1 - labels) * np.log(1 - p))


def vectorised(model_cfg, weights, x, mask, unroll=True):
    params = {name: tf.constant(value[None]) for name, value in weights.items()}
    mask = None if mask is None else tf.constant(mask[None])
    return tf.sigmoid(vectorised_logits(model_cfg, params, tf.constant(x[None]), mask, unroll)).numpy()[0]


FORMS = pytest.mark.parametrize("unroll", [True, False], ids=["unrolled", "loop"])


@pytest.mark.parametrize("variant", ["forward", "backward", "bidirectional-concat"])
def test_keras_compiled_loss_and_accuracy_of_a_padded_batch_are_means_over_real_steps(variant):
    """Fails loudly if a Keras upgrade stops passing masks through the recurrent and TimeDistributed layers."""
    model_cfg = make_config(MODEL_OVERRIDES[variant]).model
    network = build_keras_model(model_cfg, 12, masked=True)
    set_keras_weights(network, model_cfg, initial_weights(model_cfg, seed=1))
    network.compile(loss=keras.losses.BinaryCrossentropy(), metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])
    sequences = data.heldout_set(2, 3, 12, 0.25, 16)
    inputs = np.where(sequences.mask, sequences.x, PAD_VALUE)[..., None]
    loss, accuracy = network.evaluate(inputs, sequences.y[..., None], batch_size=16, verbose=0)
    probabilities = network.predict(inputs, verbose=0)[..., 0]
    real = sequences.mask
    steps = per_step_bce(probabilities, sequences.y)
    assert loss == pytest.approx(steps[real].mean(), abs=1e-5)
    assert abs(steps[real].mean() - steps.mean()) > 1e-3  # the check would notice padding being counted
    assert accuracy == pytest.approx(((probabilities > 0.5) == sequences.y)[real].mean(), abs=1e-6)


@FORMS
@pytest.mark.parametrize("variant", list(CELL_OVERRIDES))
def test_padded_values_change_no_prediction_at_a_real_step(variant, unroll):
    model_cfg = make_config(*CELL_OVERRIDES[variant]).model
    weights = initial_weights(model_cfg, seed=4)
    sequences = data.heldout_set(5, 3, 12, 0.25, 32)
    garbage = np.where(sequences.mask, sequences.x, np.random.default_rng(0).normal(0, 100, sequences.x.shape))
    clean = vectorised(model_cfg, weights, sequences.x, sequences.mask, unroll)
    noisy = vectorised(model_cfg, weights, garbage.astype(np.float32), sequences.mask, unroll)
    np.testing.assert_array_equal(clean[sequences.mask], noisy[sequences.mask])


@FORMS
@pytest.mark.parametrize("variant", [name for name in CELL_OVERRIDES if not name.startswith("backward-unaligned")])
def test_a_short_padded_sequence_is_predicted_as_the_same_sequence_without_padding(variant, unroll):
    model_cfg = make_config(*CELL_OVERRIDES[variant]).model
    weights = initial_weights(model_cfg, seed=6)
    values = np.random.default_rng(1).random((1, 6)).astype(np.float32)
    padded = np.concatenate([values, np.zeros((1, 9), np.float32)], axis=1)
    mask = np.arange(15)[None] < 6
    alone = vectorised(model_cfg, weights, values, None, unroll)
    np.testing.assert_allclose(vectorised(model_cfg, weights, padded, mask, unroll)[0, :6], alone[0], atol=1e-6)


def test_an_all_real_mask_gives_the_fixed_length_numbers():
    model_cfg = make_config("model=bidirectional_concat").model
    weights = initial_weights(model_cfg, seed=0)
    sequences = data.heldout_set(0, 10, 10, 0.25, 16)
    np.testing.assert_array_equal(
        vectorised(model_cfg, weights, sequences.x, np.ones_like(sequences.mask)),
        vectorised(model_cfg, weights, sequences.x, None),
    )


VARIABLE = ["data.min_timesteps=3", "data.max_timesteps=12", "train.batch_size=4"]


def test_the_engine_loss_of_a_padded_batch_is_the_mean_over_its_real_steps(quick):
    metrics, _ = train_metrics("model=backward", *quick, *VARIABLE, "seed=2", "train.epochs=1", NO_XLA)
    cfg = make_config("model=backward")
    batch = next(data.training_batches(2, 3, 12, 0.25, 4, 1))
    probabilities = vectorised(cfg.model, initial_weights(cfg.model, 2), batch.x[0], batch.mask[0])
    expected = per_step_bce(probabilities, batch.y[0])[batch.mask[0]].mean()
    assert metrics.query("split == 'train'")["loss"].item() == pytest.approx(expected, abs=1e-5)


def test_garbage_in_the_padding_changes_no_metric(quick, monkeypatch):
    clean, _ = train_metrics("model=bidirectional_ave", *quick, *VARIABLE, NO_XLA)
    real_draw = data.draw

    def draw_with_garbage(*args, **kwargs):
        sequences = real_draw(*args, **kwargs)
        noise = np.random.default_rng(9).normal(0, 50, sequences.x.shape).astype(np.float32)
        return data.Sequences(np.where(sequences.mask, sequences.x, noise), sequences.y, sequences.lengths)

    monkeypatch.setattr(data, "draw", draw_with_garbage)
    noisy, _ = train_metrics("model=bidirectional_ave", *quick, *VARIABLE, NO_XLA)
    np.testing.assert_allclose(noisy[["loss", "accuracy"]], clean[["loss", "accuracy"]], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_packed_variable_length_replicas_match_single_runs_and_report_by_length(quick):
    packed, recorder = train_metrics("model=backward", *quick, *VARIABLE, "seed=3", "n_seeds=2")
    alone, _ = train_metrics("model=backward", *quick, *VARIABLE, "seed=4")
    np.testing.assert_allclose(train_losses(packed)[4], train_losses(alone)[4], atol=1e-4)
    by_length = recorder.by_length()
    assert set(by_length["length"]) == set(range(3, 13))
    # each held-out evaluation holds every sequence once
    assert by_length.groupby(["seed", "epoch"])["n_sequences"].sum().tolist() == [64] * 6
    assert set(by_length["epoch"]) == {0, 10, 20}


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant", ["backward-unaligned", "bidirectional-concat", "bidirectional-mul-gru", "backward-simple-rnn"]
)
def test_compiled_engine_matches_the_keras_loop_on_variable_lengths(variant, quick):
    options = [*CELL_OVERRIDES[variant], *quick, *VARIABLE, "train.epochs=10", "train.eval_every=5", NO_XLA]
    reference, _ = train_metrics(*options, "engine=reference")
    for form in ("train.unroll_max_steps=0", "train.unroll_max_steps=12"):  # the loop over time, then unrolled
        fast, _ = train_metrics(*options, form)
        np.testing.assert_allclose(fast[["loss", "accuracy"]], reference[["loss", "accuracy"]], atol=1e-4)
