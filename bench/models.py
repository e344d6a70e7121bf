"""The recurrent models: initial weights, and the model vectorised over seeds (the Keras builder of the reference
engine is :mod:`bench.keras_model`, so that the compiled engine never loads Keras).

Every variant is one ``ModelConfig`` read by the functions here: a recurrent layer of ``units`` (an LSTM, GRU or
SimpleRNN cell: forward, backward with go_backwards, or Bidirectional with a merge mode) returning sequences, then
a TimeDistributed Dense(1, sigmoid) head.

Weights are a dict of NumPy arrays keyed by ``WEIGHT_NAMES``; the vectorised model takes the same dict with a
leading replica axis K, so K seeds train side by side with disjoint weights.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bench.data import init_rng
from bench.schema import Cell, Direction, Merge, ModelConfig

FORWARD_CELL, BACKWARD_CELL, HEAD = 0, 1, 2
# blocks of U columns in a cell's kernels, in Keras' order: LSTM gates i, f, c, o; GRU z, r, h; SimpleRNN one
GATES = {Cell.lstm: 4, Cell.gru: 3, Cell.simple_rnn: 1}


def gates(model: ModelConfig) -> int:
    """Blocks of units in the kernels of the variant's cell (:data:`GATES`); an unknown cell raises ValueError."""
    cell = Cell(model.cell)
    if cell not in GATES:
        raise ValueError(f"model.cell: no model for {cell}")
    return GATES[cell]


