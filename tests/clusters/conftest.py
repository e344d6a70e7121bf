"""The clusters of the cluster tests, each started once and always stopped, with nothing left running.

Without root, Debian's Slurm packages or the ray extra these tests skip, saying what is missing; with
BENCH_REQUIRE_CLUSTERS=1 (set by .ci/run, which installs all of it) they fail instead, so CI cannot skip them.
"""

from __future__ import annotations

import signal

import pytest

from clusters import processes, ray_cluster, slurm_cluster
from clusters.support import MODELS_AND_SEEDS, unavailable
from helpers.configs import NO_XLA, QUICK
from helpers.sweeps import sweep


@pytest.fixture(scope="session", autouse=True)
def stop_clusters_on_sigterm():
    """SIGTERM to pytest (a CI timeout, `kill`) ends the run as Ctrl-C does, so the clusters' teardown still runs."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def basic_sweep(tmp_path_factory) -> dict[int, dict]:
    """The cluster tests' sweep with Hydra's basic launcher: the numbers every launcher must give."""
    return sweep(tmp_path_factory.mktemp("basic") / "sweep", *MODELS_AND_SEEDS, *QUICK, NO_XLA)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory) -> dict[str, dict]:
    """Two running single-node Slurm clusters, side by side: "plain", without accounting (the common small-cluster
    setup), and "accounting", with slurmdbd on a throwaway MariaDB. Each has the environment that points Slurm's
    commands at it (SLURM_CONF) and marks the processes it starts."""
    unavailable(slurm_cluster.missing(accounting=True))
    clusters: dict[str, dict] = {}
    try:
        for name, accounting in (("plain", False), ("accounting", True)):
            folder = tmp_path_factory.mktemp(f"slurm-{name}") / "cluster"
            conf = slurm_cluster.start(folder, accounting)
            clusters[name] = {"folder": folder, "env": {"SLURM_CONF": str(conf), processes.MARKER: str(folder)}}
        yield clusters
    finally:
        for cluster in clusters.values():
            slurm_cluster.stop(cluster["folder"])
    for cluster in clusters.values():
        assert processes.leftovers(cluster["folder"]) == []


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A running Ray head; its environment (HOME, RAY_TMPDIR) points a sweep at it and keeps Ray's files in tmp."""
    unavailable(ray_cluster.missing())
    folder = tmp_path_factory.mktemp("ray") / "head"
    env = ray_cluster.start(folder)
    try:
        yield {"folder": folder, "env": env}
    finally:
        ray_cluster.stop(folder)
    assert processes.leftovers(folder) == []
