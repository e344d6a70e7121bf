"""The persistent compilation cache: XLA executables kept on disk, so another process does not compile them again.

TensorFlow's own cache does the storing (``--tf_xla_persistent_cache_directory`` in ``TF_XLA_FLAGS``, read when
TensorFlow starts): after compiling a function it writes the executable to the folder (to a temporary file, then
renamed, so parallel workers never read half an entry), and before compiling it looks for an entry whose function
name, input shapes and XLA program are exactly those at hand.

TensorFlow names every function it traces after a counter that counts all the functions the process traced
before, so on its own the cache finds an entry again only in a process that traced the same functions in the same
order. :func:`stable_names` makes the names depend on what is traced instead: a resumed sweep, another sweep with
other jobs first and parallel workers then find what any earlier process compiled (docs/performance.md has the
evidence). A wrong hit is impossible: an entry is used only if its XLA program equals the one at hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import os
import platform
import shlex
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_FLAG = "--tf_xla_persistent_cache_directory"
# XLA's options for every compile (in ``XLA_FLAGS``). At its default backend optimisation level (3) XLA took longer
# to compile this project's functions and ran them slower than at 2: 1.4 times the time per epoch at 10 steps and
# twice at 100, with the same results but for float32 rounding (docs/performance.md, "XLA's optimisation level").
XLA_OPTIONS = ("--xla_backend_optimization_level=2",)


def set_xla_options() -> None:
    """Adds :data:`XLA_OPTIONS` to ``XLA_FLAGS``, where an option the user set there already wins.

    XLA reads ``XLA_FLAGS`` when it first compiles, so this must run before the first compiled call.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    given = {flag.split("=", 1)[0] for flag in flags.split()}
    added = [option for option in XLA_OPTIONS if option.split("=", 1)[0] not in given]
    if added:
        os.environ["XLA_FLAGS"] = " ".join([flags, *added]).strip()


def machine_folder(root: str | os.PathLike) -> Path:
    """The cache folder for this machine, TensorFlow version and XLA options under ``root``.

    An executable is compiled for the processor it was compiled on, so machines with other instruction sets
    (nodes of a cluster sharing one file system) keep apart; and TensorFlow's cache key leaves XLA's options out,
    so executables compiled with other ``XLA_FLAGS`` (another optimisation level) keep apart too.
    """
    tensorflow = "unknown"
    for package in ("tensorflow-cpu", "tensorflow"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            tensorflow = metadata.version(package)
            break
    flags = ""
    with contextlib.suppress(OSError):
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    xla = os.environ.get("XLA_FLAGS", "")
    build = hashlib.sha256(f"{platform.processor()} {flags} {xla}".encode()).hexdigest()[:10]
    return Path(root).resolve() / f"tf-{tensorflow}-{platform.machine()}-{build}"


def enable(root: str | os.PathLike | None) -> Path | None:
    """Turns TensorFlow's persistent cache on in ``machine_folder(root)`` (``root`` None: leaves it off); the
    folder is made by the first compile, once the run's settings have all been checked (:func:`make_folder`).

    Must run before TensorFlow starts; in a process where it already started (a reused worker, or a program that
    imported TensorFlow itself) the setting of its first job stays, and this returns the folder in use, if any.
    """
    flags = os.environ.get("TF_XLA_FLAGS", "")
    # TensorFlow splits the flags at spaces and takes double quotes around a value
    in_use = next((f.split("=", 1)[1] for f in shlex.split(flags) if f.startswith(f"{CACHE_FLAG}=")), None)
    if in_use is not None or "tensorflow" in sys.modules or root is None:
        if root is not None and in_use is None:
            log.debug("TensorFlow started before the compilation cache was set; this process runs without it")
        return None if in_use is None else Path(in_use)
    folder = machine_folder(root)
    os.environ["TF_XLA_FLAGS"] = f'{flags} {CACHE_FLAG}="{folder}"'.strip()
    return folder


def make_folder(folder: Path | None) -> None:
    """Makes the cache folder :func:`enable` returned, if any; TensorFlow reads the flag only when it compiles."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)


_warmed_up = False


@contextlib.contextmanager
def stable_names(key: str) -> Iterator[None]:
    """While tracing, TensorFlow's function names (``__inference_<name>_<number>``) take their numbers from
    ``key`` instead of the process-wide counter, so the same trace gets the same names in every process.

    Numbers start at 10**15 plus a block of a million per key, far above any the counter reaches; ``key`` must
    say everything that makes one trace differ from another (structure and input shapes).
    """
    import tensorflow as tf
    from tensorflow.python.framework import ops

    global _warmed_up
    if not _warmed_up:
        # A process's first trace draws one number more (TensorFlow's one-time set-up): draw it here.
        tf.function(lambda a: a + 1)(tf.zeros([1]))
        _warmed_up = True
    block = int(hashlib.sha256(key.encode()).hexdigest()[:15], 16) % 10**8
    numbers = itertools.count(10**15 + block * 10**6)
    counter = ops.uid
    ops.uid = lambda: next(numbers)
    try:
        yield
    finally:
        ops.uid = counter


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Keeps TensorFlow's C++ messages off stderr (file descriptor 2), where they would bury the progress lines.

    Used while TensorFlow starts and while it compiles or loads a function: loading a cached executable logs two
    harmless errors (a text-format parse tried before the binary one, and tuning features the host's feature
    list lacks). Python exceptions still carry any real error.
    """
    saved_stderr, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)
