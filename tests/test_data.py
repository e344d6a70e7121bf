"""The task's data: labels from the running sum, padding, and batches fixed by the seed alone."""

import numpy as np
import pytest

from bench import data


def test_labels_of_the_original_example_turn_on_once_the_running_sum_reaches_a_quarter():
    x = np.array([[0.631, 0.294, 0.916, 0.952, 0.322, 0.1, 0.2, 0.3, 0.4, 0.5]])
    # running sum: 0.631, 0.925, 1.841, 2.793 -> reaches 2.5 at step 3
    expected = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert data.label(x, np.array([10]), 0.25)[0].tolist() == expected


def test_a_running_sum_exactly_at_the_threshold_counts_as_reached():
    x = np.array([[0.5, 0.5, 0.0, 0.0]])  # limit 0.25 * 4 = 1.0, reached exactly at step 1
    assert data.label(x, np.array([4]), 0.25)[0].tolist() == [0, 1, 1, 1]


def test_labels_use_each_sequences_own_length_and_are_zero_on_padding():
    x = np.array([[0.6, 0.5, 0.0, 0.0, 0.0, 0.0], [0.6, 0.5, 0.4, 0.3, 0.2, 0.1]])
    lengths = np.array([2, 6])
    # limits: 0.5 for length 2, 1.5 for length 6 (running sum 0.6, 1.1, 1.5, ...)
    assert data.label(x, lengths, 0.25).tolist() == [[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1]]


def test_training_batches_do_not_depend_on_how_epochs_are_chunked():
    whole = next(data.training_batches(3, 10, 10, 0.25, batch_size=2, chunk=8))
    pieces = data.training_batches(3, 10, 10, 0.25, batch_size=2, chunk=4)
    first, second = next(pieces), next(pieces)
    np.testing.assert_array_equal(whole.x, np.concatenate([first.x, second.x]))
    np.testing.assert_array_equal(whole.y, np.concatenate([first.y, second.y]))


def test_seeds_give_different_data_and_the_same_seed_the_same_data():
    a, b, c = (data.heldout_set(seed, 10, 10, 0.25, 50) for seed in (0, 0, 1))
    np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(a.x, c.x)
    train = next(data.training_batches(0, 10, 10, 0.25, batch_size=50, chunk=1))
    assert not np.array_equal(train.x[0], a.x)


def test_variable_lengths_are_padded_at_the_end_within_the_allowed_range():
    sequences = data.heldout_set(0, 5, 20, 0.25, 2000)
    assert sequences.x.shape == (2000, 20)
    assert sequences.lengths.min() == 5 and sequences.lengths.max() == 20
    padded = ~sequences.mask
    assert np.all(sequences.x[padded] == 0) and np.all(sequences.y[padded] == 0)
    assert np.all(sequences.x[sequences.mask] > 0) or np.mean(sequences.x[sequences.mask] > 0) > 0.999
    np.testing.assert_array_equal(sequences.y, data.label(sequences.x, sequences.lengths, 0.25))


@pytest.mark.parametrize("stream", ["train", "heldout"])
def test_fixed_length_values_are_the_padded_values_of_the_same_stream(stream):
    """Enabling variable lengths keeps the value stream: real steps hold the fixed-length run's values."""
    if stream == "heldout":
        fixed, variable = data.heldout_set(4, 12, 12, 0.25, 30), data.heldout_set(4, 3, 12, 0.25, 30)
    else:
        fixed = next(data.training_batches(4, 12, 12, 0.25, 3, 5))
        variable = next(data.training_batches(4, 3, 12, 0.25, 3, 5))
    np.testing.assert_array_equal(fixed.x[variable.mask], variable.x[variable.mask])


def test_a_held_out_set_of_another_length_uses_a_quarter_of_its_own_length_and_its_own_stream():
    at_40 = data.heldout_at_length(seed=3, length=40, threshold=0.25, size=50)
    assert at_40.x.shape == at_40.y.shape == (50, 40) and (at_40.lengths == 40).all()
    np.testing.assert_array_equal(at_40.y, np.cumsum(at_40.x.astype(np.float64), axis=1) >= 10.0)
    again = data.heldout_at_length(seed=3, length=40, threshold=0.25, size=50)
    np.testing.assert_array_equal(again.x, at_40.x)
    # other seeds and lengths draw other values, and none repeats the held-out set the model is scored on
    assert not np.allclose(data.heldout_at_length(4, 40, 0.25, 50).x, at_40.x)
    assert not np.allclose(data.heldout_at_length(3, 41, 0.25, 50).x[:, :40], at_40.x)
    assert not np.allclose(data.heldout_set(3, 40, 40, 0.25, 50).x, at_40.x)


def test_only_held_out_lengths_outside_the_training_range_get_sets_of_their_own():
    assert data.extra_heldout_lengths(10, 10, None) == []
    assert data.extra_heldout_lengths(10, 10, [100, 5, 10, 20]) == [5, 20, 100]
    assert data.extra_heldout_lengths(5, 20, [5, 12, 20, 4, 21]) == [4, 21]
