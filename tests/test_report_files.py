"""The report's files: replaced whole or not at all, the same bytes from the same sweep, one line for every way the
command can end early. Each test is named after a way a report used to go wrong."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_report import run_report

from bench import report
from helpers.results import write_sweep, write_variant_job

FINALS = {
    "forward": {0: 0.80, 1: 0.82, 2: 0.85},
    "backward": {0: 0.70, 1: 0.74, 2: 0.71},
    "bidirectional-sum": {0: 0.91, 1: 0.94, 2: 0.92},
}
OPTIONS = ["--n-boot", "50"]
REPO = Path(__file__).resolve().parents[1]


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file of a report folder by name, with its bytes."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture
def sweep(tmp_path):
    folder = tmp_path / "sweep"
    write_sweep(folder, FINALS)
    return folder


@pytest.mark.slow
def test_two_reports_of_the_same_sweep_are_byte_identical_figures_included(sweep, tmp_path):
    # two processes: the strip plots' jitter used to come from an unseeded generator
    for out in ("first", "second"):
        finished = run_report(str(sweep), *OPTIONS, "--out", str(tmp_path / out), cwd=tmp_path)
        assert finished.returncode == 0, finished.stderr
    first, second = files_of(tmp_path / "first"), files_of(tmp_path / "second")
    assert {"final_accuracy.png", "paired_differences.png", "report.html"} <= set(first)
    assert list(first) == list(second)
    for name in first:
        assert first[name] == second[name], f"{name} differs between two reports of one sweep"


def start_report(sweep: Path, cwd: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.report", str(sweep), *OPTIONS, *extra],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_it_catches_signals(process: subprocess.Popen) -> None:
    """Waits until the report catches SIGTERM (/proc's SigCgt mask): its handlers are then in place, from the start
    of loading its libraries on, so a signal sent next reaches them and not the interpreter's, however slowly the
    process starts."""
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline and process.poll() is None, "the report never caught SIGTERM"
        status = Path(f"/proc/{process.pid}/status").read_text()
        caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
        if caught >> (signal.SIGTERM - 1) & 1:
            return
        time.sleep(0.01)


def report_with_a_signal(where: str, sweep: Path, cwd: Path) -> subprocess.CompletedProcess:
    """The report of ``sweep``, with a SIGINT where :mod:`helpers.swallowed_signal` puts it."""
    return subprocess.run(
        [sys.executable, "-m", "helpers.swallowed_signal", where, "bench.report", str(sweep), *OPTIONS],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO / "tests")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def put_back(folder: Path, files: dict[str, bytes]) -> None:
    """Makes ``folder`` hold exactly ``files``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)


def old_and_new_reports(sweep: Path, tmp_path: Path) -> tuple[dict[str, bytes], dict[str, bytes], float]:
    """The sweep's report as it is (old), the one a report run now writes (new), and how long that run takes."""
    assert report.main([str(sweep), *OPTIONS]) == 0
    old = files_of(sweep / "report")
    write_variant_job(sweep / "3", "bidirectional-concat", {0: 0.9, 1: 0.91, 2: 0.9})
    started = time.monotonic()
    assert start_report(sweep, tmp_path, "--out", str(tmp_path / "new")).wait(timeout=120) == 0
    duration = time.monotonic() - started
    new = files_of(tmp_path / "new")
    assert old != new
    return old, new, duration


@pytest.mark.slow
def test_a_report_killed_at_any_moment_leaves_the_old_or_the_new_report_whole(sweep, tmp_path):
    old, new, duration = old_and_new_reports(sweep, tmp_path)
    moments = random.Random(11)
    for _ in range(6):
        put_back(sweep / "report", old)
        # most of a report's time goes to loading libraries: the kills aim at the writing that follows
        delay = moments.uniform(0.5, 1.1) * duration
        process = start_report(sweep, tmp_path)
        time.sleep(delay)
        process.kill()
        process.wait(timeout=60)
        assert files_of(sweep / "report") in (old, new), f"killed after {delay:.2f} s of {duration:.2f} s: a mix"

    # the next complete report removes what killed ones left behind
    assert start_report(sweep, tmp_path).wait(timeout=120) == 0
    assert files_of(sweep / "report") == new
    assert [path.name for path in sweep.iterdir() if path.name.startswith(".report")] == [".report.lock"]


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.1, 0.6])
def test_ctrl_c_on_the_report_is_one_line_and_exit_130(sweep, tmp_path, fraction):
    old, _, duration = old_and_new_reports(sweep, tmp_path)
    process = start_report(sweep, tmp_path)
    wait_until_it_catches_signals(process)
    time.sleep(fraction * duration)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["bench.report: interrupted by SIGINT; the report was not written"]
    assert files_of(sweep / "report") == old
    assert [path.name for path in sweep.iterdir() if path.name.startswith(".report")] == [".report.lock"]


