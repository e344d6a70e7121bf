"""Speed benchmark: ``python -m bench.perf [--quick] [--out outputs/bench] [--skip-commands] [overrides...]``.

Measures, in one run, what a user waits for, and writes one CSV per table to ``--out``:

- ``commands.csv``: wall time of whole commands, each a subprocess into a temporary folder that starts with an
  empty compilation cache: the mission's sweep (``-m model.merge=sum,mul,concat,ave seed=0,1,2``, 12 jobs of one
  seed), ``make sweep``'s sweep (every variant, 10 packed seeds, two jobs at a time) and its report, and the same
  sweep again into a new folder, so that every job finds its functions in the cache. ``startup_s`` is the median
  over its jobs; ``compiled`` counts the executables the command added to its cache.
- ``marginal.csv``: the whole-process cost per seed-epoch, held-out scoring included: the wall time of a run of
  10 packed seeds at 5000 epochs minus the same at 500, over the 4500 x 10 seed-epochs between them.
- ``lengths.csv``: both engines at 10 to 1000 steps, one seed (the reference loop with few epochs): compile time
  (the compiled engine's first calls: tracing, compiling and one call's work), start-up, steady milliseconds
  per epoch, held-out scoring time and wall time.
- ``forms.csv``: the recurrence unrolled against the compiled loop over time at short lengths (the crossover).
- ``packed.csv``: 10 and 100 packed seeds and variable lengths, bidirectional concat at 10 steps.

Then it prints what tracking (MLflow and TensorBoard) adds to a job of 10 seeds, next to that job's training time.
Runs in this process use no compilation cache, so their compile times are real; each case compiles functions
of its own shapes. Config overrides (e.g. ``device=gpu``) apply to them. ``--quick`` runs every table small, to
try the benchmark out.
"""

# ruff: noqa: E402 - as a command, the libraries are imported after the signal handlers that cover their loading
from __future__ import annotations

from bench.loading import end_at_once_on_signals, interrupted

if __name__ == "__main__":
    end_at_once_on_signals(lambda name: f"bench.perf: {interrupted(name)}")

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd
from hydra import compose, initialize_config_dir

from bench import signals
from bench.compiled import forget_compiled
from bench.engines import Recorder, Timings, train
from bench.schema import register_configs, seeds_of, validate

CONF = Path(__file__).resolve().parents[1] / "conf"
MISSION = ["-m", "model.merge=sum,mul,concat,ave", "seed=0,1,2"]
# as `make sweep` runs it: two jobs at a time (the Makefile's LAUNCHER)
SWEEP = ["-m", "experiment=all", "n_seeds=10", "train.epochs=1000", "hydra/launcher=parallel"]
QUICK_MISSION = ["-m", "model.merge=sum,mul", "seed=0", "train.epochs=50"]
QUICK_SWEEP = ["-m", "model=forward,bidirectional_sum", "n_seeds=2", "train.epochs=50"]
ONE_SEED = ["model=bidirectional_concat", "seed=0", "runtime.compile_cache=null"]


