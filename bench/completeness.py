"""Whether a job folder holds every result its config promises: the one check that decides both whether resume
skips a completed job and which seeds the report uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.store import BY_LENGTH_FILE, LENGTH_COLUMNS, METRIC_COLUMNS, METRICS_FILE


@dataclass(frozen=True)
class Shortfall:
    """One way a job folder falls short of its config.

    Attributes:
        file: METRICS_FILE or BY_LENGTH_FILE, or None when the config itself lacks a value it needs.
        seed: the seed whose rows fall short, or None when the whole file (or config) does.
        reason: why, without the file's name.
    """

    file: str | None
    seed: int | None
    reason: str

    def __str__(self) -> str:
        if self.file is None:
            return self.reason
        return (
            f"{self.file}, seed {self.seed}: {self.reason}" if self.seed is not None else f"{self.file} {self.reason}"
        )


def shortfalls(folder: Path, config: Mapping[str, Any], seeds: Iterable[int] | None = None) -> list[Shortfall]:
    """Every way a job folder falls short of the results its config promises; an empty list when it holds them.

    Args:
        folder: the job folder.
        config: the job's resolved config as plain data (``run.json``'s ``config``).
        seeds: the seeds to check (default: all of the config's, ``seed .. seed + n_seeds - 1``); a seed that
            diverged has rows only up to its failure, so callers leave it out.

    A complete folder holds, with everything expected read from ``config``:

    - ``metrics.csv`` (METRIC_COLUMNS): for each seed, ``split=train`` rows at epochs 1 .. ``train.epochs``
      and ``split=heldout`` rows at epoch 0, every ``train.eval_every`` epochs and epoch ``train.epochs``, each
      exactly once, with finite losses and accuracies in [0, 1]; no rows of other seeds.
    - ``heldout_by_length.csv`` (LENGTH_COLUMNS): for each seed, rows at every held-out epoch of metrics.csv
      and no other: at each, one row per length of the held-out set, every length within
      ``data.min_timesteps .. data.max_timesteps``, their ``n_sequences`` adding up to ``data.heldout_size``,
      and one row per length of ``data.heldout_lengths`` outside that range, with ``n_sequences`` equal to
      ``data.heldout_size``; finite losses and accuracies in [0, 1].

    Returns:
        Per file, one whole-file shortfall (missing, unreadable, a line cut short or out of range, rows of a seed
        the config does not train) or one per seed that falls short (a NaN or infinite loss, rows missing, extra
        or repeated), the first reason for each; or only one
        config shortfall naming the key when the config lacks a whole number it needs. Reads CSV with pandas.
    """
    try:
        first, n_seeds = _whole_number(config, "seed"), _whole_number(config, "n_seeds")
        epochs, every = _whole_number(config, "train", "epochs"), _whole_number(config, "train", "eval_every")
        lengths = (_whole_number(config, "data", "min_timesteps"), _whole_number(config, "data", "max_timesteps"))
        heldout_size = _whole_number(config, "data", "heldout_size")
        other_lengths = _other_lengths(config, *lengths)
    except ValueError as error:
        return [Shortfall(None, None, str(error))]
    trained = range(first, first + n_seeds)
    wanted = sorted(seeds) if seeds is not None else list(trained)
    heldout_epochs = sorted({0, *range(every, epochs + 1, every), epochs})
    found = []
    for name, columns in ((METRICS_FILE, METRIC_COLUMNS), (BY_LENGTH_FILE, LENGTH_COLUMNS)):
        try:
            rows = _read_numbers(folder / name, columns)
        except ValueError as error:
            found.append(Shortfall(name, None, str(error)))
            continue
        problem = _cut_or_out_of_range(rows) or _other_seeds(rows, trained)
        if problem:
            found.append(Shortfall(name, None, problem))
            continue
        for seed in wanted:
            mine = rows.loc[rows["seed"] == seed]
            if name == METRICS_FILE:
                problem = _non_finite_loss(mine) or _metrics_problem(mine, epochs, heldout_epochs)
            else:
                problem = _non_finite_loss(mine) or _by_length_problem(
                    mine, heldout_epochs, lengths, other_lengths, heldout_size
                )
            if problem:
                found.append(Shortfall(name, seed, problem))
    return found


def result_problems(folder: Path, config: Mapping[str, Any], seeds: Iterable[int] | None = None) -> list[str]:
    """Why a job folder does not hold every result its config promises; an empty list when it does.

    The first :func:`shortfalls` of each file (or the config's), as one line naming the file and the seed.
    """
    first_per_file: dict[str | None, Shortfall] = {}
    for shortfall in shortfalls(folder, config, seeds):
        first_per_file.setdefault(shortfall.file, shortfall)
    return [str(shortfall) for shortfall in first_per_file.values()]


def _whole_number(config: Mapping[str, Any], *keys: str) -> int:
    value: Any = config
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if keys[-1] != "seed" else 0):
        raise ValueError(f"its config gives {'.'.join(keys)} as {value!r}, not a whole number in range")
    return value


# Columns read as numbers; the others stay text.
_NUMERIC = ("seed", "epoch", "length", "n_sequences", "loss", "accuracy")


def _read_numbers(path: Path, columns: list[str]) -> pd.DataFrame:
    """The CSV file with its numeric columns as floats; NaN where a value is not a number, and then the row's
    ``unreadable`` column is True unless the file says ``nan`` there (a result, as a diverged loss is).

    Raises:
        ValueError: the file is missing, unreadable, not CSV or lacks one of ``columns``.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise ValueError("is missing") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"is not a readable CSV file ({type(error).__name__})") from None
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"lacks column(s) {', '.join(missing)}")
    frame["unreadable"] = False
    for column in sorted(set(_NUMERIC) & set(columns)):
        text = frame[column].fillna("")
        frame[column] = pd.to_numeric(text, errors="coerce")
        frame["unreadable"] |= frame[column].isna() & ~text.str.strip().str.lower().eq("nan")
    return frame


