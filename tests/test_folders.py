"""Job folders: one writer at a time, archives that keep old results whole, and the check that a folder holds
every row its config promises (which resume and the report share)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench import completeness, store
from helpers.results import by_length_rows, curve_rows

CONFIG = {
    "seed": 0,
    "n_seeds": 2,
    "train": {"epochs": 20, "eval_every": 5},
    "data": {"n_timesteps": 10, "min_timesteps": 10, "max_timesteps": 10, "heldout_size": 10},
}


def write_job(folder: Path, epochs: int = 20, seeds: tuple[int, ...] = (0, 1)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    metrics = pd.concat([curve_rows("forward", seed, epochs=epochs, eval_every=5) for seed in seeds])
    by_length = pd.concat(
        [by_length_rows("forward", seed, epoch, {10: 0.9}) for seed in seeds for epoch in range(0, epochs + 1, 5)]
    )
    store.write_results(folder, metrics, by_length)
    return folder


def test_a_complete_folder_has_no_problems(tmp_path):
    assert completeness.result_problems(write_job(tmp_path), CONFIG) == []


def cut_mid_line(job: Path) -> None:
    text = (job / store.METRICS_FILE).read_text()
    (job / store.METRICS_FILE).write_text(text[: len(text) // 2])


def drop_last_rows(job: Path) -> None:
    text = (job / store.METRICS_FILE).read_text().splitlines(keepends=True)
    (job / store.METRICS_FILE).write_text("".join(text[:-3]))


def rows_of_another_length(job: Path) -> None:
    # a 300-epoch metrics.csv inside a 20-epoch job
    write_job(job, epochs=300)


def seed_the_config_does_not_train(job: Path) -> None:
    metrics = pd.read_csv(job / store.METRICS_FILE)
    extra = curve_rows("forward", 5, epochs=20, eval_every=5)
    store.write_results(job, pd.concat([metrics, extra]), pd.read_csv(job / store.BY_LENGTH_FILE))


def repeated_rows(job: Path) -> None:
    metrics = pd.read_csv(job / store.METRICS_FILE)
    store.write_results(job, pd.concat([metrics, metrics.tail(1)]), pd.read_csv(job / store.BY_LENGTH_FILE))


def a_nan_loss(job: Path) -> None:
    metrics = pd.read_csv(job / store.METRICS_FILE)
    metrics.loc[5, "loss"] = float("nan")
    store.write_results(job, metrics, pd.read_csv(job / store.BY_LENGTH_FILE))


def lengths_that_do_not_add_up(job: Path) -> None:
    by_length = pd.read_csv(job / store.BY_LENGTH_FILE)
    by_length.loc[0, "n_sequences"] = 9
    store.write_results(job, pd.read_csv(job / store.METRICS_FILE), by_length)


def a_length_out_of_range(job: Path) -> None:
    by_length = pd.read_csv(job / store.BY_LENGTH_FILE)
    by_length.loc[0, "length"] = 12
    store.write_results(job, pd.read_csv(job / store.METRICS_FILE), by_length)


DAMAGE = {
    "truncated metrics.csv": (cut_mid_line, "metrics.csv line"),
    "metrics.csv cut at a line end": (drop_last_rows, "metrics.csv, seed 1: train rows miss 3 of 20 epochs (first 18)"),
    "deleted heldout_by_length.csv": (
        lambda job: (job / store.BY_LENGTH_FILE).unlink(),
        "heldout_by_length.csv is missing",
    ),
    "deleted metrics.csv": (lambda job: (job / store.METRICS_FILE).unlink(), "metrics.csv is missing"),
    "300-epoch rows in a 20-epoch job": (rows_of_another_length, "metrics.csv, seed 0: train rows at epoch 21"),
    "a seed run.json does not list": (seed_the_config_does_not_train, "rows for seed 5"),
    "a repeated row": (repeated_rows, "repeat epoch 20"),
    "a NaN loss": (a_nan_loss, "metrics.csv, seed 0: line 7 holds a train loss of nan at epoch 1"),
    "lengths that do not add up": (lengths_that_do_not_add_up, "add up to 9, not data.heldout_size 10"),
    "a length out of range": (a_length_out_of_range, "at epoch 0, lengths outside 10..10 are 12, expected none"),
    "by-length rows of the last epoch only": (
        lambda job: store.write_results(
            job,
            pd.read_csv(job / store.METRICS_FILE),
            pd.read_csv(job / store.BY_LENGTH_FILE).query("epoch == 20"),
        ),
        "heldout_by_length.csv, seed 0: rows miss 4 of 5 held-out epochs (first 0)",
    ),
    "unreadable bytes": (lambda job: (job / store.METRICS_FILE).write_bytes(b"\xff\xfe\x00"), "not a readable CSV"),
}


@pytest.mark.parametrize("damage, named", list(DAMAGE.values()), ids=list(DAMAGE))
def test_damaged_or_missing_files_are_named(tmp_path, damage, named):
    job = write_job(tmp_path)
    damage(job)
    problems = completeness.result_problems(job, CONFIG)
    assert problems and any(named in problem for problem in problems), problems


def with_other_lengths(job: Path, lengths: dict[int, int]) -> None:
    """Adds by-length rows of held-out sets of other lengths (length -> sequences) at every held-out epoch."""
    by_length = pd.read_csv(job / store.BY_LENGTH_FILE)
    extra = by_length.loc[by_length["length"] == 10].copy()
    rows = [extra.assign(length=length, n_sequences=size) for length, size in lengths.items()]
    store.write_results(job, pd.read_csv(job / store.METRICS_FILE), pd.concat([by_length, *rows]))


def test_held_out_lengths_outside_the_training_range_are_checked_at_every_epoch(tmp_path):
    config = {**CONFIG, "data": {**CONFIG["data"], "heldout_lengths": [5, 10, 40]}}
    job = write_job(tmp_path / "missing")
    assert completeness.result_problems(job, config) == [
        "heldout_by_length.csv, seed 0: at epoch 0, lengths outside 10..10 are none, expected 5, 40"
    ]
    with_other_lengths(job, {5: 10, 40: 10})
    assert completeness.result_problems(job, config) == []
    # the same folder does not hold what a config without other lengths promises
    assert "lengths outside 10..10 are 5, 40, expected none" in completeness.result_problems(job, CONFIG)[0]
    short = write_job(tmp_path / "short")
    with_other_lengths(short, {5: 10, 40: 9})
    assert completeness.result_problems(short, config) == [
        "heldout_by_length.csv, seed 0: at epoch 0, a held-out set of another length does not hold "
        "data.heldout_size 10 sequences"
    ]


def test_a_config_with_epochs_as_text_is_a_problem_not_a_skipped_check(tmp_path):
    job = write_job(tmp_path)
    config = {**CONFIG, "train": {"epochs": "20", "eval_every": 5}}
    assert completeness.result_problems(job, config) == [
        "its config gives train.epochs as '20', not a whole number in range"
    ]


def test_a_diverged_seed_is_left_out_by_the_caller(tmp_path):
    job = write_job(tmp_path, seeds=(0,))
    diverged = curve_rows("forward", 1, epochs=20, eval_every=5, last_epoch=7)
    metrics = pd.concat([pd.read_csv(job / store.METRICS_FILE), diverged])
    store.write_results(job, metrics, pd.read_csv(job / store.BY_LENGTH_FILE))
    assert completeness.result_problems(job, CONFIG, seeds=[0]) == []
    assert "seed 1" in completeness.result_problems(job, CONFIG)[0]


LOCK_FROM_ANOTHER_PROCESS = """
import sys
from pathlib import Path
from bench import store
try:
    store.lock(Path(sys.argv[1]))
