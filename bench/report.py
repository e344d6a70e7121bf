"""The report command and the files it writes: ``python -m bench.report [SWEEP_DIR ...] [--out DIR] [options]``.

Reads every job folder of the sweeps (default: the most recently written sweep under outputs/multirun) and
writes to SWEEP_DIR/report/ (the first sweep's, or --out DIR):

- results.csv: every row of every readable metrics.csv, plus run_dir (usable or not; runs.csv and
  problems.csv say which seeds were used);
- runs.csv (one row per job folder), seeds.csv (per-seed outcomes), problems.csv (left-out jobs and seeds);
- summary.csv (one row per variant), pairwise.csv (every pair of variants on final held-out accuracy and loss,
  paired by seed), comparisons.csv (the pairs with the baseline variant, as variant minus baseline),
  ranking.csv, by_length.csv (when the held-out set has more than one sequence length);
- PNG figures, report.md, and report.html (the same content with the figures embedded).

Every file is written into a temporary folder beside the report folder, which then replaces the old report whole
(:mod:`bench.report_folder`), so a report cut short by a kill leaves the previous report as it was.

Exit status 0 on success; with one line on stderr, 2 when there is nothing to report (no usable run, a sweep
folder missing or unreadable) or an option is wrong, 1 when a file cannot be written, 130 on Ctrl-C and 143 on
SIGTERM.
"""

# ruff: noqa: E402 - the libraries are imported after the signal handlers that cover their loading
from __future__ import annotations

import signal
import sys

from bench.loading import SIGNALS, end_at_once_on_signals

PROG = "bench.report"

if __name__ == "__main__":
    # loading pandas, scipy and matplotlib takes seconds: a Ctrl-C then ends with one line too, not a traceback
    end_at_once_on_signals(lambda name: f"{PROG}: interrupted by {name}; the report was not written")

import argparse
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import pandas as pd

from bench import plots
from bench.analysis import Options, analyse
from bench.collect import collect
from bench.document import Image, render_html, render_markdown
from bench.figures import figure_specs
from bench.intervals import METHODS
from bench.report_folder import NotAReport, replacing
from bench.sections import build_document
from bench.sweeps import find_latest_sweep
from bench.variants import CONFIG_VARIANTS, VARIANTS, as_variant

DEFAULT_ROOT = Path("outputs/multirun")
REPORT_DIR = "report"
# a 95% bootstrap-t bound is the 2.5% order statistic: it needs at least 40 resamples to exist
MIN_RESAMPLES = 40

log = logging.getLogger(PROG)


class ReportError(Exception):
    """Nothing to report; the message is the one line printed on stderr."""