def _cut_or_out_of_range(rows: pd.DataFrame) -> str | None:
    """A line cut short or holding a value out of range: the file itself is damaged."""
    whole = (rows[["seed", "epoch"]] == rows[["seed", "epoch"]].round()).all(axis=1)
    good = whole & ~rows["unreadable"] & rows["accuracy"].between(0, 1)
    if not good.all():
        line = int((~good).to_numpy().argmax()) + 2
        return f"line {line} is cut short or holds a value out of range (seed, epoch, loss or accuracy)"
    return None


def _non_finite_loss(rows: pd.DataFrame) -> str | None:
    """The first intact line of ``rows`` whose loss is NaN or infinite: a result that cannot be averaged."""
    bad = ~np.isfinite(rows["loss"].to_numpy())
    if not bad.any():
        return None
    position = int(bad.argmax())
    row = rows.iloc[position]
    split = f"{row['split']} " if "split" in rows.columns else ""
    return f"line {rows.index[position] + 2} holds a {split}loss of {row['loss']} at epoch {row['epoch']:g}"


def _other_seeds(rows: pd.DataFrame, seeds: range) -> str | None:
    others = sorted(set(rows["seed"]) - set(seeds))
    return f"has rows for seed {others[0]:g}, which the config does not train" if others else None


def _metrics_problem(rows: pd.DataFrame, epochs: int, heldout_epochs: list[int]) -> str | None:
    for split, expected in (("train", list(range(1, epochs + 1))), ("heldout", heldout_epochs)):
        counts = rows.loc[rows["split"] == split, "epoch"].value_counts()
        missing = sorted(set(expected) - set(counts.index))
        extra = sorted(set(counts.index) - set(expected))
        if missing:
            return f"{split} rows miss {len(missing)} of {len(expected)} epochs (first {missing[0]})"
        if extra:
            return f"{split} rows at epoch {extra[0]:g}, which the config does not have"
        if (counts > 1).any():
            return f"{split} rows repeat epoch {counts.index[counts.to_numpy() > 1][0]:g}"
    return None


def _other_lengths(config: Mapping[str, Any], low: int, high: int) -> list[int]:
    """The config's held-out lengths outside low..high (none when ``data.heldout_lengths`` is null)."""
    value = (config.get("data") or {}).get("heldout_lengths")
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        raise ValueError(f"its config gives data.heldout_lengths as {value!r}, not a list of whole numbers")
    return sorted(set(value) - set(range(low, high + 1)))


def _by_length_problem(
    rows: pd.DataFrame, heldout_epochs: list[int], lengths: tuple[int, int], other_lengths: list[int], size: int
) -> str | None:
    if rows.empty:
        return "no rows"
    if sorted(set(rows["epoch"])) != heldout_epochs:
        missing = sorted(set(heldout_epochs) - set(rows["epoch"]))
        if missing:
            return f"rows miss {len(missing)} of {len(heldout_epochs)} held-out epochs (first {missing[0]})"
        return f"rows at epoch {sorted(set(rows['epoch']) - set(heldout_epochs))[0]:g}, which the config does not have"
    if _by_length_complete(rows, heldout_epochs, lengths, other_lengths, size):
        return None
    for epoch, at_epoch in rows.groupby("epoch", sort=True):
        trained = at_epoch.loc[at_epoch["length"].between(*lengths)]
        others = at_epoch.loc[~at_epoch["length"].between(*lengths)]
        where = f"at epoch {epoch:g}, "
        if trained["length"].duplicated().any():
            return f"{where}lengths {sorted(trained['length'])} repeat a length"
        if sorted(others["length"]) != other_lengths:
            expected = ", ".join(map(str, other_lengths)) or "none"
            found = ", ".join(f"{length:g}" for length in sorted(others["length"])) or "none"
            return f"{where}lengths outside {lengths[0]}..{lengths[1]} are {found}, expected {expected}"
        if trained["n_sequences"].sum() != size:
            return f"{where}n_sequences add up to {trained['n_sequences'].sum():g}, not data.heldout_size {size}"
        if (others["n_sequences"] != size).any():
            return f"{where}a held-out set of another length does not hold data.heldout_size {size} sequences"
    return None


def _by_length_complete(
    rows: pd.DataFrame, heldout_epochs: list[int], lengths: tuple[int, int], other_lengths: list[int], size: int
) -> bool:
    """Whether every held-out epoch's rows pass the checks of :func:`_by_length_problem`, tested on all epochs at
    once (a loop over epochs costs seconds per sweep); the loop then only runs to name the first problem."""
    inside = rows["length"].between(*lengths).to_numpy()
    trained, others = rows.loc[inside], rows.loc[~inside]
    sums = trained.groupby("epoch")["n_sequences"].sum().reindex(heldout_epochs, fill_value=0)
    return bool(
        not trained.duplicated(["epoch", "length"]).any()
        and not others.duplicated(["epoch", "length"]).any()
        and others["length"].isin(other_lengths).all()
        and len(others) == len(heldout_epochs) * len(other_lengths)
        and (sums == size).all()
        and (others["n_sequences"] == size).all()
    )