except store.FolderBusy as busy:
    print(busy)
    sys.exit(3)
"""


def test_a_locked_folder_names_its_holder_and_the_lock_dies_with_the_holder(tmp_path):
    handle = store.lock(tmp_path)
    holder = json.loads((tmp_path / store.LOCK_FILE).read_text())
    assert holder["pid"] == os.getpid() and holder["host"] and holder["command"] and holder["started_at"]
    other = subprocess.run(
        [sys.executable, "-c", LOCK_FROM_ANOTHER_PROCESS, str(tmp_path)], capture_output=True, text=True
    )
    assert other.returncode == 3
    assert other.stdout.startswith(f"{tmp_path} is in use by pid {os.getpid()} on ")
    handle.close()  # as when the holder ends, however it ends
    again = subprocess.run(
        [sys.executable, "-c", LOCK_FROM_ANOTHER_PROCESS, str(tmp_path)], capture_output=True, text=True
    )
    assert again.returncode == 0, again.stdout


def test_archiving_moves_files_unchanged_and_never_replaces_an_earlier_archive(tmp_path):
    job = write_job(tmp_path / "0")
    before = (job / store.METRICS_FILE).read_bytes()
    first = store.archive(tmp_path, ["0"])
    write_job(tmp_path / "0")
    second = store.archive(tmp_path, ["0"])
    assert first != second and first.parent == second.parent == tmp_path / store.ARCHIVE_DIR
    assert (first / "0" / store.METRICS_FILE).read_bytes() == before
    assert (second / "0" / store.METRICS_FILE).is_file() and not (tmp_path / "0").exists()


def test_temporary_files_of_a_stopped_writer_are_removed(tmp_path):
    write_job(tmp_path)
    (tmp_path / ".metrics.csv.abc123.tmp").write_text("half")
    assert store.remove_temporaries(tmp_path) == [".metrics.csv.abc123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [store.BY_LENGTH_FILE, store.METRICS_FILE]
