"""Launchers: the presets in conf/hydra/launcher, and the same numbers whichever launcher ran a sweep.

The sweeps train in graph mode (train.jit_compile=false): the launchers are what is tested here, and XLA's compile
would add seconds to every job.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import ConfigCompositionException, MissingConfigException
from joblib import cpu_count
from omegaconf import OmegaConf

from bench.plan import side_by_side
from helpers.cli import run_cli
from helpers.configs import CONF, NO_XLA, QUICK
from helpers.sweeps import LOG_PID, by_variant_and_seed, pid, read_job, sweep

JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
SUBMITIT = "hydra_plugins.hydra_submitit_launcher.submitit_launcher"
# Config names that launcher plugins register (ray and ray_aws: hydra-ray-launcher, the optional ray extra).
PLUGIN_NAMES = {"basic", "joblib", "submitit_local", "submitit_slurm", "ray", "ray_aws"}
RAY_INSTALLED = importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None


def hydra_config(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF)):
        return compose("config", overrides=list(overrides), return_hydra_config=True).hydra


def launcher(name: str, *overrides: str):
    hydra = hydra_config(f"hydra/launcher={name}", "hydra.sweep.dir=/sweeps/one", *overrides)
    assert hydra.runtime.choices["hydra/launcher"] == name
    return hydra.launcher


def test_the_parallel_preset_is_joblib_with_two_workers():
    parallel = launcher("parallel")
    assert parallel._target_ == JOBLIB
    assert parallel.n_jobs == 2
    assert launcher("parallel", "hydra.launcher.n_jobs=4").n_jobs == 4


# How many workers a joblib sweep gets, in a process allowed one core (as under taskset or in a Slurm allocation).
WORKERS_ON_ONE_CORE = """
import os, sys
from omegaconf import OmegaConf
from bench.plan import side_by_side
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
print(side_by_side(OmegaConf.create({"_target_": sys.argv[1], "n_jobs": -1}), 7))
"""


def test_jobs_run_side_by_side_one_per_worker_and_no_more_workers_than_jobs():
    joblib = {"_target_": JOBLIB}
    assert side_by_side(OmegaConf.create({**joblib, "n_jobs": 4}), 7) == 4
    assert side_by_side(OmegaConf.create({**joblib, "n_jobs": 4}), 2) == 2
    assert side_by_side(OmegaConf.create({**joblib, "n_jobs": -1}), 1000) == cpu_count()
    assert side_by_side(OmegaConf.create({**joblib, "n_jobs": -2}), 1000) == max(1, cpu_count() - 1)
    assert side_by_side(OmegaConf.create({"_target_": f"{SUBMITIT}.LocalLauncher"}), 3) == 3
    basic = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"
    assert side_by_side(OmegaConf.create({"_target_": basic}), 3) == 1
    # the cores this process may use, not those of the machine
    one_core = subprocess.run(
        [sys.executable, "-c", WORKERS_ON_ONE_CORE, JOBLIB], capture_output=True, text=True, check=True
    )
    assert one_core.stdout.strip() == "1"


def test_the_cluster_presets_extend_submitit_and_keep_its_files_in_the_sweep_folder():
    local = launcher("cluster_local")
    assert local._target_ == f"{SUBMITIT}.LocalLauncher"
    assert (local.timeout_min, local.gpus_per_node) == (60, 0)
    slurm = launcher("slurm", "hydra.launcher.partition=cpu")
    # submitit's Slurm launcher with the waiting of bench.slurm (tests/clusters/test_slurm.py runs it on Slurm)
    assert slurm._target_ == "hydra_plugins.bench_launchers.slurm.SlurmLauncher"
    expected = {"partition": "cpu", "cpus_per_task": 1, "mem_gb": 4, "gpus_per_node": 0, "timeout_min": 120}
    assert {key: slurm[key] for key in expected} == expected
    assert (slurm.array_parallelism, slurm.signal_delay_s) == (32, 0)
    # the presets are checked against the plugin's schema: a misspelt key is refused when the config is composed
    with pytest.raises(ConfigCompositionException, match="partitoin"):
        launcher("slurm", "hydra.launcher.partitoin=cpu")
    for preset in (local, slurm):
        assert preset.submitit_folder == "/sweeps/one/.submitit/%j"


def test_plugin_config_names_still_mean_the_plugins_own_configs():
    presets = {path.stem for path in (CONF / "hydra" / "launcher").glob("*.yaml")}
    assert {"parallel", "cluster_local", "slurm", "ray_local"} <= presets
    hydra_config()  # composing once makes Hydra register the installed plugins' configs
    registered = {name.removesuffix(".yaml") for name in ConfigStore.instance().list("hydra/launcher")}
    assert {"joblib", "submitit_local", "submitit_slurm"} <= registered
    # a file of the same name would hide the plugin's config, or extend itself without end
    assert not presets & (PLUGIN_NAMES | registered)
    joblib = launcher("joblib")
    assert (joblib._target_, joblib.n_jobs) == (JOBLIB, -1)
    assert launcher("submitit_local").gpus_per_node is None


@pytest.mark.skipif(not RAY_INSTALLED, reason="hydra-ray-launcher (the ray extra) is not installed")
def test_the_ray_preset_extends_the_plugins_config():
    ray = launcher("ray_local")
    assert ray._target_ == "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"
    assert ray.ray.remote.num_cpus == 1
    # present and null, so that the plugin does not set it: ray.init refuses it when joining a running cluster
    assert "object_store_memory" in ray.ray.init and ray.ray.init.object_store_memory is None
    assert launcher("ray_local", "hydra.launcher.ray.init.address=auto").ray.init.address == "auto"


@pytest.mark.skipif(RAY_INSTALLED, reason="hydra-ray-launcher (the ray extra) is installed")
def test_the_ray_preset_without_its_plugin_fails_to_compose(tmp_path):
    with pytest.raises(MissingConfigException, match="hydra/launcher/ray'"):
        launcher("ray_local")
    sweep = tmp_path / "sweep"
    finished = run_cli("-m", "hydra/launcher=ray_local", f"hydra.sweep.dir={sweep}", cwd=tmp_path, timeout=120)
    assert finished.returncode == 2
    (line,) = finished.stderr.strip().splitlines()
    assert line.startswith("bench.run: In 'hydra/launcher/ray_local': Could not load 'hydra/launcher/ray'")
    assert not sweep.exists()


@pytest.fixture(scope="module")
def basic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("basic") / "sweep"
    # threads=0: the basic launcher leaves TensorFlow its choice, the workers share the cores
    return sweep(folder, "model=forward,backward", "seed=0,1", "runtime.threads=0", *QUICK, NO_XLA)


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parallel") / "sweep"
    return sweep(
        folder, "hydra/launcher=parallel", "model=forward,backward", "seed=0,1", "runtime.threads=0", *QUICK, NO_XLA
    )


@pytest.mark.slow
def test_joblib_workers_give_the_basic_launchers_numbers(basic, parallel):
    assert sorted(basic) == sorted(parallel) == [0, 1, 2, 3]
    for num in basic:
        assert parallel[num]["run"]["status"] == "completed"
        assert parallel[num]["run"]["overrides"] == basic[num]["run"]["overrides"]
        assert parallel[num]["run"]["config_hash"] == basic[num]["run"]["config_hash"]
        # the basic launcher leaves TensorFlow its choice; each of 2 workers gets half the cores
        assert basic[num]["run"]["config"]["runtime"]["threads"] == 0
        cores = parallel[num]["run"]["cpu_count"]
        assert parallel[num]["run"]["config"]["runtime"]["threads"] == max(1, cores // 2)
        pd.testing.assert_frame_equal(parallel[num]["metrics"], basic[num]["metrics"], check_exact=True)
    combined = by_variant_and_seed(parallel)
    assert set(zip(combined["variant"], combined["seed"], strict=True)) == {
        (variant, seed) for variant in ("forward", "backward") for seed in (0, 1)
    }
    pd.testing.assert_frame_equal(combined, by_variant_and_seed(basic), check_exact=True)
    # the basic launcher ran every job in one process; joblib in two worker processes, not this one
    assert len({pid(job) for job in basic.values()}) == 1
    assert len({pid(job) for job in parallel.values()}) == 2
    assert not {pid(job) for job in parallel.values()} & {pid(job) for job in basic.values()}


@pytest.mark.slow
def test_a_job_in_a_reused_worker_gives_the_numbers_of_a_fresh_process(parallel, tmp_path):
    by_worker: dict[int, list[int]] = {}
    for num, job in sorted(parallel.items()):
        by_worker.setdefault(pid(job), []).append(num)
    # 4 jobs on 2 workers: some worker ran a job after another one; a worker runs its jobs in the order given
    first, later = next(nums for nums in by_worker.values() if len(nums) > 1)[:2]
    earlier_run, later_run = parallel[first]["run"], parallel[later]["run"]
    assert (earlier_run["variant"], earlier_run["seeds"]) != (later_run["variant"], later_run["seeds"])
    fresh = tmp_path / "fresh"
    finished = run_cli(*later_run["overrides"], LOG_PID, f"hydra.run.dir={fresh}", cwd=tmp_path, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    alone = read_job(fresh)
    assert alone["run"]["config_hash"] == later_run["config_hash"]
    assert pid(alone) != pid(parallel[later])
    pd.testing.assert_frame_equal(parallel[later]["metrics"], alone["metrics"], check_exact=True)


@pytest.mark.slow
def test_submitit_jobs_give_the_basic_launchers_numbers(basic, tmp_path):
    folder = tmp_path / "sweep"
    jobs = sweep(
        folder,
        "hydra/launcher=cluster_local",
        "hydra.launcher.timeout_min=5",
        "runtime.threads=1",
        "model=forward,backward",
        "seed=1",
        *QUICK,
        NO_XLA,
    )
    assert sorted(jobs) == [0, 1]
    expected = {num: job for num, job in basic.items() if job["run"]["seeds"] == [1]}
    assert len(expected) == 2
    pd.testing.assert_frame_equal(by_variant_and_seed(jobs), by_variant_and_seed(expected), check_exact=True)
    for num, job in jobs.items():
        assert job["run"]["status"] == "completed"
        # the job count set by bench.plan.Guard in the submitting process reaches each job's subprocess
        assert any(f"job {num + 1}/2 | " in line for line in job["log"])
    # each job ran in a subprocess of its own, with its submitit log and result in the sweep folder
    assert len({pid(job) for job in jobs.values()}) == 2
    assert len(list(folder.glob(".submitit/*/*_result.pkl"))) == 2
