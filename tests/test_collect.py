"""Reading job folders: finding them, validating their files, and deciding which seeds are usable."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd
import pytest

from bench import collect, readers, store, sweeps, variants
from helpers.results import curve_rows, run_record, write_job, write_sweep, write_variant_job


def write_metrics_text(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "metrics.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


class TestFindingJobs:
    def test_jobs_in_numeric_order_without_the_report_folder(self, tmp_path):
        for name in ("10", "2", "0", "1"):
            write_job(tmp_path / name, None, None)
        (tmp_path / "report").mkdir()
        (tmp_path / "multirun.yaml").write_text("")
        assert [job.name for job in sweeps.find_job_dirs(tmp_path)] == ["0", "1", "2", "10"]

    def test_a_job_folder_is_its_own_only_job(self, tmp_path):
        write_job(tmp_path, curve_rows("forward", 0), run_record("forward", [0]))
        assert sweeps.find_job_dirs(tmp_path) == [tmp_path]

    def test_missing_sweep_folder(self, tmp_path):
        with pytest.raises(FileNotFoundError):
            sweeps.find_job_dirs(tmp_path / "absent")

    def test_latest_sweep_is_the_one_written_last(self, tmp_path):
        root = tmp_path / "multirun"
        older, newer = root / "2024-01-01" / "10-00-00", root / "2024-01-02" / "09-00-00"
        write_sweep(older, {"forward": {0: 0.8}})
        write_sweep(newer, {"forward": {0: 0.8}})
        for path in older.rglob("*"):
            os.utime(path, (2_000_000_000, 2_000_000_000))
        assert sweeps.find_latest_sweep(root) == older
        assert sweeps.find_latest_sweep(tmp_path / "nothing") is None


class TestReadingMetrics:
    def test_valid_rows_are_typed(self, tmp_path):
        path = tmp_path / "metrics.csv"
        curve_rows("bidirectional-sum", 3).to_csv(path, index=False)
        metrics = readers.read_metrics(path)
        assert list(metrics.columns) == store.METRIC_COLUMNS
        assert metrics["seed"].dtype == "int64" and metrics["accuracy"].dtype == "float64"
        assert metrics["aligned"].dtype == bool
        assert set(metrics["merge"]) == {"sum"}

    def test_empty_merge_stays_an_empty_text(self, tmp_path):
        path = tmp_path / "metrics.csv"
        curve_rows("forward", 0).to_csv(path, index=False)
        assert set(readers.read_metrics(path)["merge"]) == {""}

    @pytest.mark.parametrize(
        ("content", "reason"),
        [
            (b"\x89PNG\x00\xff\xfe garbage \x00\x01\x02\n\xff\xff", "metrics.csv"),
            ("variant,seed,epoch\nforward,0,1\n", r"lacks column\(s\) direction, merge, aligned, split"),
            ("", "not a readable CSV"),
        ],
    )
    def test_unreadable_or_wrong_columns(self, tmp_path, content, reason):
        with pytest.raises(readers.DamagedFileError, match=reason):
            readers.read_metrics(write_metrics_text(tmp_path, content))

    @pytest.mark.parametrize(
        ("column", "value", "expected"),
        [
            ("accuracy", "high", "a number in"),
            ("accuracy", "1.5", "a number in"),
            ("loss", "", "a number"),
            ("seed", "-1", "a whole number >= 0"),
            ("epoch", "2.5", "a whole number"),
            ("split", "validation", "one of train, heldout"),
            ("aligned", "maybe", "True or False"),
        ],
    )
    def test_a_bad_value_names_its_line_and_column(self, tmp_path, column, value, expected):
        rows = curve_rows("forward", 0).astype({column: object})
        rows.loc[3, column] = value
        path = tmp_path / "metrics.csv"
        rows.to_csv(path, index=False)
        with pytest.raises(readers.DamagedFileError, match=f"line 5: {column} is .*{expected}"):
            readers.read_metrics(path)

    def test_nan_loss_written_as_nan_is_a_result(self, tmp_path):
        rows = curve_rows("forward", 0)
        rows.loc[3, "loss"] = float("nan")
        path = tmp_path / "metrics.csv"
        rows.to_csv(path, index=False, na_rep="nan")
        assert readers.read_metrics(path)["loss"].isna().sum() == 1

    def test_repeated_rows_are_damage(self, tmp_path):
        rows = curve_rows("forward", 0)
        path = tmp_path / "metrics.csv"
        pd.concat([rows, rows.iloc[[2]]]).to_csv(path, index=False)
        with pytest.raises(readers.DamagedFileError, match="repeats the row"):
            readers.read_metrics(path)


class TestReadingRunJson:
    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("{not json", "not readable JSON"),
            ("[1, 2]", "does not hold a JSON object"),
            ('{"status": "done"}', "status 'done'"),
            ('{"status": "completed", "seeds": ["a"]}', "seeds are not all whole numbers"),
            ('{"status": "completed", "config": []}', "config is not an object"),
        ],
    )
    def test_damaged_run_json(self, tmp_path, text, reason):
        path = tmp_path / "run.json"
        path.write_text(text)
        with pytest.raises(readers.DamagedFileError, match=reason):
            readers.read_run_record(path)


class TestCollect:
    @pytest.fixture
    def mixed_sweep(self, tmp_path):
        """Jobs 0-1 complete; 2 no metrics.csv; 3 garbage; 4 failed; 5 running; 6 short; 7 one failed seed."""
        sweep = tmp_path / "sweep"
        inputs = write_sweep(sweep, {"forward": {0: 0.8, 1: 0.85}, "backward": {0: 0.9, 1: 0.92}})
        write_job(sweep / "2", None, run_record("bidirectional-sum", [0]))
        write_job(sweep / "3", None, run_record("bidirectional-mul", [0]))
        (sweep / "3" / "metrics.csv").write_bytes(b"\x00\xff\x13garbage\xfe")
        failed = curve_rows("bidirectional-ave", 0, last_epoch=7)
        # a job that died before it could record per-seed results
        died = {**run_record("bidirectional-ave", [0], status="failed", error="boom"), "seed_status": {}}
        write_job(sweep / "4", failed, died)
        running = curve_rows("bidirectional-concat", 0, last_epoch=10)
        write_job(sweep / "5", running, run_record("bidirectional-concat", [0], status="running"))
        short = curve_rows("backward-unaligned", 0, last_epoch=15)
        write_job(sweep / "6", short, run_record("backward-unaligned", [0]))
        packed = pd.concat([curve_rows("custom", 0), curve_rows("custom", 1, last_epoch=12)])
        seed_status = {
            0: {"status": "completed"},
            1: {"status": "failed", "epoch": 13, "error": "loss is nan at epoch 13"},
        }
        write_job(
            sweep / "7",
            packed,
            run_record("custom", [0, 1], status="failed", error="seed 1: nan", seed_status=seed_status),
        )
        readable = [*inputs.values(), failed, running, short, packed]
        return sweep, sum(len(rows) for rows in readable)

    def test_usable_seeds_and_problems(self, mixed_sweep, caplog):
        sweep, n_readable_rows = mixed_sweep
        with caplog.at_level(logging.WARNING, logger="bench.collect"):
            collection = collect.collect([sweep])
        used = collection.metrics.groupby(["variant", "seed"]).ngroups
        assert used == 5
        assert set(collection.metrics["variant"]) == {"forward", "backward", "custom"}
        assert len(collection.results) == n_readable_rows
        problems = {
            (Path(row.run_dir).name, None if pd.isna(row.seed) else int(row.seed)): (row.kind, row.reason)
            for row in collection.problems.itertuples()
        }
        assert problems[("2", None)] == ("missing", "metrics.csv missing (job status completed)")
        assert problems[("3", None)][0] == "damaged"
        assert problems[("4", None)] == ("failed", "job status is failed: boom")
        assert problems[("5", None)][0] == "running"
        assert problems[("6", 0)] == ("partial", "heldout rows end at epoch 15 of 20")
        assert problems[("7", 1)] == ("failed", "failed at epoch 13: loss is nan at epoch 13")
        # job 7 was written without its by-length file: its seed 0 is used, its by-length rows are not
        missing = "heldout_by_length.csv is missing (by-length results of this job left out)"
        assert problems[("7", None)] == ("missing", missing)
        assert len(problems) == 7
        assert str(sweep / "3" / "metrics.csv") in caplog.text

    def test_runs_table_counts_used_seeds(self, mixed_sweep):
        sweep, _ = mixed_sweep
        runs = collect.collect([sweep]).runs
        assert runs["n_seeds_used"].tolist() == [2, 2, 0, 0, 0, 0, 0, 1]
        assert runs.loc[0, "version_tensorflow"] == "2.21.0"
        assert runs.loc[5, "status"] == "running"

    def test_packed_seeds_failing_for_one_reason_are_one_problem(self, tmp_path):
        rows = pd.concat([curve_rows("forward", seed, last_epoch=4) for seed in (0, 1, 2)])
        statuses = {seed: {"status": "failed"} for seed in (0, 1, 2)}
        record = run_record("forward", [0, 1, 2], status="failed", error="OSError", seed_status=statuses)
        write_job(tmp_path / "0", rows, record)
        problems = collect.collect([tmp_path]).problems
        assert len(problems) == 1 and pd.isna(problems.loc[0, "seed"])
        assert problems.loc[0, "reason"] == "failed: OSError"

    def test_a_header_only_metrics_file_is_reported(self, tmp_path):
        record = {**run_record("forward", [0]), "seeds": []}
        write_job(tmp_path / "0", curve_rows("forward", 0).iloc[:0], record)
        problems = collect.collect([tmp_path]).problems
        assert problems[["kind", "reason"]].values.tolist() == [["missing", "metrics.csv has no rows"]]

    def test_missing_run_json_leaves_the_job_out(self, tmp_path):
        write_job(tmp_path / "0", curve_rows("forward", 0), None)
        collection = collect.collect([tmp_path])
        assert collection.metrics.empty and len(collection.results) > 0
        assert collection.problems.loc[0, "kind"] == "missing"

    def test_a_damaged_by_length_file_keeps_the_metrics(self, tmp_path):
        write_variant_job(tmp_path / "0", "forward", {0: 0.8}, lengths=[5, 6])
        (tmp_path / "0" / "heldout_by_length.csv").write_text("variant,length\nforward,x\n")
        collection = collect.collect([tmp_path])
        assert not collection.metrics.empty and collection.by_length.empty
        assert "by-length results of this job left out" in collection.problems.loc[0, "reason"]

    def test_later_sweep_wins_a_repeated_variant_and_seed(self, tmp_path):
        first, second = tmp_path / "first", tmp_path / "second"
        write_sweep(first, {"forward": {0: 0.7, 1: 0.7}})
        write_sweep(second, {"forward": {1: 0.9, 2: 0.9}})
        collection = collect.collect([first, second])
        finals = collection.metrics.query("split == 'heldout' and epoch == 20").set_index("seed")["accuracy"]
        assert finals.to_dict() == pytest.approx({0: 0.7, 1: 0.9, 2: 0.9})
        duplicate = collection.problems.iloc[0]
        assert (duplicate["kind"], duplicate["seed"]) == ("duplicate", 1)
        assert str(second / "0") in duplicate["reason"]

    def test_runs_with_other_settings_are_named_apart_not_replaced(self, tmp_path):
        short, long = tmp_path / "short", tmp_path / "long"
        write_sweep(short, {"forward": {0: 0.7, 1: 0.7}, "backward": {0: 0.6}}, epochs=20)
        write_sweep(long, {"forward": {0: 0.9, 1: 0.9}}, epochs=30, eval_every=10)
        collection = collect.collect([short, long])
        assert collection.problems.empty
        assert set(collection.metrics["variant"]) == {
            "forward [epochs=20, eval_every=5]",
            "backward [epochs=20, eval_every=5]",
            "forward [epochs=30, eval_every=10]",
        }
        assert (
            collection.metrics.groupby("variant")["seed"].nunique().to_dict()["forward [epochs=30, eval_every=10]"] == 2
        )
        assert variants.variant_order(collection.metrics["variant"])[-1] == "backward [epochs=20, eval_every=5]"

    def test_runs_table_has_every_setting_that_can_name_runs_apart(self, tmp_path):
        write_sweep(tmp_path, {"forward": {0: 0.8}}, epochs=30, eval_every=10, threshold=0.5)
        runs = collect.collect([tmp_path]).runs
        assert list(runs.columns[: len(collect.RUN_COLUMNS)]) == collect.RUN_COLUMNS
        config = json.loads((tmp_path / "0" / "run.json").read_text())["config"]
        for name, path in collect.SETTINGS.items():
            assert runs.loc[0, name] == readers.value_at(config, path), name

    def test_one_setting_everywhere_keeps_the_plain_variant_names(self, tmp_path):
        write_sweep(tmp_path, {"forward": {0: 0.7}, "backward": {0: 0.6}}, epochs=30, eval_every=10)
        assert set(collect.collect([tmp_path]).metrics["variant"]) == {"forward", "backward"}

    def test_metrics_of_another_variant_than_run_json_is_damage(self, tmp_path):
        write_job(tmp_path / "0", curve_rows("backward", 0), run_record("forward", [0]))
        collection = collect.collect([tmp_path])
        assert collection.metrics.empty
        assert collection.problems.loc[0, "kind"] == "damaged"
