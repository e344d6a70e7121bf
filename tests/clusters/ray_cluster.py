"""A Ray head on this machine for the tests, or by hand, every file it writes in one folder.

    python tests/clusters/ray_cluster.py start FOLDER   # prints the variables a sweep needs to join it
    python tests/clusters/ray_cluster.py stop FOLDER

``ray start --head --block`` with token authentication: a fresh token in FOLDER/home/.ray/auth_token (HOME is
FOLDER/home for the head and for every sweep that joins it). Sessions, logs and sockets go to RAY_TMPDIR, where
``ray.init(address="auto")`` also finds the head: a folder of its own in the system's temporary folder, since a
socket path must stay under 108 bytes, removed again by ``stop``. Stopping sends SIGTERM to the blocking
``ray start``, which drains the node and ends what it started; whatever still carries the marker is ended too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # run as a script: tests/ holds the clusters package
from clusters import processes  # noqa: E402

START_TIMEOUT_S = 120


def missing() -> str | None:
    """Why a Ray head cannot start here, or None when it can."""
    if not shutil.which("ray", path=str(Path(sys.executable).parent)):
        return "the ray extra is not installed (pip install -e '.[cpu,dev,ray]', or bash .ci/run)"
    return None


def environment(folder: Path) -> dict[str, str]:
    """Creates ``folder`` with a HOME and a RAY_TMPDIR for Ray; returns them with the marker of its processes."""
    folder = folder.resolve()
    (folder / "home").mkdir(parents=True)
    ray_tmpdir = tempfile.mkdtemp(prefix="bench-ray-")
    (folder / "ray-tmpdir").write_text(ray_tmpdir)
    return {
        "HOME": str(folder / "home"),
        "RAY_TMPDIR": ray_tmpdir,
        # A one-node cluster: Ray otherwise resolves 127.0.0.1 to the machine's network address and its
        # processes talk over that; with multi-node support off every address it uses is 127.0.0.1.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        processes.MARKER: str(folder),
    }


def start(folder: Path) -> dict[str, str]:
    """Starts a head whose files all go to ``folder``; returns the environment of a process that joins it."""
    folder = folder.resolve()
    env = environment(folder)
    ray = str(Path(sys.executable).parent / "ray")
    token_env = {**os.environ, **env, "RAY_AUTH_MODE": "token"}
    subprocess.run([ray, "get-auth-token", "--generate"], env=token_env, capture_output=True, check=True, timeout=60)
    command = [ray, "start", "--head", "--block", "--port=0", "--include-dashboard=false", "--disable-usage-stats"]
    log = folder / "head.log"
    head = processes.start(command, folder, log, {**env, "RAY_AUTH_MODE": "token"})
    (folder / "head.pid").write_text(str(head.pid))
    try:
        processes.wait_until(
            lambda: "Ray runtime started" in log.read_text(errors="replace"), "ray start", START_TIMEOUT_S, head, log
        )
    except BaseException:
        stop(folder)
        raise
    return env


def stop(folder: Path, grace_s: float = 30) -> None:
    """Ends the head in ``folder`` and every process that carries its marker, and removes its RAY_TMPDIR."""
    folder = folder.resolve()
    head_pid = folder / "head.pid"
    head = [p for p in processes.carrying(folder) if head_pid.exists() and str(p.pid) == head_pid.read_text()]
    processes.end(head, grace_s)
    processes.end(processes.carrying(folder), 10)
    remove_ray_tmpdir(folder)


def remove_ray_tmpdir(folder: Path) -> None:
    """Removes the RAY_TMPDIR that ``environment`` made for ``folder``."""
    record = folder.resolve() / "ray-tmpdir"
    if record.exists():
        shutil.rmtree(record.read_text(), ignore_errors=True)


def main() -> None:
    """``python ray_cluster.py start|stop FOLDER``: starts or stops a Ray head by hand."""
    args = processes.parse_command_line(__doc__)
    if args.action == "start":
        reason = missing()
        if reason:
            sys.exit(f"ray_cluster: {reason}")
        env = start(args.folder)
        print("to join it:\n" + "\n".join(f"export {key}={value}" for key, value in env.items()))
    else:
        stop(args.folder)
        processes.exit_if_running("ray_cluster", args.folder)


if __name__ == "__main__":
    main()
