"""The report command: files written, robustness to bad job folders, exit status, determinism, imports."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from bench import baselines, plots, report, stats
from bench.intervals import IntervalMethod, clopper_pearson
from bench.palette import variant_styles
from bench.store import METRIC_COLUMNS
from helpers.results import add_other_lengths, curve_rows, run_record, write_job, write_sweep

REPO = Path(__file__).resolve().parents[1]
N_BOOT = "200"
# final = the last evaluation, so the numbers below are the final accuracies
LAST_ONLY = ["--n-boot", N_BOOT, "--last-k", "1"]
FINAL_ACCURACY = {
    "forward": {0: 0.80, 1: 0.82, 2: 0.84, 3: 0.86, 4: 0.83},
    "backward": {0: 0.85, 1: 0.81, 2: 0.88, 3: 0.90, 4: 0.86},
    # better than forward on every seed
    "bidirectional-sum": {0: 0.97, 1: 0.98, 2: 0.96, 3: 0.99, 4: 0.97},
    # below sum on every seed, by 0.01 to 0.03
    "bidirectional-concat": {0: 0.95, 1: 0.97, 2: 0.94, 3: 0.96, 4: 0.96},
}
NO_RUNS = "bench.report: no completed runs with metrics.csv under"
FIGURES = [
    "training_loss.png",
    "heldout_loss.png",
    "heldout_accuracy.png",
    "final_accuracy.png",
    "paired_differences.png",
    "pairwise_matrix.png",
]


def run_report(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m bench.report args`` in ``cwd``, with this checkout importable."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "bench.report", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def add_problem_jobs(sweep: Path) -> dict[str, tuple[str, pd.DataFrame | None]]:
    """Jobs 4-9, each broken in one way: folder name -> (what report.md must say, its rows if readable)."""
    write_job(sweep / "4", None, run_record("bidirectional-mul", [0]))
    write_job(sweep / "5", None, run_record("bidirectional-concat", [0]))
    (sweep / "5" / "metrics.csv").write_bytes(bytes(range(256)) * 4)
    write_job(
        sweep / "6",
        curve_rows("bidirectional-ave", 0).drop(columns=["accuracy"]),
        run_record("bidirectional-ave", [0]),
    )
    failed = curve_rows("backward-unaligned", 0, last_epoch=6)
    write_job(
        sweep / "7",
        failed,
        run_record(
            "backward-unaligned",
            [0],
            status="failed",
            error="ValueError: exploded",
            seed_status={0: {"status": "failed", "epoch": 7, "error": "loss is nan at epoch 7"}},
        ),
    )
    running = curve_rows("backward-unaligned", 1, last_epoch=9)
    write_job(sweep / "8", running, run_record("backward-unaligned", [1], status="running"))
    short = curve_rows("backward-unaligned", 2, last_epoch=15)
    write_job(sweep / "9", short, run_record("backward-unaligned", [2]))
    return {
        "4": ("metrics.csv missing", None),
        "5": ("metrics.csv is not a readable CSV file", None),
        "6": ("metrics.csv lacks column(s) accuracy", None),
        "7": ("failed at epoch 7: loss is nan at epoch 7", failed),
        "8": ("job status is running", running),
        "9": ("heldout rows end at epoch 15 of 20", short),
    }


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory):
    """A sweep with three good variants and six broken jobs, and its report written once."""
    sweep = tmp_path_factory.mktemp("reports") / "sweep"
    good = write_sweep(sweep, FINAL_ACCURACY)
    problems = add_problem_jobs(sweep)
    assert report.main([str(sweep), *LAST_ONLY]) == 0
    readable_rows = sum(len(rows) for rows in good.values()) + sum(
        len(rows) for _, rows in problems.values() if rows is not None
    )
    return sweep, sweep / "report", problems, readable_rows


def test_results_hold_every_row_of_every_readable_run(sweep_report):
    _, out, _, readable_rows = sweep_report
    results = pd.read_csv(out / "results.csv")
    assert len(results) == readable_rows
    assert list(results.columns) == [*METRIC_COLUMNS, "run_dir"]


def test_summary_has_the_chosen_numbers_with_intervals(sweep_report):
    _, out, _, _ = sweep_report
    summary = pd.read_csv(out / "summary.csv").set_index("variant")
    assert summary.index.tolist() == list(FINAL_ACCURACY)
    for variant, finals in FINAL_ACCURACY.items():
        row = summary.loc[variant]
        mean = sum(finals.values()) / len(finals)
        assert row["n_seeds"] == len(finals)
        assert row["final_accuracy_mean"] == pytest.approx(mean)
        assert row["final_accuracy_low"] < mean < row["final_accuracy_high"]
        assert row["final_loss_mean"] == pytest.approx(1 - mean)
    # the curves rise in a straight line, so a seed reaches 0.95 only at the last epoch, if at all
    assert summary["n_reached"].tolist() == [0, 0, 5, 4]
    assert summary.loc["bidirectional-sum", "median_epochs"] == 20
    assert summary.loc["forward", "reached_high"] == pytest.approx(clopper_pearson(0, 5)[1])


def test_every_pair_is_compared_with_holm_and_effect_sizes(sweep_report):
    _, out, _, _ = sweep_report
    pairs = pd.read_csv(out / "pairwise.csv")
    accuracy = pairs.loc[pairs["metric"] == "final_accuracy"]
    assert len(accuracy) == 6 and len(pairs) == 12
    merges = accuracy.query("variant == 'bidirectional-sum' and other == 'bidirectional-concat'").iloc[0]
    assert merges["mean_difference"] == pytest.approx(0.018)
    assert (merges["wins"], merges["win_rate"]) == (5, 1.0)
    assert merges["p_value"] < merges["p_holm"] < 0.05
    assert merges["effect_size_dz"] > 1 and merges["hodges_lehmann"] == pytest.approx(0.02)
    assert merges["seeds_for_80_power"] >= 2
    # no win rate is sure of itself with five seeds
    assert (pairs["win_rate_high"] - pairs["win_rate_low"] > 0.4).all()
    text = (out / "report.md").read_text()
    assert "| bidirectional-sum vs bidirectional-concat | 5 | 0.0180 [" in text


def test_comparisons_are_the_pairs_with_forward(sweep_report):
    _, out, _, _ = sweep_report
    comparisons = pd.read_csv(out / "comparisons.csv")
    assert set(comparisons["other"]) == {"forward"}
    best = comparisons.loc[comparisons["variant"] == "bidirectional-sum"].set_index("metric")
    assert best["win_rate"].tolist() == [1.0, 1.0]
    assert best.loc["final_accuracy", "mean_difference"] == pytest.approx(0.144)
    assert best.loc["final_loss", "mean_difference"] == pytest.approx(-0.144)
    assert best["n_pairs"].tolist() == [5, 5]
    # backward is worse on seed 1 and better on the rest
    backward = comparisons.query("variant == 'backward' and metric == 'final_accuracy'")
    assert backward["win_rate"].item() == pytest.approx(0.8)
    assert 0 < backward["wilcoxon_p"].item() < 1


def test_ranking_and_findings_open_the_report(sweep_report):
    _, out, _, _ = sweep_report
    ranking = pd.read_csv(out / "ranking.csv")
    assert ranking["variant"].tolist()[:2] == ["bidirectional-sum", "bidirectional-concat"]
    assert ranking["rank"].tolist()[:2] == [1, 2]
    text = (out / "report.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[:4] == ["## Findings", "## Summary", "## Ranking", "## Pairwise comparisons"]
    assert "- Highest mean: bidirectional-sum, 0.974 [" in text


def test_report_lists_every_broken_job_with_its_reason(sweep_report):
    sweep, out, problems, _ = sweep_report
    text = (out / "report.md").read_text()
    for folder, (reason, _) in problems.items():
        line = next(line for line in text.splitlines() if f"`{sweep / folder}`" in line)
        assert reason in line
    for variant in FINAL_ACCURACY:
        assert f"| {variant} | 5 | " in text
    assert "0.830 [" in text
    assert "tensorflow: 2.21.0" in text and "0.8892" in text


def test_figures_are_written_and_decode(sweep_report):
    _, out, _, _ = sweep_report
    for name in FIGURES:
        path = out / name
        assert path.stat().st_size > 10_000, name
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and image.shape[2] in (3, 4)
        assert image.shape[0] > 200 and image.shape[1] > 300
        # not a blank canvas
        assert image[..., :3].std() > 0.05
        assert f"]({name})" in (out / "report.md").read_text()
    assert not (out / "accuracy_by_length.png").exists()


def test_html_is_self_contained(sweep_report):
    _, out, _, _ = sweep_report
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    assert '.png"' not in page
    assert "<table>" in page and "heldout rows end at epoch 15 of 20" in page


def test_same_sweep_gives_byte_identical_tables(sweep_report, tmp_path):
    sweep, out, _, _ = sweep_report
    assert report.main([str(sweep), *LAST_ONLY, "--out", str(tmp_path)]) == 0
    for name in ("summary.csv", "pairwise.csv", "ranking.csv", "seeds.csv", "results.csv"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_bootstrap_t_intervals_are_named_and_depend_on_the_seed(sweep_report, tmp_path):
    sweep, out, _, _ = sweep_report
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, seed in ((first, "1"), (second, "9")):
        arguments = [str(sweep), *LAST_ONLY, "--interval", "bootstrap-t", "--seed", seed, "--out", str(folder)]
        assert report.main(arguments) == 0
    one, other, student = (pd.read_csv(folder / "summary.csv") for folder in (first, second, out))
    pd.testing.assert_series_equal(one["final_loss_mean"], student["final_loss_mean"])
    assert not one["final_loss_low"].equals(other["final_loss_low"])
    assert not one["final_loss_low"].equals(student["final_loss_low"])
    text = (first / "report.md").read_text()
    assert "bootstrap-t (studentized) 95% interval, 200 resamples, seed 1" in text
    assert "Student t" not in text


def test_figure_intervals_are_the_tables_intervals(sweep_report):
    _, out, _, _ = sweep_report
    outcomes, summary = pd.read_csv(out / "seeds.csv"), pd.read_csv(out / "summary.csv")
    intervals = summary.rename(
        columns={"final_accuracy_mean": "mean", "final_accuracy_low": "low", "final_accuracy_high": "high"}
    )
    styles = variant_styles(outcomes["variant"])
    ax = plots.plot_seeds_and_intervals(outcomes, intervals, "final_accuracy", styles=styles)
    bars = ax.containers[0].lines[2][0].get_segments()
    drawn = [(segment[0][1], segment[1][1]) for segment in bars]
    assert drawn == [pytest.approx(bounds) for bounds in zip(intervals["low"], intervals["high"], strict=True)]

    results = pd.read_csv(out / "results.csv")
    heldout = results.loc[(results["split"] == "heldout") & results["variant"].isin(list(FINAL_ACCURACY))]
    bands = stats.curve_intervals(heldout, "accuracy", IntervalMethod())
    ax = plots.plot_curves(bands, "accuracy", styles=styles)
    vertices = ax.collections[0].get_paths()[0].vertices
    forward = bands.loc[bands["variant"] == "forward"]
    for row in forward.itertuples():
        at = vertices[np.isclose(vertices[:, 0], row.epoch), 1]
        assert (at.min(), at.max()) == pytest.approx((row.accuracy_low, row.accuracy_high))


def test_variable_lengths_give_the_by_length_table_and_figure(tmp_path):
    sweep = tmp_path / "sweep"
    finals = {"forward": {0: 0.8, 1: 0.9}, "bidirectional-ave": {0: 0.95, 1: 0.97}}
    write_sweep(sweep, finals, lengths=range(5, 9))
    assert report.main([str(sweep), "--n-boot", N_BOOT]) == 0
    by_length = pd.read_csv(sweep / "report" / "by_length.csv")
    assert by_length["length"].tolist() == [5, 6, 7, 8] * 2
    assert by_length.loc[by_length["variant"] == "forward", "accuracy_mean"].tolist() == pytest.approx(
        [0.85, 0.84, 0.83, 0.82]
    )
    assert (sweep / "report" / "accuracy_by_length.png").stat().st_size > 10_000
    text = (sweep / "report" / "report.md").read_text()
    assert "lengths 5-8" in text and "accuracy_by_length.png" in text


def test_lengths_never_trained_on_get_the_table_column_and_the_shaded_figure(tmp_path, monkeypatch):
    from bench import figures

    sweep = tmp_path / "sweep"
    write_sweep(sweep, {"forward": {0: 0.8, 1: 0.9}, "backward": {0: 0.85, 1: 0.86}}, lengths=[10])
    add_other_lengths(sweep, {"forward": {5: 0.7, 50: 0.6}, "backward": {5: 0.75, 50: 0.65}})
    drawn = {}
    real_draw = figures._draw_by_length

    def spy(*args):
        drawn["ax"] = real_draw(*args)
        return drawn["ax"]

    monkeypatch.setattr(figures, "_draw_by_length", spy)
    assert report.main([str(sweep), "--n-boot", N_BOOT]) == 0
    by_length = pd.read_csv(sweep / "report" / "by_length.csv")
    assert by_length[["length", "trained"]].values.tolist() == [[5, False], [10, True], [50, False]] * 2
    ax = drawn["ax"]
    # the training length shaded, lengths over a factor of ten on a log axis, the baseline at every length
    (span,) = [patch for patch in ax.patches if patch.get_label() == "trained on"]
    assert span.get_x() == pytest.approx(9.5) and span.get_width() == pytest.approx(1.0)
    assert ax.get_xscale() == "log"
    (line,) = [line for line in ax.get_lines() if line.get_label() == "position-and-length"]
    assert line.get_xdata().tolist() == [5, 10, 50]
    text = (sweep / "report" / "report.md").read_text()
    assert "| backward | 50 | no | 2 |" in text and "Outside the training lengths (length 10)" in text


def test_an_absent_baseline_falls_back_with_a_warning(tmp_path):
    sweep = tmp_path / "sweep"
    write_sweep(sweep, {"bidirectional-sum": {0: 0.9, 1: 0.9}, "backward": {0: 0.8, 1: 0.85}})
    assert report.main([str(sweep), "--n-boot", N_BOOT, "--baseline", "forward"]) == 0
    comparisons = pd.read_csv(sweep / "report" / "comparisons.csv")
    assert set(comparisons["other"]) == {"backward"}
    text = (sweep / "report" / "report.md").read_text()
    assert "Warning: baseline variant 'forward' has no usable runs" in text


def test_runs_that_disagree_on_data_settings_are_flagged(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_sweep(first, {"forward": {0: 0.8, 1: 0.82}})
    write_sweep(second, {"backward": {0: 0.8, 1: 0.82}}, threshold=0.5)
    out = tmp_path / "out"
    assert report.main([str(first), str(second), "--n-boot", N_BOOT, "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "disagree on data settings" in text
    assert "The runs use more than one data setting: compare each row with its own setting's baselines." in text
    assert f"{baselines.position_only_accuracy(0.5, 10):.4f}" in text and "0.8892" in text


class TestCommandLine:
    def test_no_runs_is_one_line_and_exit_2(self, tmp_path):
        (tmp_path / "empty").mkdir()
        finished = run_report("empty", cwd=tmp_path)
        assert finished.returncode == 2
        assert finished.stderr.splitlines() == [f"{NO_RUNS} empty"]

    def test_missing_sweep_folder_is_one_line_and_exit_2(self, tmp_path):
        finished = run_report("outputs/multirun/x", cwd=tmp_path)
        assert finished.returncode == 2
        assert finished.stderr.splitlines() == ["bench.report: sweep folder not found: outputs/multirun/x"]

    def test_no_sweep_under_the_default_root(self, tmp_path):
        finished = run_report(cwd=tmp_path)
        assert finished.returncode == 2
        assert len(finished.stderr.splitlines()) == 1 and "outputs/multirun" in finished.stderr

    def test_only_broken_jobs_warns_per_file_then_fails_with_exit_2(self, tmp_path):
        add_problem_jobs(tmp_path / "broken")
        finished = run_report("broken", cwd=tmp_path)
        assert finished.returncode == 2
        assert "Traceback" not in finished.stderr
        lines = finished.stderr.splitlines()
        assert lines[-1] == f"{NO_RUNS} broken"
        assert any("broken/5/metrics.csv" in line for line in lines[:-1])

    def test_default_sweep_is_the_latest_under_outputs_multirun(self, tmp_path):
        root = tmp_path / "outputs" / "multirun"
        write_sweep(root / "old", {"forward": {0: 0.8, 1: 0.9}})
        write_sweep(root / "new", {"backward": {0: 0.8, 1: 0.9}})
        for path in (root / "old").rglob("*"):
            os.utime(path, (1_000_000_000, 1_000_000_000))
        finished = run_report("--n-boot", N_BOOT, cwd=tmp_path)
        assert finished.returncode == 0, finished.stderr
        assert (root / "new" / "report" / "report.md").is_file()
        assert not (root / "old" / "report").exists()

    def test_report_never_imports_tensorflow(self, sweep_report, tmp_path):
        sweep, _, _, _ = sweep_report
        arguments = [str(sweep), "--n-boot", "50", "--out", str(tmp_path)]
        script = (
            "import sys\n"
            "from bench.report import main\n"
            f"assert main({json.dumps(arguments)}) == 0\n"
            "frameworks = {'tensorflow', 'keras', 'jax', 'torch'}\n"
            "loaded = sorted({name.split('.')[0] for name in sys.modules} & frameworks)\n"
            "print(loaded)\n"
            "sys.exit(1 if loaded else 0)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-c", script]
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stdout + finished.stderr


# The modules that train; every other module of the package is analysis side and never loads a framework.
TRAINING_MODULES = {"bench.compiled", "bench.engines", "bench.keras_model", "bench.models", "bench.perf", "bench.run"}


def test_analysis_modules_never_import_tensorflow():
    import bench

    modules = sorted({f"bench.{module.name}" for module in pkgutil.iter_modules(bench.__path__)} - TRAINING_MODULES)
    assert {"bench.collect", "bench.stats", "bench.plots", "bench.report"} <= set(modules)
    script = (
        "import importlib, sys\n"
        "frameworks = {'tensorflow', 'keras', 'jax', 'torch'}\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    loaded = sorted({module.split('.')[0] for module in sys.modules} & frameworks)\n"
        "    if loaded:\n"
        "        sys.exit(f'{name} loads {loaded}')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    finished = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stdout + finished.stderr


def test_a_baseline_named_with_its_settings_stands_in_for_its_plain_name():
    from bench.analysis import choose_baseline

    variants = ["forward [learning_rate=0.001]", "forward [learning_rate=0.01]", "backward [learning_rate=0.001]"]
    chosen, note = choose_baseline(variants, "forward")
    assert chosen == "forward [learning_rate=0.001]" and "settings" in note
    assert choose_baseline(["backward", "forward"], "forward") == ("forward", None)
    fallback, note = choose_baseline(["bidirectional-sum", "backward"], "forward")
    assert fallback == "backward" and "no usable runs" in note


def test_a_sweep_of_one_seed_per_variant_is_reported_with_intervals_marked_unavailable(tmp_path):
    # n_seeds=1 is the default, so `bench.run -m model=...` then `bench.report` must work on it
    sweep = tmp_path / "sweep"
    write_sweep(sweep, {"forward": {0: 0.93}, "bidirectional-sum": {0: 0.95}, "backward": {0: 0.89}})
    assert report.main([str(sweep), *LAST_ONLY]) == 0
    summary = pd.read_csv(sweep / "report" / "summary.csv").set_index("variant")
    assert summary.loc["bidirectional-sum", "final_accuracy_mean"] == pytest.approx(0.95)
    assert summary["final_accuracy_low"].isna().all()
    for figure in ("heldout_accuracy.png", "final_accuracy.png"):
        assert (sweep / "report" / figure).stat().st_size > 0
    findings = (sweep / "report" / "report.md").read_text().split("## Summary")[0]
    assert "interval containing it" not in findings
    assert "no interval to place (fewer than 2 seeds): forward, backward, bidirectional-sum" in findings
