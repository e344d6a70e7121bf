"""The cumulative-sum sequence task, generated with NumPy only.

A sequence of length L holds L values drawn from U[0, 1); the label at step t is 1 once the running sum
x[0] + ... + x[t] reaches ``threshold * L``, else 0. Sequences shorter than the padded width are padded at the
end; ``lengths`` says how many steps are real.

Every draw comes from a NumPy generator keyed by (seed, stream), never by the model, so every variant run with
one seed sees exactly the same training batches and held-out set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

# Independent random streams per seed. The validation streams replace the held-out ones in runs that choose
# settings (data.evaluation_set=validation), so a choice never sees the sequences a report scores.
TRAIN_VALUES, TRAIN_LENGTHS, HELDOUT_VALUES, HELDOUT_LENGTHS, INIT_WEIGHTS, HELDOUT_AT_LENGTH = range(6)
VALIDATION_VALUES, VALIDATION_LENGTHS, VALIDATION_AT_LENGTH = range(6, 9)


@dataclass(frozen=True)
class Sequences:
    """A padded set of sequences.

    Attributes:
        x: float32 [..., T] values; padded steps hold 0.
        y: float32 [..., T] labels (0 or 1); padded steps hold 0.
        lengths: int32 [...] real steps per sequence (1 <= length <= T).
    """

    x: np.ndarray
    y: np.ndarray
    lengths: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """bool [..., T]: True at real steps."""
        return np.arange(self.x.shape[-1]) < self.lengths[..., None]


def label(x: np.ndarray, lengths: np.ndarray, threshold: float) -> np.ndarray:
    """Labels for padded values.

    Args:
        x: float [..., T] values; steps at or past ``lengths`` are ignored.
        lengths: int [...] real steps per sequence.
        threshold: fraction of the length that the running sum must reach.

    Returns:
        float32 [..., T]: 1 where the running sum over real steps has reached ``threshold * length``, 0 elsewhere
        (and 0 at padded steps).
    """
    real = np.arange(x.shape[-1]) < lengths[..., None]
    running = np.cumsum(np.where(real, x.astype(np.float64), 0.0), axis=-1)
    return ((running >= threshold * lengths[..., None]) & real).astype(np.float32)


def draw(
    values_rng: np.random.Generator,
    lengths_rng: np.random.Generator,
    shape: tuple[int, ...],
    min_timesteps: int,
    max_timesteps: int,
    threshold: float,
) -> Sequences:
    """Draws ``shape`` sequences padded to ``max_timesteps``.

    Values are drawn for the full padded width whatever the lengths, so fixed-length data does not depend on
    whether variable lengths are enabled elsewhere, and the lengths stream is used only when lengths vary.
    """
    x = values_rng.random((*shape, max_timesteps)).astype(np.float32)
    if min_timesteps == max_timesteps:
        lengths = np.full(shape, max_timesteps, dtype=np.int32)
    else:
        lengths = lengths_rng.integers(min_timesteps, max_timesteps, size=shape, endpoint=True).astype(np.int32)
        x = np.where(np.arange(max_timesteps) < lengths[..., None], x, np.float32(0.0))
    return Sequences(x, label(x, lengths, threshold), lengths)


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), stream])


def training_batches(
    seed: int, min_timesteps: int, max_timesteps: int, threshold: float, batch_size: int, chunk: int
) -> Iterator[Sequences]:
    """Endless training data for one seed, ``chunk`` epochs at a time.

    Yields:
        Sequences with x, y of shape [chunk, batch_size, max_timesteps]. Epoch e's batch is the same whatever
        ``chunk`` is, because the generators are consumed in order.
    """
    values_rng, lengths_rng = _rng(seed, TRAIN_VALUES), _rng(seed, TRAIN_LENGTHS)
    while True:
        yield draw(values_rng, lengths_rng, (chunk, batch_size), min_timesteps, max_timesteps, threshold)


def heldout_set(
    seed: int, min_timesteps: int, max_timesteps: int, threshold: float, size: int, validation: bool = False
) -> Sequences:
    """The fixed held-out set for one seed: x, y of shape [size, max_timesteps]; with ``validation``, the
    validation set, drawn from streams of its own."""
    values, lengths = (VALIDATION_VALUES, VALIDATION_LENGTHS) if validation else (HELDOUT_VALUES, HELDOUT_LENGTHS)
    return draw(
        _rng(seed, values),
        _rng(seed, lengths),
        (size,),
        min_timesteps,
        max_timesteps,
        threshold,
    )


def extra_heldout_lengths(min_timesteps: int, max_timesteps: int, heldout_lengths: Iterable[int] | None) -> list[int]:
    """The held-out lengths outside the training range, ascending: each is scored on a set of its own.

    Lengths inside the range are scored on the sequences of that length in the held-out set itself.
    """
    return sorted({int(length) for length in heldout_lengths or ()} - set(range(min_timesteps, max_timesteps + 1)))


def heldout_at_length(seed: int, length: int, threshold: float, size: int, validation: bool = False) -> Sequences:
    """The fixed held-out set of one seed at one length: x, y of shape [size, length], threshold * length (with
    ``validation``, the validation set of that length).

    Its stream is keyed by the length too, so a set does not depend on which other lengths are scored.
    """
    stream = VALIDATION_AT_LENGTH if validation else HELDOUT_AT_LENGTH
    rng = np.random.default_rng([int(seed), stream, int(length)])
    return draw(rng, rng, (size,), length, length, threshold)


def init_rng(seed: int, part: int) -> np.random.Generator:
    """Generator for the initial weights of one model part (0: forward cell, 1: backward cell, 2: head)."""
    return np.random.default_rng([int(seed), INIT_WEIGHTS, part])