def write_report(
    sweep_dirs: Sequence[Path], out_dir: Path, options: Options, before_swap: Callable[[], None] = lambda: None
) -> Path:
    """Reads the sweeps, computes the tables, and writes every report file into ``out_dir``.

    ``before_swap`` is called once every file is written, just before the new report replaces the old one; an
    exception it raises leaves the old report in place.

    Returns:
        The path of report.md.

    Raises:
        ReportError: a sweep folder is missing or cannot be read, no job has a usable seed, or ``out_dir`` holds
            other files than a report's.
        OSError: a report file cannot be written; the old report is left as it was.
    """
    try:
        collection = collect(sweep_dirs)
    except FileNotFoundError as error:
        raise ReportError(str(error)) from error
    except OSError as error:  # a sweep folder that cannot be listed; a job folder is only skipped
        raise ReportError(f"cannot read {error.filename}: {error.strerror or error}") from error
    if collection.metrics.empty:
        where = ", ".join(str(sweep) for sweep in sweep_dirs)
        raise ReportError(f"no completed runs with metrics.csv under {where}")
    analysis = analyse(collection, options)
    if analysis.baseline_note:
        log.warning("%s", analysis.baseline_note)

    tables = {
        "results.csv": collection.results,
        "runs.csv": collection.runs,
        "problems.csv": collection.problems,
        "seeds.csv": analysis.outcomes,
        "summary.csv": analysis.summary,
        "pairwise.csv": pd.concat(analysis.pairs.values(), ignore_index=True),
        "comparisons.csv": analysis.comparisons,
        "ranking.csv": analysis.ranking.table,
    }
    if not analysis.by_length.empty:
        tables["by_length.csv"] = analysis.by_length
    try:
        with replacing(out_dir) as staging:
            for name, table in tables.items():
                table.to_csv(staging / name, index=False)
            images = [
                Image(plots.save(spec.draw(), staging / spec.name), spec.caption) for spec in figure_specs(analysis)
            ]
            blocks = build_document(analysis, sweep_dirs, images)
            (staging / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
            (staging / "report.html").write_text(render_html(blocks, title="Benchmark report"), encoding="utf-8")
            before_swap()
    except NotAReport as error:
        raise ReportError(str(error)) from error
    return out_dir / "report.md"


# ----------------------------------------------------------------------------------------------------------
# Command line


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _whole_number(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text}")
        return value

    return parse


def _variant(text: str) -> str:
    """A variant named by its variant name or its config name (bidirectional_concat), as its variant name."""
    name = as_variant(text)
    if name not in VARIANTS:
        choices = ", ".join(VARIANTS)
        spellings = ", ".join(name for name in CONFIG_VARIANTS if name not in VARIANTS)
        raise argparse.ArgumentTypeError(f"{text!r} is not a variant: one of {choices} (or {spellings})")
    return name


class _Parser(argparse.ArgumentParser):
    """Bad arguments end with one line naming the option and what is allowed (--help shows the usage)."""

    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: {message}", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The report's command-line options; defaults from :class:`Options`."""
    defaults = Options()
    parser = _Parser(prog=f"python -m {PROG}", description="Report of finished sweeps.")
    parser.add_argument(
        "sweep_dirs",
        nargs="*",
        type=Path,
        metavar="SWEEP_DIR",
        help=f"sweep folders to read (default: the most recently written sweep under {DEFAULT_ROOT})",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: SWEEP_DIR/report)")
    options = (
        ("--baseline", _variant, "VARIANT", defaults.baseline, "variant the others are compared against"),
        ("--level", _fraction, "ACCURACY", defaults.level, "held-out accuracy for epochs-to-level"),
        ("--window", _whole_number(1), "N", defaults.window, "epochs in the training-curve rolling mean"),
        ("--last-k", _whole_number(1), "K", defaults.last_k, "final = mean of the last K held-out evaluations"),
        (
            "--n-boot",
            _whole_number(MIN_RESAMPLES),
            "N",
            defaults.n_boot,
            "bootstrap resamples (ranking, bootstrap-t intervals)",
        ),
        ("--seed", _whole_number(0), "N", defaults.seed, "bootstrap seed"),
    )
    for flag, kind, metavar, default, text in options:
        described = f"{text} (default: {default})"
        parser.add_argument(flag, type=kind, metavar=metavar, default=default, help=described)
    parser.add_argument(
        "--interval",
        choices=METHODS,
        default=defaults.interval,
        help=f"interval of means and paired differences (default: {defaults.interval})",
    )
    return parser.parse_args(argv)


class _Stopping:
    """Where the command is when SIGINT or SIGTERM arrives: reporting, holding (the new report is being put in
    place) or done (it has said how it ended); and the first signal that came."""

    phase = "reporting"
    received: int | None = None


def _on_signal(signum: int, frame: object) -> None:
    """While reporting, raises KeyboardInterrupt, at every signal; while the new report is put in place, only
    remembers the signal; once the command has said how it ended, does nothing.

    The signal is remembered from the first: a KeyboardInterrupt that a library swallows, or turns into another
    error, still stops the report before it replaces the old one (:func:`_hold_signals`).
    """
    if _Stopping.phase == "done":
        return
    _Stopping.received = _Stopping.received or signum
    if _Stopping.phase == "reporting":
        raise KeyboardInterrupt(signal.Signals(signum).name)


def _hold_signals() -> None:
    """From here until the report is in place signals wait; one that came earlier stops the report now.

    A flag, not the thread's signal mask: the libraries' threads would take a blocked signal, and Python would
    still run the handler in this one.
    """
    _Stopping.phase = "holding"
    if _Stopping.received:
        raise KeyboardInterrupt(signal.Signals(_Stopping.received).name)


def main(argv: Sequence[str] | None = None, on_signals: bool = False) -> int:
    """Runs the command line; returns the exit status.

    With ``on_signals`` (``python -m bench.report``), SIGINT and SIGTERM stop the report with one line and exit
    status 130 or 143, the old report left in place, and change nothing once it is written.
    """
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: warning: %(message)s", stream=sys.stderr)
    options = Options(
        baseline=args.baseline,
        level=args.level,
        window=args.window,
        n_boot=args.n_boot,
        seed=args.seed,
        interval=args.interval,
        last_k=args.last_k,
    )
    out_dir = args.out or Path(REPORT_DIR)
    _Stopping.phase, _Stopping.received = "reporting", None
    try:
        for signum in SIGNALS if on_signals else ():
            signal.signal(signum, _on_signal)
        sweep_dirs = args.sweep_dirs or [find_latest_sweep(DEFAULT_ROOT)]
        if sweep_dirs[0] is None:
            raise ReportError(f"no sweep folder under {DEFAULT_ROOT}; pass SWEEP_DIR")
        out_dir = args.out or sweep_dirs[0] / REPORT_DIR
        report = write_report(sweep_dirs, out_dir, options, before_swap=_hold_signals)
    except BaseException as error:
        _Stopping.phase = "done"  # a signal now would interrupt the one line below
        if not _Stopping.received:
            if isinstance(error, ReportError):
                print(f"{PROG}: {error}", file=sys.stderr)
                return 2
            if isinstance(error, OSError):
                print(f"{PROG}: cannot write {error.filename or out_dir}: {error.strerror or error}", file=sys.stderr)
                return 1
            raise
        # whatever the signal became inside a library, the report folder is as it was: the new one was beside it
        name = signal.Signals(_Stopping.received).name
        print(f"{PROG}: interrupted by {name}; the report was not written", file=sys.stderr)
        return 128 + _Stopping.received
    finally:
        # the report is written (or not) and says so next: a signal from here on, or one held, changes nothing
        _Stopping.phase = "done"
    print(f"{PROG}: wrote {report} and {report.with_suffix('.html').name}")
    return 0


if __name__ == "__main__":
    status = main(on_signals=True)
    # Python puts back the default handlers as it shuts down, which takes a while: ignored, a signal then cannot
    # end with a status that contradicts the line already printed
    for _signum in SIGNALS:
        signal.signal(_signum, signal.SIG_IGN)
    sys.exit(status)
