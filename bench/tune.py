"""Each variant at its own tuned learning rate: ``python -m bench.tune SEARCH_DIR [--seeds 10] [--epochs 1000]
[--launcher basic]``.

Reads the learning-rate search that ``python -m bench.run -m experiment=tuning_search`` wrote into SEARCH_DIR,
chooses each variant's rate (:mod:`bench.tuning` states the protocol and the rule), runs the final seeds at the
default rate and at each variant's chosen rate (``bench.run`` sweeps, each resumed when run again), and writes
into ``outputs/multirun/tuned-<seeds>seeds-<epochs>epochs/``:

- ``search.csv``: validation accuracy per variant and rate, and the choices;
- ``default/`` and ``tuned/<variant>/``: the final runs; ``report-default/`` and ``report-tuned/``: their reports;
- ``tuned.md``: the two comparisons side by side, with the chosen rate per variant.

Exit status: 0 done; 2 a search that breaks the protocol (one line saying how); otherwise that of the sweep that
failed.
"""

# ruff: noqa: E402 - the libraries are imported after the signal handlers that cover their loading
from __future__ import annotations

import signal
import sys

from bench.loading import SIGNALS, end_at_once_on_signals

PROG = "bench.tune"

if __name__ == "__main__":
    end_at_once_on_signals(lambda name: f"{PROG}: interrupted by {name}")

import argparse
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bench import plots
from bench.analysis import Options, analyse
from bench.collect import collect
from bench.document import Heading, Image, Paragraph, Table, format_interval, render_markdown
from bench.findings import findings
from bench.intervals import N_BOOT
from bench.report import write_report
from bench.stats import LAST_K
from bench.tuning import (
    DEFAULT_LEARNING_RATE,
    SEARCH_FIRST_SEED,
    TuningError,
    check_disjoint,
    chosen_rates,
    search_table,
    side_by_side,
)

FIGURE = "tuned_comparison.png"


def final_folder(seeds: int, epochs: int) -> Path:
    """The folder of the final runs and their reports, named after their size."""
    return Path("outputs/multirun") / f"tuned-{seeds}seeds-{epochs}epochs"


def _sweep(overrides: list[str]) -> None:
    """Runs one ``bench.run`` sweep; raises SystemExit with its status when it fails.

    The sweep runs in a session of its own, and SIGINT and SIGTERM are passed on to it (SIGHUP as SIGTERM, which
    it handles): it records its jobs as interrupted and ends, then so does this command, with the sweep's status
    (130 or 143). A signal that reaches a sweep already ending well stops this command all the same
    (KeyboardInterrupt), before the next sweep.
    """
    print(f"{PROG}: python -m bench.run -m {' '.join(overrides)}", flush=True)
    sweep: subprocess.Popen | None = None
    received: list[int] = []
    pending: list[int] = []  # those that came while the sweep was starting

    def pass_on(signum: int, _frame: object) -> None:
        received.append(signal.SIGTERM if signum == signal.SIGHUP else signum)
        if sweep is None:
            pending.append(received[-1])
        else:
            sweep.send_signal(received[-1])

    previous = {signum: signal.signal(signum, pass_on) for signum in (*SIGNALS, signal.SIGHUP)}
    try:
        sweep = subprocess.Popen([sys.executable, "-m", "bench.run", "-m", *overrides], start_new_session=True)
        for signum in pending:
            sweep.send_signal(signum)
        status = sweep.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if status != 0:
        status = 128 - status if status < 0 else status  # -N: ended by signal N, as a shell says it
        print(f"{PROG}: the sweep above ended with exit status {status}", file=sys.stderr)
        raise SystemExit(status)
    if received:
        raise KeyboardInterrupt(signal.Signals(received[0]).name)


def run_finals(
    rates: dict[str, float], seeds: int, epochs: int, folder: Path, launcher: str = "basic"
) -> dict[str, list[Path]]:
    """Runs every variant at the default rate and each at its chosen one (a variant whose choice is the default
    rate reuses its default run), with Hydra's ``launcher`` preset; returns the folders of each comparison."""
    size = [f"n_seeds={seeds}", "seed=0", f"train.epochs={epochs}", f"hydra/launcher={launcher}"]
    _sweep(["experiment=all", *size, f"hydra.sweep.dir={folder / 'default'}"])
    tuned = []
    default_runs = collect([folder / "default"]).runs.set_index("variant")["run_dir"]
    for variant, rate in rates.items():
        if rate == DEFAULT_LEARNING_RATE:
            tuned.append(Path(default_runs[variant]))
            continue
        target = folder / "tuned" / variant
        config = variant.replace("-", "_")
        _sweep([f"model={config}", f"train.learning_rate={rate:g}", *size, f"hydra.sweep.dir={target}"])
        tuned.append(target)
    return {"default": [folder / "default"], "tuned": tuned}


def _draw(table, ax_width: float):
    ax = plots.new_axes(width=ax_width, height=4.5)[0]
    for offset, name, marker in ((-0.12, "default", "o"), (0.12, "tuned", "s")):
        positions = [i + offset for i in range(len(table))]
        means = table[f"{name}_mean"]
        errors = [means - table[f"{name}_low"], table[f"{name}_high"] - means]
        label = f"learning rate {DEFAULT_LEARNING_RATE:g}" if name == "default" else "its chosen learning rate"
        ax.errorbar(positions, means, yerr=errors, fmt=marker, capsize=3, label=label)
    ax.set_xticks(range(len(table)), table["variant"])
    plots.tilt_labels(ax)
    ax.set(ylabel="final held-out accuracy")
    plots.legend_outside(ax, title=None, below=True)
    return ax


