"""Operating-system errors end a run or sweep with one line naming the path and the cause, the job that met the
error marked failed where its run.json can still be written, the end-of-sweep summary, and no traceback."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import run_cli
from helpers.configs import NO_XLA, QUICK
from helpers.sweeps import status

IN_A_SMALL_FILESYSTEM = """
mount -t tmpfs -o "size=$SIZE" tmpfs "$MNT" || exit 99
mkdir "$MNT/sweep"
if [ "$READ_ONLY" = 1 ]; then mount -o remount,ro "$MNT" || exit 99; fi
"$@" > "$OUT/stdout" 2> "$OUT/stderr"
echo $? > "$OUT/rc"
cp -a "$MNT/." "$OUT/"
"""


def in_a_small_filesystem(tmp_path: Path, *args: str, size: str = "1m", read_only: bool = False):
    """Runs ``python -m bench.run args`` with ``{sweep}`` on a tmpfs of ``size`` (or read-only) that only it sees.

    Returns (exit code, stdout, stderr, sweep folder as it was left, the path the run saw).
    """
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode:
        pytest.skip("mount namespaces (unshare -rm) are not available here")
    mount, out = tmp_path / "mnt", tmp_path / "out"
    mount.mkdir()
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(SIZE=size, READ_ONLY=str(int(read_only)), MNT=str(mount), OUT=str(out))
    seen = mount / "sweep"
    command = [sys.executable, "-m", "bench.run", *(arg.format(sweep=seen) for arg in args)]
    finished = subprocess.run(
        ["unshare", "-rm", "sh", "-c", IN_A_SMALL_FILESYSTEM, "sh", *command], env=env, cwd=tmp_path
    )
    assert finished.returncode == 0, "could not mount a tmpfs"
    code = int((out / "rc").read_text())
    return code, (out / "stdout").read_text(), (out / "stderr").read_text(), out / "sweep", seen


@pytest.mark.slow
def test_a_full_disk_fails_the_job_prints_the_summary_and_one_line(tmp_path):
    # four packed seeds of 300 epochs write about 90 kB of rows: more than the 64 kB the folder has
    code, stdout, stderr, sweep, seen = in_a_small_filesystem(
        tmp_path,
        "-m",
        "model=forward,backward",
        "n_seeds=4",
        *QUICK,
        NO_XLA,
        "train.epochs=300",
        "hydra.sweep.dir={sweep}",
        size="64k",
    )
    assert code == 1
    assert stderr.strip().splitlines() == [f"bench.run: cannot write {seen}/0/metrics.csv: No space left on device"]
    assert f"sweep {seen}: 2 job(s): 1 failed, 1 not run" in stdout
    record = json.loads((sweep / "0" / "run.json").read_text())
    assert record["status"] == "failed" and "No space left on device" in record["error"]
    assert not list((sweep / "0").glob(".*.tmp")) and not (sweep / "1").exists()


def test_a_read_only_output_folder_gives_one_line(tmp_path):
    code, stdout, stderr, _, seen = in_a_small_filesystem(
        tmp_path, "-m", "model=forward", "hydra.sweep.dir={sweep}", read_only=True
    )
    assert code == 1
    assert stderr.strip().splitlines() == [f"bench.run: cannot write {seen}/.lock: Read-only file system"]
    assert "Launching" not in stdout


def test_a_sweep_folder_that_is_a_file_gives_one_line(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    for folder in ("results", "results/sweep"):
        finished = run_cli("-m", "model=forward", f"hydra.sweep.dir={folder}", cwd=tmp_path)
        assert finished.returncode == 2
        assert finished.stderr.strip().splitlines() == [
            f"bench.run: hydra.sweep.dir={folder} is not allowed: a folder; results is a file"
        ]
    assert (tmp_path / "results").read_text() == "not a folder"


def without_permission_to_override() -> list[str]:
    """A command prefix under which folder permissions apply: root keeps its uid but loses CAP_DAC_OVERRIDE."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("root passes every permission check, and setpriv is not here to drop that")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


@pytest.mark.slow
def test_a_job_folder_without_write_permission_stops_the_sweep_with_the_summary_and_one_line(tmp_path):
    sweep = tmp_path / "sweep"
    (sweep / "1").mkdir(parents=True)
    (sweep / "1").chmod(0o555)
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    args = ["-m", "model=forward,backward", "seed=0", *QUICK, NO_XLA, f"hydra.sweep.dir={sweep}"]
    finished = subprocess.run(
        [*without_permission_to_override(), sys.executable, "-m", "bench.run", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    (sweep / "1").chmod(0o755)
    assert finished.returncode == 1
    assert finished.stderr.strip().splitlines() == [f"bench.run: cannot write {sweep}/1/run.log: Permission denied"]
    assert f"sweep {sweep}: 2 job(s): 1 completed, 1 not run" in finished.stdout
    assert status(sweep / "0") == "completed"