def compose_case(overrides: list[str]):
    """The validated config of one measured case: one seed unless the overrides say otherwise."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("config", overrides=[*ONE_SEED, *overrides])
    validate(cfg)
    return cfg


def measure(name: str, overrides: list[str]) -> dict:
    """Trains one case in this process and returns its row (seconds and milliseconds, and peak memory)."""
    cfg = compose_case(overrides)
    seeds = seeds_of(cfg)
    timings = Timings()
    forget_compiled()
    started = time.perf_counter()
    train(cfg, Recorder(cfg, seeds), timings, lambda done, total: None)
    return {
        "case": name,
        "engine": cfg.engine.name,
        "seeds": len(seeds),
        "epochs": cfg.train.epochs,
        "steps": f"{cfg.data.min_timesteps}-{cfg.data.max_timesteps}",
        "compile_s": timings.compile_s,
        "startup_s": timings.startup_s,
        "ms_per_epoch": timings.ms_per_epoch,
        "ms_per_seed_epoch": timings.ms_per_seed_epoch,
        "eval_s": timings.eval_s,
        "wall_s": time.perf_counter() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_command(module: str, *args: str) -> float:
    """Runs ``python -m module args`` and returns its wall time; a failure stops the benchmark with its output.

    Stopped itself, the benchmark stops the command as SIGTERM does, so that a sweep's workers have ended before
    the scratch folder is removed; one that has not ended within a minute is killed.
    """
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", module, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as command:
        try:
            _, stderr = command.communicate()
        except KeyboardInterrupt:
            command.terminate()
            try:
                command.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                command.kill()
            raise
    wall = time.perf_counter() - started
    if command.returncode != 0:
        raise SystemExit(f"bench.perf: python -m {module} {' '.join(args)} failed:\n{stderr[-3000:]}")
    return wall


def job_startups(sweep: Path) -> list[float]:
    """The start-up seconds of every job of a sweep folder, from their run.json."""
    return [json.loads(path.read_text())["startup_s"] for path in sorted(sweep.glob("*/run.json"))]


def commands(scratch: Path, quick: bool) -> pd.DataFrame:
    """The wall time of whole commands, each starting with an empty compilation cache (see the module doc)."""
    mission = QUICK_MISSION if quick else MISSION
    sweep = QUICK_SWEEP if quick else SWEEP
    rows = []

    def timed(name: str, folder: str, arguments: list[str], cache: str) -> None:
        overrides = [f"hydra.sweep.dir={scratch / folder}", f"runtime.compile_cache={scratch / cache}"]
        cached_before = len(list((scratch / cache).rglob("*.pb")))
        wall = run_command("bench.run", *arguments, *overrides)
        startups = job_startups(scratch / folder)
        rows.append(
            {
                "command": name,
                "arguments": " ".join(arguments),
                "jobs": len(startups),
                "wall_s": wall,
                "startup_s": statistics.median(startups),
                "cache": cache,
                "cached_before": cached_before,
                "compiled": len(list((scratch / cache).rglob("*.pb"))) - cached_before,
            }
        )
        print(f"measured {name}: {wall:.1f} s", flush=True)

    timed("mission", "mission", mission, "cache-mission")
    timed("make sweep", "sweep", sweep, "cache-sweep")
    started = time.perf_counter()
    run_command("bench.report", str(scratch / "sweep"))
    report = ["bench.report", str(scratch / "sweep")]
    rows.append(
        {"command": "report", "arguments": " ".join(report), "jobs": 0, "wall_s": time.perf_counter() - started}
    )
    timed("make sweep again", "sweep-again", sweep, "cache-sweep")
    return pd.DataFrame(rows)


def marginal(scratch: Path, quick: bool) -> pd.DataFrame:
    """Whole-process milliseconds per seed-epoch between a short and a long run of 10 packed seeds."""
    short, long = (50, 500) if quick else (500, 5000)
    cache = f"runtime.compile_cache={scratch / 'cache-marginal'}"
    # A first run fills the cache, so that neither measured run compiles.
    run_command("bench.run", "n_seeds=10", "train.epochs=1", f"hydra.run.dir={scratch / 'warm-up'}", cache)
    walls = {
        epochs: run_command(
            "bench.run", "n_seeds=10", f"train.epochs={epochs}", f"hydra.run.dir={scratch / str(epochs)}", cache
        )
        for epochs in (short, long)
    }
    per_seed_epoch = 1000 * (walls[long] - walls[short]) / ((long - short) * 10)
    print(f"measured marginal cost: {per_seed_epoch:.4f} ms per seed-epoch", flush=True)
    return pd.DataFrame(
        [{"seeds": 10, "short_epochs": short, "long_epochs": long, **{f"wall_{e}_s": w for e, w in walls.items()}}]
    ).assign(ms_per_seed_epoch=per_seed_epoch)


def tracking_cost(overrides: list[str]) -> str:
    """Seconds each tracker takes to log one finished job folder, next to the job's training time.

    Tracking runs after a job has written its folder, so this is all it adds to a job; training is untouched.
    """
    from bench import store, tracking
    from bench.schema import config_hash, to_plain
    from bench.variants import variant_name

    cfg = compose_case(["n_seeds=10", "tracking=[mlflow,tensorboard]", *overrides])
    recorder, started = Recorder(cfg, seeds_of(cfg)), time.perf_counter()
    train(cfg, recorder, Timings(), lambda done, total: None)
    trained = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        job = Path(folder) / "0"
        record = {"status": store.COMPLETED, "variant": variant_name(cfg.model), "seeds": seeds_of(cfg)}
        record.update(config=to_plain(cfg), config_hash=config_hash(cfg), started_at="2026-01-01T00:00:00+00:00")
        store.write_results(job, recorder.metrics(), recorder.by_length())
        store.write_run(job, record)
        cfg.tracking.uri = f"sqlite:///{folder}/mlflow.db"
        tracking.start_sweep(cfg.tracking, Path(folder), "perf")  # creates the store's tables, once per store
        seconds = {}
        for name in tracking.enabled(cfg.tracking):
            only = cfg.tracking.copy()
            only.mlflow, only.tensorboard = name == "mlflow", name == "tensorboard"
            started = time.perf_counter()
            tracking.log_job(only, job, Path(folder))
            seconds[name] = time.perf_counter() - started
    logged = ", ".join(f"{name} {value:.2f} s" for name, value in seconds.items())
    return f"tracking a job of {cfg.n_seeds} seeds x {cfg.train.epochs} epochs: {logged}; its training {trained:.2f} s"


def in_process(quick: bool, overrides: list[str]) -> dict[str, pd.DataFrame]:
    """The lengths, forms and packed tables, every case trained in this process."""
    epochs = ["train.epochs=100"] if quick else ["train.epochs=1000"]

    def reference_epochs(steps: int) -> list[str]:
        # about a minute each: one fit call per epoch costs tens of milliseconds, more for long sequences
        return ["train.epochs=10", "train.eval_every=5"] if quick else [f"train.epochs={100 if steps <= 100 else 20}"]

    lengths = [10] if quick else [10, 50, 100, 500, 1000]
    cases = {
        "lengths": [
            *[(f"compiled, {n} steps", [f"data.n_timesteps={n}", *epochs]) for n in lengths],
            *[
                (f"reference, {n} steps", ["engine=reference", f"data.n_timesteps={n}", *reference_epochs(n)])
                for n in lengths
            ],
        ],
        "forms": [
            (f"{form}, {n} steps", [f"data.n_timesteps={n}", f"train.unroll_max_steps={limit}", *epochs])
            for n in ([5] if quick else [2, 5, 10, 20])
            for form, limit in (("unrolled", n), ("loop", 0))
        ],
        "packed": [(f"packed, {k} seeds", [f"n_seeds={k}", *epochs]) for k in ([1, 3] if quick else [1, 10, 100])]
        + [("variable, 5-20 steps", ["data.min_timesteps=5", "data.max_timesteps=20", *epochs])],
    }
    tables = {}
    for table, rows in cases.items():
        tables[table] = pd.DataFrame([measure(name, [*case, *overrides]) for name, case in rows])
        print(f"measured {table}", flush=True)
    return tables


def main(argv: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """``python -m bench.perf``: measures every table, writes each as CSV under ``--out`` and returns them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/bench", help="folder for the tables (CSV)")
    parser.add_argument("--quick", action="store_true", help="every table small, to try the benchmark out")
    parser.add_argument("--skip-commands", action="store_true", help="only the tables measured in this process")
    parser.add_argument("overrides", nargs="*", help="config overrides for the runs in this process, e.g. device=gpu")
    args = parser.parse_args(argv)
    register_configs()
    tables: dict[str, pd.DataFrame] = {}
    if not args.skip_commands:
        with tempfile.TemporaryDirectory(prefix="bench-perf-") as scratch:
            tables["commands"] = commands(Path(scratch), args.quick)
            tables["marginal"] = marginal(Path(scratch), args.quick)
    tables.update(in_process(args.quick, args.overrides))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with pd.option_context("display.width", 250, "display.max_colwidth", 90, "display.float_format", "{:.4g}".format):
        for name, table in tables.items():
            table.to_csv(out / f"{name}.csv", index=False)
            print(f"\n{name}\n{table.to_string(index=False)}")
    print(f"\nwritten to {out}/")
    if not args.quick:
        print(tracking_cost(args.overrides), flush=True)
    return tables


def _stop(signum: int, _frame: object) -> None:
    signals.ignore_from_now()  # the benchmark is stopping: a second signal must not cut its clean-up short
    raise signals.interruption(signum)


def cli() -> None:
    """Entry point: SIGINT or SIGTERM stop the benchmark with one line and exit 130 or 143, after stopping the
    command it is timing and removing its scratch folder (the tables are written once every one is measured)."""
    for signum in signals.SIGNALS:
        signal.signal(signum, _stop)
    try:
        main()
    except KeyboardInterrupt as interruption:
        print(f"bench.perf: {signals.describe(interruption)}", file=sys.stderr)
        sys.exit(signals.exit_code(interruption))


if __name__ == "__main__":
    cli()
