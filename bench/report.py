"""The report command and the files it writes: ``python -m bench.report [SWEEP_DIR ...] [--out DIR] [options]``.

Reads every job folder of the sweeps (default: the most recently written sweep under outputs/multirun) and
writes to SWEEP_DIR/report/ (the first sweep's, or --out DIR):

- results.csv: every row of every readable metrics.csv, plus run_dir (usable or not; runs.csv and
  problems.csv say which seeds were used);
- runs.csv (one row per job folder), seeds.csv (per-seed outcomes), problems.csv (left-out jobs and seeds);
- summary.csv (one row per variant), comparisons.csv (each variant against the baseline, paired by seed),
  by_length.csv (when the held-out set has more than one sequence length);
- PNG figures, report.md, and report.html (the same content with the figures embedded).

Exit status 0 on success, 2 with one line on stderr when there is nothing to report.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import plots
from bench.analysis import Options, analyse
from bench.collect import collect
from bench.document import Image, render_html, render_markdown
from bench.figures import FIGURE_NAMES, figure_specs
from bench.sections import build_document
from bench.sweeps import find_latest_sweep

PROG = "bench.report"
DEFAULT_ROOT = Path("outputs/multirun")
REPORT_DIR = "report"

log = logging.getLogger(PROG)


class ReportError(Exception):
    """Nothing to report; the message is the one line printed on stderr."""


def write_report(sweep_dirs: Sequence[Path], out_dir: Path, options: Options) -> Path:
    """Reads the sweeps, computes the tables, and writes every report file into ``out_dir``.

    Returns:
        The path of report.md.

    Raises:
        ReportError: a sweep folder is missing, or no job has a usable seed.
    """
    try:
        collection = collect(sweep_dirs)
    except FileNotFoundError as error:
        raise ReportError(str(error)) from error
    if collection.metrics.empty:
        where = ", ".join(str(sweep) for sweep in sweep_dirs)
        raise ReportError(f"no completed runs with metrics.csv under {where}")
    analysis = analyse(collection, options)
    if analysis.baseline_note:
        log.warning("%s", analysis.baseline_note)

    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "results.csv": collection.results,
        "runs.csv": collection.runs,
        "problems.csv": collection.problems,
        "seeds.csv": analysis.outcomes,
        "summary.csv": analysis.summary,
        "comparisons.csv": analysis.comparisons,
    }
    if not analysis.by_length.empty:
        tables["by_length.csv"] = analysis.by_length
    for name, table in tables.items():
        table.to_csv(out_dir / name, index=False)

    # figures of an earlier report into the same folder would otherwise look like part of this one
    for name in [*FIGURE_NAMES, "by_length.csv"]:
        if name not in tables:
            (out_dir / name).unlink(missing_ok=True)
    images = []
    for spec in figure_specs(analysis):
        images.append(Image(plots.save(spec.draw(), out_dir / spec.name), spec.caption))

    blocks = build_document(analysis, sweep_dirs, images)
    (out_dir / "report.md").write_text(render_markdown(blocks), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(blocks, title="Benchmark report"), encoding="utf-8")
    return out_dir / "report.md"


# ----------------------------------------------------------------------------------------------------------
# Command line


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    defaults = Options()
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}", description="Report of finished sweeps.")
    parser.add_argument(
        "sweep_dirs",
        nargs="*",
        type=Path,
        metavar="SWEEP_DIR",
        help=f"sweep folders to read (default: the most recently written sweep under {DEFAULT_ROOT})",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: SWEEP_DIR/report)")
    options = (
        ("--baseline", str, "VARIANT", defaults.baseline, "variant the others are compared against"),
        ("--level", _fraction, "ACCURACY", defaults.level, "held-out accuracy for epochs-to-level"),
        ("--window", _positive, "N", defaults.window, "epochs in the training-curve rolling mean"),
        ("--n-boot", _positive, "N", defaults.n_boot, "bootstrap resamples"),
        ("--seed", _non_negative, "N", defaults.seed, "bootstrap seed"),
    )
    for flag, kind, metavar, default, text in options:
        described = f"{text} (default: {default})"
        parser.add_argument(flag, type=kind, metavar=metavar, default=default, help=described)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: warning: %(message)s", stream=sys.stderr)
    options = Options(args.baseline, args.level, args.window, args.n_boot, args.seed)
    try:
        sweep_dirs = args.sweep_dirs or [find_latest_sweep(DEFAULT_ROOT)]
        if sweep_dirs[0] is None:
            raise ReportError(f"no sweep folder under {DEFAULT_ROOT}; pass SWEEP_DIR")
        report = write_report(sweep_dirs, args.out or sweep_dirs[0] / REPORT_DIR, options)
    except ReportError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{PROG}: cannot write the report: {error}", file=sys.stderr)
        return 2
    print(f"{PROG}: wrote {report} and {report.with_suffix('.html').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
