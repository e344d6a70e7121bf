"""The persistent compilation cache: another process finds what one compiled, whatever ran before it."""

import os

import pytest

from bench import compile_cache
from helpers.cli import run_cli
from helpers.configs import QUICK


def cache_files(cache) -> set[str]:
    return {path.name for path in cache.rglob("*.pb")}


@pytest.mark.slow
def test_a_process_finds_the_functions_another_compiled_whatever_ran_before_and_gets_the_same_rows(tmp_path):
    cache = tmp_path / "cache"
    first = run_cli(
        "-m", "model=forward,bidirectional_sum", *QUICK, f"runtime.compile_cache={cache}",
        f"hydra.sweep.dir={tmp_path / 'first'}", cwd=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    compiled = cache_files(cache)
    # the training chunk and the held-out scoring of each variant, in one folder for this machine
    assert len(compiled) == 4 and len({path.parent for path in cache.rglob("*.pb")}) == 1
    # Other jobs, in another order, with a job of new shapes first: only that job compiles.
    second = run_cli(
        "-m", "model=forward,bidirectional_sum", "n_seeds=2,1", "seed=3", *QUICK, f"runtime.compile_cache={cache}",
        f"hydra.sweep.dir={tmp_path / 'second'}", cwd=tmp_path,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr and "cpu_aot_loader" not in second.stderr
    # the packed jobs (n_seeds=2) compiled their shapes; the single-seed jobs found theirs
    assert compiled < cache_files(cache) and len(cache_files(cache)) == 4 + 4
    fresh = run_cli(
        "model=bidirectional_sum", "seed=3", *QUICK, "runtime.compile_cache=null",
        f"hydra.run.dir={tmp_path / 'fresh'}", cwd=tmp_path,
    )  # fmt: skip
    assert fresh.returncode == 0, fresh.stderr
    # job 3: bidirectional_sum with one seed, from executables the first process compiled
    loaded = (tmp_path / "second" / "3" / "metrics.csv").read_text()
    assert loaded == (tmp_path / "fresh" / "metrics.csv").read_text()


def test_the_cache_cannot_be_turned_on_once_tensorflow_has_started(tmp_path, monkeypatch):
    import tensorflow  # noqa: F401

    monkeypatch.delenv("TF_XLA_FLAGS", raising=False)
    assert compile_cache.enable(tmp_path / "cache") is None
    assert "TF_XLA_FLAGS" not in os.environ and not (tmp_path / "cache").exists()
    monkeypatch.setenv("TF_XLA_FLAGS", f'--tf_xla_persistent_cache_directory="{tmp_path / "in use"}"')
    assert compile_cache.enable(tmp_path / "cache") == tmp_path / "in use"


def test_each_machine_type_gets_its_own_folder(tmp_path):
    folder = compile_cache.machine_folder(tmp_path)
    assert folder.parent == tmp_path.resolve() and folder.name.startswith("tf-2.")
    assert compile_cache.machine_folder(tmp_path) == folder


def test_xla_options_are_added_once_a_users_own_setting_wins_and_other_options_get_another_folder(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    plain = compile_cache.machine_folder(tmp_path)
    compile_cache.set_xla_options()
    assert os.environ["XLA_FLAGS"] == " ".join(compile_cache.XLA_OPTIONS)
    compile_cache.set_xla_options()
    assert os.environ["XLA_FLAGS"] == " ".join(compile_cache.XLA_OPTIONS)
    chosen = compile_cache.machine_folder(tmp_path)
    assert chosen != plain
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_optimization_level=1 --xla_cpu_use_xnnpack=false")
    compile_cache.set_xla_options()
    assert os.environ["XLA_FLAGS"] == "--xla_backend_optimization_level=1 --xla_cpu_use_xnnpack=false"
    assert compile_cache.machine_folder(tmp_path) not in {plain, chosen}
