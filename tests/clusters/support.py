"""What the cluster tests share: their sweep, how they point a run at a cluster, and how they compare results."""

from __future__ import annotations

import os

import pytest

# The sweep every cluster test runs, and compares with the basic launcher's job folders byte for byte.
MODELS_AND_SEEDS = ["model=forward,bidirectional", "seed=0,1"]


def unavailable(reason: str | None) -> None:
    """Skips (or, where the clusters are required, fails) the test when its cluster cannot run here."""
    if reason is None:
        return
    if os.environ.get("BENCH_REQUIRE_CLUSTERS") == "1":
        pytest.fail(f"BENCH_REQUIRE_CLUSTERS=1 but {reason}")
    pytest.skip(f"{reason}; bash .ci/run installs everything (as root) and runs them")


def use(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Points this test's command-line runs (helpers.cli.run_cli copies os.environ) at a cluster."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def job_folders_match(jobs: dict[int, dict], reference: dict[int, dict]) -> None:
    """Asserts the same jobs, completed, with byte-identical metrics.csv files."""
    assert sorted(jobs) == sorted(reference) == [0, 1, 2, 3]
    for num, job in jobs.items():
        assert job["run"]["status"] == "completed"
        assert job["run"]["config_hash"] == reference[num]["run"]["config_hash"]
        assert job["metrics_bytes"] == reference[num]["metrics_bytes"], f"job {num}: metrics.csv differs"
