"""The ray_local preset for real: joining a head started with ``ray start --head``, and starting a Ray of its own."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from clusters import processes, ray_cluster
from clusters.support import MODELS_AND_SEEDS, job_folders_match, unavailable, use
from helpers.configs import NO_XLA, QUICK
from helpers.sweeps import pid, sweep

pytestmark = pytest.mark.slow


def sessions(ray_tmpdir: Path) -> set[str]:
    """The Ray sessions started with this RAY_TMPDIR."""
    return {path.name for path in (ray_tmpdir / "ray").glob("session_2*")}


def test_a_sweep_joins_a_running_ray_head_with_the_documented_command(ray_head, basic_sweep, tmp_path, monkeypatch):
    use(monkeypatch, ray_head["env"])
    ray_tmpdir = Path(ray_head["env"]["RAY_TMPDIR"])
    (head_session,) = sessions(ray_tmpdir)
    jobs = sweep(
        tmp_path / "sweep",
        "hydra/launcher=ray_local",
        "hydra.launcher.ray.init.address=auto",
        *MODELS_AND_SEEDS,
        *QUICK,
        NO_XLA,
    )
    job_folders_match(jobs, basic_sweep)
    # every Ray process of the head stayed on the loopback address
    head_log = re.sub(r"\x1b\[[0-9;]*m", "", (Path(ray_head["folder"]) / "head.log").read_text(errors="replace"))
    assert "Local node IP: 127.0.0.1" in head_log
    # the sweep started no Ray of its own: its jobs ran in the head's workers, whose logs name their process ids
    assert sessions(ray_tmpdir) == {head_session}
    worker_logs = "\n".join(path.name for path in (ray_tmpdir / "ray" / head_session / "logs").glob("worker-*.out"))
    for job in jobs.values():
        assert f"-{pid(job)}.out" in worker_logs
    # Ray's workers do not inherit the sweep's environment: each job's lines still say how many jobs there are
    for num, job in jobs.items():
        assert any(f"job {num + 1}/4 | " in line for line in job["log"]), job["log"]


def test_the_ray_local_preset_starts_a_ray_of_its_own_and_ends_it(basic_sweep, tmp_path, monkeypatch):
    unavailable(ray_cluster.missing())
    folder = tmp_path / "ray"
    env = ray_cluster.environment(folder)
    use(monkeypatch, env)
    system_ray = Path("/tmp/ray").exists()
    try:
        jobs = sweep(tmp_path / "sweep", "hydra/launcher=ray_local", *MODELS_AND_SEEDS, *QUICK, NO_XLA)
        job_folders_match(jobs, basic_sweep)
        # Ray's files stayed in this test's folders: the token that a local Ray now requires, and one session
        assert (Path(env["HOME"]) / ".ray" / "auth_token").is_file()
        assert len(sessions(Path(env["RAY_TMPDIR"]))) == 1
        assert Path("/tmp/ray").exists() == system_ray
        # and the Ray it started ended with the sweep
        deadline = time.monotonic() + 30
        while processes.leftovers(folder) and time.monotonic() < deadline:
            time.sleep(1)
        assert processes.leftovers(folder) == []
    finally:
        ray_cluster.stop(folder)