def cells(model: ModelConfig) -> list[str]:
    """Prefixes of the recurrent cells a variant has: ["fw"], ["bw"] or ["fw", "bw"]."""
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
        float32 arrays: for each cell c in :func:`cells`: ``c_kernel`` [1, GU], ``c_recurrent`` [U, GU] with G =
        :func:`gates`, and ``c_bias``: LSTM [4U] (gates i, f, c, o; forget bias 1 as in unit_forget_bias), GRU
        [2, 3U] (input and recurrent bias of gates z, r, h: Keras 3's reset_after=True), SimpleRNN [U];
        ``head_kernel`` [D, 1] and ``head_bias`` [1] with D = :func:`head_width`. A cell's draw depends only on the
        seed and which cell it is, so the forward cell of every variant of one cell type starts the same for one
        seed.
    """
    units, cell = model.units, Cell(model.cell)
    width = gates(model) * units
    weights: dict[str, np.ndarray] = {}
    for prefix in cells(model):
        rng = init_rng(seed, FORWARD_CELL if prefix == "fw" else BACKWARD_CELL)
        weights[f"{prefix}_kernel"] = _glorot_uniform(rng, (1, width))
        weights[f"{prefix}_recurrent"] = _orthogonal(rng, (units, width))
        bias = np.zeros((2, width) if cell is Cell.gru else width)
        if cell is Cell.lstm:
            bias[units : 2 * units] = 1.0
        weights[f"{prefix}_bias"] = bias
    weights["head_kernel"] = _glorot_uniform(init_rng(seed, HEAD), (head_width(model), 1))
    weights["head_bias"] = np.zeros(1)
    return {name: value.astype(np.float32) for name, value in weights.items()}


# ----------------------------------------------------------------------------------------------------------
# Vectorised model (the compiled engine): the same computation with a leading replica axis K.


def _lstm_step(z_input, state, recurrent, recurrent_bias):
    """One LSTM step with Keras' gate order (i, f, c, o); state (h, c)."""
    h, c = state
    z = z_input + tf.linalg.matmul(h, recurrent)
    i, f, g, o = tf.split(z, 4, axis=-1)
    c_next = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
    h_next = tf.sigmoid(o) * tf.tanh(c_next)
    return h_next, (h_next, c_next)


def _gru_step(z_input, state, recurrent, recurrent_bias):
    """One GRU step as Keras 3 computes it with reset_after=True (gates z, r, h; the reset gate applied after the
    recurrent product and its bias); state (h,)."""
    (h,) = state
    x_z, x_r, x_h = tf.split(z_input, 3, axis=-1)
    inner_z, inner_r, inner_h = tf.split(tf.linalg.matmul(h, recurrent) + recurrent_bias, 3, axis=-1)
    update = tf.sigmoid(x_z + inner_z)
    candidate = tf.tanh(x_h + tf.sigmoid(x_r + inner_r) * inner_h)
    h_next = update * h + (1 - update) * candidate
    return h_next, (h_next,)


def _simple_rnn_step(z_input, state, recurrent, recurrent_bias):
    """One SimpleRNN step with Keras' default tanh; state (h,)."""
    (h,) = state
    h_next = tf.tanh(z_input + tf.linalg.matmul(h, recurrent))
    return h_next, (h_next,)


# cell -> (its step, how many state tensors it carries)
STEPS = {Cell.lstm: (_lstm_step, 2), Cell.gru: (_gru_step, 1), Cell.simple_rnn: (_simple_rnn_step, 1)}


def _recurrence(cell: Cell, x: tf.Tensor, kernel, recurrent, bias, mask, readout, unroll: bool) -> tf.Tensor:
    """Runs R independent cells of one type from the first step to the last.

    Args:
        cell: the cell type.
        x: [R, B, T] inputs (one feature per step).
        kernel: [R, 1, GU]; recurrent: [R, U, GU]; bias: [R, GU], or [R, 2, GU] for the GRU (input bias, then
            recurrent bias), with G = :data:`GATES` of the cell.
        mask: bool [R, B, T] (True at real steps) or None when every step is real. At a masked step the state is
            carried over and the output is 0, as in Keras.
        readout: [R, U] or None: with it each step's output is reduced at once to its product with readout, so
            only [R, B] per step is kept.
        unroll: one copy of the step per time step in the graph (graph size and compile time grow with T), or
            one step inside a compiled loop over time (the same graph for every T).

    Returns:
        [R, B, T] readouts, or [R, B, T, U] outputs without readout.
    """
    cell_step, n_states = STEPS[cell]
    n_cells, batch, steps = x.shape
    if cell is Cell.gru:
        bias, recurrent_bias = bias[:, 0], bias[:, 1][:, None]  # [R, GU], [R, 1, GU]
    else:
        recurrent_bias = None
    kernel, bias = kernel[:, None, 0], bias[:, None]  # [R, 1, GU]

    def step(state, x_t, real_t):
        h_next, state_next = cell_step(x_t[..., None] * kernel + bias, state, recurrent, recurrent_bias)
        if real_t is None:
            out = h_next
        else:
            state_next = tuple(tf.where(real_t, new, old) for new, old in zip(state_next, state, strict=True))
            out = tf.where(real_t, h_next, tf.zeros_like(h_next))
        return state_next, out if readout is None else tf.linalg.matvec(out, readout)

    zeros = tf.zeros([n_cells, batch, recurrent.shape[1]], dtype=x.dtype)
    initial = (zeros,) * n_states
    if unroll:
        state, outputs = initial, []
        for t in range(steps):
            state, out = step(state, x[:, :, t], None if mask is None else mask[:, :, t, None])
            outputs.append(out)
        return tf.stack(outputs, axis=2)

    time_major = tf.transpose(x, [2, 0, 1])  # [T, R, B]: each step's inputs in one contiguous block
    mask_time_major = None if mask is None else tf.transpose(mask, [2, 0, 1])

    def body(t, state, outputs):
        state, out = step(state, time_major[t], None if mask is None else mask_time_major[t][..., None])
        return t + 1, state, outputs.write(t, out)

    outputs = tf.TensorArray(x.dtype, size=steps)
    *_, outputs = tf.while_loop(lambda t, *_: t < steps, body, (0, initial, outputs), maximum_iterations=steps)
    stacked = outputs.stack()  # [T, R, B(, U)]
    return tf.transpose(stacked, [1, 2, 0] if readout is not None else [1, 2, 0, 3])


def _readouts(model: ModelConfig, head: tf.Tensor) -> list[tf.Tensor] | None:
    """The part of the Dense head's kernel [K, D] that each cell's outputs meet, or None for mul.

    Every bidirectional merge but mul is linear in each direction's outputs, so their logits are a sum of one
    product per cell; mul multiplies the two directions' outputs before the head.
    """
    direction = Direction(model.direction)
    if direction is not Direction.bidirectional:
        return [head]
    merge = Merge(model.merge)
    units = head.shape[1] // 2
    readouts = {
        Merge.sum: lambda: [head, head],
        Merge.ave: lambda: [head / 2, head / 2],
        Merge.concat: lambda: [head[:, :units], head[:, units:]],
        Merge.mul: lambda: None,
    }
    if merge not in readouts:
        raise ValueError(f"model.merge: no vectorised form for {merge}")
    return readouts[merge]()


def vectorised_logits(
    model: ModelConfig, params: dict[str, tf.Tensor], x: tf.Tensor, mask: tf.Tensor | None, unroll: bool = True
) -> tf.Tensor:
    """Logits of K replicas of a variant.

    The backward cell reads the sequence reversed (go_backwards), so both cells of a bidirectional variant run as
    2K replicas of one forward recurrence: one loop over time instead of two. Where the merge is linear, each
    cell's outputs go through its part of the Dense head at once and only one number per step is kept.

    Args:
        model: the variant.
        params: :func:`initial_weights` names, each with a leading replica axis K.
        x: [K, B, T] inputs.
        mask: bool [K, B, T] or None.
        unroll: see :func:`_recurrence`.

    Returns:
        [K, B, T] logits; sigmoid gives the probabilities the Keras model outputs at real steps.
    """
    prefixes = cells(model)
    cell = Cell(model.cell)  # an unknown cell raises here
    if cell not in STEPS:
        raise ValueError(f"model.cell: no vectorised form for {cell}")
    head = params["head_kernel"][..., 0]  # [K, D]
    readouts = _readouts(model, head)

    def in_processing_order(prefix: str, t: tf.Tensor) -> tf.Tensor:
        return tf.reverse(t, axis=[2]) if prefix == "bw" else t

    def stacked(name: str) -> tf.Tensor:
        return tf.concat([params[f"{prefix}_{name}"] for prefix in prefixes], axis=0)

    outputs = _recurrence(
        cell,
        tf.concat([in_processing_order(prefix, x) for prefix in prefixes], axis=0),
        stacked("kernel"),
        stacked("recurrent"),
        stacked("bias"),
        None if mask is None else tf.concat([in_processing_order(prefix, mask) for prefix in prefixes], axis=0),
        None if readouts is None else tf.concat(readouts, axis=0),
        unroll,
    )
    # Each cell's outputs come in processing order: a backward cell's output j belongs to input step T-1-j, and
    # only the original's unaligned backward variant leaves it there.
    by_cell = tf.split(outputs, len(prefixes), axis=0)
    if Direction(model.direction) is Direction.backward and not model.aligned:
        aligned = by_cell
    else:
        aligned = [in_processing_order(prefix, out) for prefix, out in zip(prefixes, by_cell, strict=True)]
    logits = tf.add_n(aligned) if readouts is not None else tf.einsum("kbtu,kbtu,ku->kbt", *aligned, head)
    return logits + params["head_bias"][:, :, None]