@pytest.mark.parametrize("where", ["import:seaborn", "figure", "figure-wrapped"])
def test_a_ctrl_c_that_a_library_swallows_or_wraps_still_stops_the_report(sweep, tmp_path, where):
    # a SIGINT raised inside an import used to be swallowed by a library's except clause, or turned into a
    # RuntimeError by a class body: the report was then written anyway, with exit status 0 or a traceback
    assert report.main([str(sweep), *OPTIONS]) == 0
    old = files_of(sweep / "report")
    write_variant_job(sweep / "3", "bidirectional-concat", {0: 0.9, 1: 0.91, 2: 0.9})
    finished = report_with_a_signal(where, sweep, tmp_path)
    assert (finished.returncode, finished.stdout) == (130, ""), finished.stderr
    assert finished.stderr.strip().splitlines() == ["bench.report: interrupted by SIGINT; the report was not written"]
    assert files_of(sweep / "report") == old
    assert [path.name for path in sweep.iterdir() if path.name.startswith(".report")] == [".report.lock"]


def test_a_ctrl_c_as_the_new_report_is_put_in_place_changes_nothing(sweep, tmp_path):
    # the report is put in place whole, and the command says so: signals wait from just before the swap
    write_variant_job(sweep / "3", "bidirectional-concat", {0: 0.9, 1: 0.91, 2: 0.9})
    assert start_report(sweep, tmp_path, "--out", str(tmp_path / "new")).wait(timeout=120) == 0
    finished = report_with_a_signal("swap", sweep, tmp_path)
    assert (finished.returncode, finished.stderr) == (0, ""), finished.stderr
    assert finished.stdout.startswith("bench.report: wrote")
    assert files_of(sweep / "report") == files_of(tmp_path / "new")


def test_sigterm_on_the_report_is_one_line_and_exit_143(sweep, tmp_path):
    process = start_report(sweep, tmp_path)
    wait_until_it_catches_signals(process)  # then loading the libraries takes seconds
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    assert stderr.strip().splitlines() == ["bench.report: interrupted by SIGTERM; the report was not written"]
    assert not (sweep / "report").exists()


def test_a_write_error_names_the_path_and_the_cause_in_one_line(sweep, tmp_path):
    (tmp_path / "a-file").write_text("")
    finished = run_report(str(sweep), *OPTIONS, "--out", str(tmp_path / "a-file" / "report"), cwd=tmp_path)
    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines() == [f"bench.report: cannot write {tmp_path / 'a-file'}: File exists"]


def test_an_out_folder_holding_other_files_is_never_replaced(sweep, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    finished = run_report(str(sweep), *OPTIONS, "--out", str(mine), cwd=tmp_path)
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        f"bench.report: {mine} holds notes.txt, which is not a report file (.csv, .png, .md, .html); choose "
        "another --out, or move it"
    ]
    assert [path.name for path in mine.iterdir()] == ["notes.txt"]


def test_a_baseline_in_the_config_spelling_is_that_variant(tmp_path):
    sweep = tmp_path / "sweep"
    write_sweep(sweep, {**FINALS, "bidirectional-concat": {0: 0.9, 1: 0.91, 2: 0.9}})
    assert report.main([str(sweep), *OPTIONS, "--baseline", "bidirectional_concat"]) == 0
    text = (sweep / "report" / "report.md").read_text()
    assert "differences from bidirectional-concat" in text and "Warning: baseline" not in text


def test_an_unknown_baseline_is_rejected_with_the_list(sweep, tmp_path):
    finished = run_report(str(sweep), "--baseline", "lstm", cwd=tmp_path)
    assert finished.returncode == 2
    (line,) = finished.stderr.strip().splitlines()
    assert line.startswith("bench.report: argument --baseline: 'lstm' is not a variant: one of forward, backward,")
    assert "bidirectional_concat" in line


def test_where_folders_cannot_be_exchanged_the_new_report_is_renamed_in(sweep, monkeypatch):
    from bench import report_folder

    assert report.main([str(sweep), *OPTIONS]) == 0
    monkeypatch.setattr(report_folder, "_exchange", lambda first, second: False)
    write_variant_job(sweep / "3", "bidirectional-concat", {0: 0.9, 1: 0.91, 2: 0.9})
    assert report.main([str(sweep), *OPTIONS]) == 0
    assert "bidirectional-concat" in (sweep / "report" / "summary.csv").read_text()
    assert [path.name for path in sweep.iterdir() if path.name.startswith(".report")] == [".report.lock"]
