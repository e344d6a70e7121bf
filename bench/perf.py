"""Speed benchmark: ``python -m bench.perf [--quick] [--out outputs/bench/perf.csv] [overrides...]``.

Runs, in one process and one go, bidirectional concat on 10 steps with: the reference engine (the original
one-fit-per-epoch loop), the compiled engine with one seed, packed seeds (10 and 100), and a variable-length pair
(fixed 20 steps vs lengths 5-20). For each it reports the time from start to the first epoch done (building and
compiling included), the steady milliseconds per seed-epoch, the whole run's wall time, the process's peak
resident memory so far, and the speedup over the reference engine's steady time per epoch.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pandas as pd  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402

from bench.engines import Recorder, Timings, train  # noqa: E402
from bench.schema import register_configs, seeds_of, validate  # noqa: E402

CONF = Path(__file__).resolve().parents[1] / "conf"

# (row name, overrides); the reference engine runs first since every speedup is relative to it.
CASES = [
    ("reference loop", ["engine=reference", "train.epochs=200"]),
    ("compiled, 1 seed", []),
    ("packed, 10 seeds", ["n_seeds=10"]),
    ("packed, 100 seeds", ["n_seeds=100"]),
    ("compiled, 20 steps", ["data.n_timesteps=20"]),
    ("compiled, 5-20 steps", ["data.min_timesteps=5", "data.max_timesteps=20"]),
]
COMMON = ["model=bidirectional_concat", "train.epochs=1000", "train.eval_every=100", "seed=0"]


def measure(name: str, overrides: list[str]) -> dict:
    """Runs one case and returns its row (columns as in :data:`COLUMNS`)."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("config", overrides=[*COMMON, *overrides])
    validate(cfg)
    seeds = seeds_of(cfg)
    timings = Timings()
    started = time.perf_counter()
    train(cfg, Recorder(cfg, seeds), timings, lambda done, total: None)
    wall = time.perf_counter() - started
    per_epoch = timings.ms_per_epoch
    per_seed_epoch = per_epoch / len(seeds) if cfg.engine.name == "fast" else per_epoch
    return {
        "case": name,
        "engine": cfg.engine.name,
        "seeds": len(seeds),
        "epochs": cfg.train.epochs,
        "steps": f"{cfg.data.min_timesteps}-{cfg.data.max_timesteps}",
        "first_epoch_s": timings.startup_s,
        "ms_per_epoch": per_epoch,
        "ms_per_seed_epoch": per_seed_epoch,
        "eval_s": timings.eval_s,
        "wall_s": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def tracking_cost(overrides: list[str]) -> str:
    """Seconds each tracker takes to log one finished job folder, next to the job's training time.

    Tracking runs after a job has written its folder, so this is all it adds to a job; training is untouched.
    """
    import tempfile

    from bench import store, tracking
    from bench.schema import config_hash, to_plain, variant_name

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        cfg = compose("config", overrides=[*COMMON, "n_seeds=10", "tracking=[mlflow,tensorboard]", *overrides])
    validate(cfg)
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


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="outputs/bench/perf.csv", help="where the table is written as CSV")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and seeds, to try the benchmark out")
    parser.add_argument("overrides", nargs="*", help="config overrides applied to every case, e.g. device=gpu")
    args = parser.parse_args(argv)
    register_configs()
    extra = list(args.overrides)
    if args.quick:
        extra += ["train.epochs=200", "train.eval_every=50"]
    rows = []
    for name, overrides in CASES:
        if args.quick and "n_seeds=100" in overrides:
            continue
        quick_reference = ["train.epochs=50"] if args.quick and name == "reference loop" else []
        rows.append(measure(name, [*overrides, *extra, *quick_reference]))
        print(f"measured {name}: {rows[-1]['ms_per_seed_epoch']:.4f} ms per seed-epoch", flush=True)
    table = pd.DataFrame(rows)
    table["speedup"] = table["ms_per_seed_epoch"].iloc[0] / table["ms_per_seed_epoch"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
        print(table.drop(columns=["engine"]).to_string(index=False))
    print(f"written to {out}")
    if not args.quick:
        print(tracking_cost(extra), flush=True)
    return table


if __name__ == "__main__":
    main()
