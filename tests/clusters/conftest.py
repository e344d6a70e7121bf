"""The clusters of the cluster tests, each started once and always stopped, with nothing left running.

Without root, Debian's Slurm packages or the ray extra these tests skip, saying what is missing; with
BENCH_REQUIRE_CLUSTERS=1 (set by .ci/run, which installs all of it) they fail instead, so CI cannot skip them.
"""

from __future__ import annotations

import pytest
from sweeps import SMALL, sweep

from clusters import processes, ray_cluster, slurm_cluster
from clusters.support import MODELS_AND_SEEDS, unavailable


@pytest.fixture(scope="session")
def basic_sweep(tmp_path_factory) -> dict[int, dict]:
    """The cluster tests' sweep with Hydra's basic launcher: the numbers every launcher must give."""
    return sweep(tmp_path_factory.mktemp("basic") / "sweep", *MODELS_AND_SEEDS, *SMALL)


@pytest.fixture(scope="session", params=[False, True], ids=["without accounting", "with accounting"])
def slurm(request, tmp_path_factory):
    """A running single-node Slurm cluster (SLURM_CONF points at it); with accounting: slurmdbd and MariaDB too.

    Tests that need only one kind parametrize it indirectly: ``@pytest.mark.parametrize("slurm", [False], ...)``.
    """
    accounting = request.param
    unavailable(slurm_cluster.missing(accounting))
    folder = tmp_path_factory.mktemp("slurm") / "cluster"
    conf = slurm_cluster.start(folder, accounting)
    try:
        yield {
            "folder": folder,
            "accounting": accounting,
            "env": {"SLURM_CONF": str(conf), processes.MARKER: str(folder)},
        }
    finally:
        slurm_cluster.stop(folder)
    assert slurm_cluster.leftovers(folder) == []


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
    assert ray_cluster.leftovers(folder) == []
