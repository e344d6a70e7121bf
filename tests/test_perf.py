"""The speed benchmark's tables: their rows and columns, and relations that hold in any run."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import psutil
import pytest

from bench import perf
from helpers.cli import alive
from helpers.configs import NO_XLA, QUICK

MEASURED = ["case", "engine", "seeds", "epochs", "steps", "compile_s", "startup_s", "ms_per_epoch"]
MEASURED += ["ms_per_seed_epoch", "eval_s", "wall_s", "peak_rss_mb"]


@pytest.mark.slow
def test_the_tables_measured_in_process_hold_every_case_and_the_compiled_engine_beats_the_loop(tmp_path):
    tables = perf.main(["--quick", "--skip-commands", "--out", str(tmp_path)])
    assert sorted(tables) == ["forms", "lengths", "packed"]
    for name in tables:
        assert pd.read_csv(tmp_path / f"{name}.csv").columns.tolist() == MEASURED
    lengths = tables["lengths"].set_index("case")
    assert lengths.index.tolist() == ["compiled, 10 steps", "reference, 10 steps"]
    compiled, reference = lengths.loc["compiled, 10 steps"], lengths.loc["reference, 10 steps"]
    assert compiled["ms_per_seed_epoch"] < reference["ms_per_seed_epoch"]
    every = pd.concat(tables.values(), ignore_index=True)
    fast = every["engine"] == "fast"
    # each case compiles its own functions; the reference loop compiles none of the compiled engine's
    assert (every.loc[fast, "compile_s"] > 0).all() and (every.loc[~fast, "compile_s"] == 0).all()
    assert (every["startup_s"] < every["wall_s"]).all()
    assert tables["forms"]["case"].tolist() == ["unrolled, 5 steps", "loop, 5 steps"]
    packed = tables["packed"].set_index("case").loc["packed, 3 seeds"]
    # packed seeds share each compiled step: a seed-epoch costs less than the reference loop's in the same run
    assert packed["seeds"] == 3 and packed["ms_per_seed_epoch"] < reference["ms_per_seed_epoch"]


@pytest.mark.slow
def test_whole_commands_are_timed_and_a_second_sweep_compiles_nothing(tmp_path):
    commands = perf.commands(tmp_path, quick=True).set_index("command")
    assert commands.index.tolist() == ["mission", "make sweep", "report", "make sweep again"]
    assert commands["jobs"].tolist() == [2, 2, 0, 2]
    first, again = commands.loc["make sweep"], commands.loc["make sweep again"]
    assert first["cached_before"] == 0 and first["compiled"] > 0
    # the same sweep into a new folder finds every function in the cache
    assert again["cached_before"] == first["compiled"] and again["compiled"] == 0
    # a command's wall time holds its jobs' start-up, measured inside them
    timed = commands.dropna(subset=["startup_s"])
    assert (timed["startup_s"] < timed["wall_s"]).all() and (tmp_path / "sweep" / "report" / "report.md").exists()
    marginal = perf.marginal(tmp_path, quick=True).iloc[0]
    assert (marginal["seeds"], marginal["short_epochs"], marginal["long_epochs"]) == (10, 50, 500)
    # the marginal cost leaves out what a process pays once, so it is below the long run's whole-process average
    average = 1000 * marginal["wall_500_s"] / (marginal["long_epochs"] * marginal["seeds"])
    assert marginal["ms_per_seed_epoch"] < average


def test_the_tracking_cost_names_each_tracker_next_to_the_training_time():
    line = perf.tracking_cost([*QUICK, NO_XLA])
    # the cost of tracking a finished job, which is all tracking adds
    assert line.startswith("tracking a job of 10 seeds x 20 epochs: mlflow ") and ", tensorboard " in line
    assert line.split("its training ")[1].endswith(" s")


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum, code, line", [(signal.SIGTERM, 143, "interrupted by SIGTERM"), (signal.SIGINT, 130, "interrupted")]
)
def test_a_signal_stops_the_benchmark_with_one_line_and_leaves_nothing_behind(tmp_path, signum, code, line):
    # it used to end in a traceback
    out = tmp_path / "tables"
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.perf", "--quick", "--out", str(out)],
        env={**os.environ, "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("bench-perf-*/mission")):  # the first command it times is running
            assert time.monotonic() < deadline and process.poll() is None, "the benchmark started no command"
            time.sleep(0.1)
        timed = psutil.Process(process.pid).children()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    # (TensorFlow's own start-up lines come before it)
    assert (process.returncode, stderr.strip().splitlines()[-1]) == (code, f"bench.perf: {line}")
    assert "Traceback" not in stderr
    assert not any(alive(command) for command in timed)
    assert not list(tmp_path.glob("bench-perf-*")) and not out.exists()