def write_comparison(folder: Path, search, reports: dict[str, Path], options: Options) -> Path:
    """Writes tuned.md: the protocol, the search, and the two comparisons side by side."""
    analyses = {name: analyse(collect(dirs), options) for name, dirs in reports.items()}
    table = side_by_side(analyses["default"], analyses["tuned"], search)
    method = analyses["default"].method
    image = plots.save(_draw(table, max(6.0, 0.9 * len(table) + 2)), folder / FIGURE)
    rows = [
        [
            row.variant,
            f"{row.chosen_learning_rate:g}",
            format_interval(row.default_mean, row.default_low, row.default_high),
            format_interval(row.tuned_mean, row.tuned_low, row.tuned_high),
            format_interval(row.difference_mean, row.difference_low, row.difference_high, 4),
        ]
        for row in table.itertuples()
    ]
    search_rows = [
        [
            row.variant,
            f"{row.learning_rate:g}",
            str(row.n_seeds),
            format_interval(row.validation_accuracy_mean, row.validation_accuracy_low, row.validation_accuracy_high),
            "yes" if row.chosen else "",
        ]
        for row in search.itertuples()
    ]
    blocks = [
        Heading("Each variant at its own learning rate"),
        Paragraph(
            f"Search: each variant at each learning rate of the grid on seeds from {SEARCH_FIRST_SEED} on, scored on "
            "the validation set, whose sequences come from streams no held-out set uses. Choice: the rate with the "
            f"highest mean validation accuracy over the search seeds (each seed's mean of its last "
            f"{options.last_k} evaluations), the smaller rate on a tie; no held-out number enters it. Final: "
            f"fresh seeds at learning rate {DEFAULT_LEARNING_RATE:g} and at each variant's chosen rate, on the "
            "held-out set."
        ),
        Heading("Side by side", 3),
        Paragraph(
            f"Final held-out accuracy (mean of the last {options.last_k} evaluations), {method.describe()} over "
            "seeds; the difference is tuned minus default, paired by seed."
        ),
        Table(
            ["variant", "chosen learning rate", f"at {DEFAULT_LEARNING_RATE:g}", "at its chosen rate", "difference"],
            rows,
        ),
        Image(
            image,
            "Final held-out accuracy per variant at the default and at its chosen learning rate, "
            f"{method.describe()} over seeds.",
        ),
    ]
    for name, title in (("default", f"At learning rate {DEFAULT_LEARNING_RATE:g}"), ("tuned", "At tuned rates")):
        # the findings' highest mean and what it beats, as report-<name>/report.md words them (its pairwise table
        # is there too)
        best, verdict = findings(analyses[name])[1:3]
        verdict = verdict.split(" Its difference from each")[0]
        blocks += [Heading(title, 3), Paragraph(f"{best} {verdict} (report-{name}/report.md)")]
    blocks += [
        Heading("The search", 3),
        Table(["variant", "learning rate", "seeds", "validation accuracy", "chosen"], search_rows),
    ]
    path = folder / "tuned.md"
    path.write_text(render_markdown(blocks), encoding="utf-8")
    return path


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line's arguments."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("search_dir", type=Path, help="the folder experiment=tuning_search wrote")
    parser.add_argument("--seeds", type=int, default=10, help="final seeds 0 .. SEEDS-1 (default 10)")
    parser.add_argument("--epochs", type=int, default=1000, help="epochs of the final runs (default 1000)")
    parser.add_argument("--last-k", type=int, default=LAST_K, help=f"evaluations 'final' averages (default {LAST_K})")
    parser.add_argument("--n-boot", type=int, default=N_BOOT, help=f"bootstrap resamples (default {N_BOOT})")
    parser.add_argument(
        "--launcher",
        default="basic",
        help="Hydra's launcher for the final sweeps: basic (one job after another), parallel (two at a time), or "
        "another preset in conf/hydra/launcher (default basic)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = parse_args(argv)
    options = Options(last_k=args.last_k, n_boot=args.n_boot)
    try:
        if args.seeds < 1 or args.epochs < 1 or args.last_k < 1:
            raise TuningError("--seeds, --epochs and --last-k must be whole numbers >= 1")
        search_runs = collect([args.search_dir])
        if search_runs.metrics.empty:
            raise TuningError(f"no completed runs under {args.search_dir}")
        search = search_table(search_runs, options.method, args.last_k)
        check_disjoint(search_runs.metrics["seed"], range(args.seeds))
    except (TuningError, FileNotFoundError) as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    folder = final_folder(args.seeds, args.epochs)
    folder.mkdir(parents=True, exist_ok=True)
    search.to_csv(folder / "search.csv", index=False)
    rates = chosen_rates(search)
    for variant, rate in rates.items():
        print(f"{PROG}: {variant}: learning rate {rate:g}")
    reports = run_finals(rates, args.seeds, args.epochs, folder, args.launcher)
    for name, dirs in reports.items():
        write_report(dirs, folder / f"report-{name}", options)
    print(f"{PROG}: wrote {write_comparison(folder, search, reports, options)}")
    return 0


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


if __name__ == "__main__":
    for _signum in SIGNALS:
        signal.signal(_signum, _interrupt)
    try:
        status = main()
    except KeyboardInterrupt as interruption:
        # finished sweeps and reports are kept (each report is replaced whole); the same command goes on from them
        name = str(interruption) or "SIGINT"
        print(f"{PROG}: interrupted by {name}; run the same command again to go on", file=sys.stderr)
        status = 128 + signal.Signals[name]
    sys.exit(status)
