"""A single-node Slurm cluster on this machine, for the tests or by hand.

    python tests/clusters/slurm_cluster.py start FOLDER [--accounting]   # prints the variables to export
    python tests/clusters/slurm_cluster.py stop FOLDER

munged with a fresh key, slurmctld and slurmd on localhost and, with accounting, slurmdbd on a throwaway MariaDB.
Configs, state, logs and pid files go to FOLDER, the munge socket to a folder of its own in the system's temporary
folder (munged wants every folder above its socket open to all), ports are free ones on 127.0.0.1, and nothing
under /etc is read or changed. The node gets this machine's cores and memory. Needs root, Debian's slurm-wlm and
munge, and for accounting slurmdbd and mariadb-server: ``missing()`` says what is not there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from string import Template

import psutil

sys.path.insert(0, str(Path(__file__).parents[1]))  # run as a script: tests/ holds the clusters package
from clusters import processes  # noqa: E402

HERE = Path(__file__).parent
COMMANDS = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel"]
ACCOUNTING_COMMANDS = ["slurmdbd", "mariadbd", "mariadb-install-db", "sacct"]
# MariaDB's defaults write 100 MB of redo log before it starts; a throwaway database needs little of it.
MARIADB_OPTIONS = ["--no-defaults", "--user=root", "--innodb-log-file-size=4M", "--innodb-buffer-pool-size=16M"]
START_TIMEOUT_S = 60


def missing(accounting: bool = False) -> str | None:
    """Why a cluster cannot start on this machine, or None when it can."""
    if os.geteuid() != 0:
        return "the test Slurm cluster runs its daemons as root"
    absent = [name for name in COMMANDS + (ACCOUNTING_COMMANDS if accounting else []) if not shutil.which(name)]
    if absent:
        return f"{', '.join(absent)} not found (Debian: apt-get install slurm-wlm munge slurmdbd mariadb-server)"
    return None


def free_ports(count: int) -> list[int]:
    """``count`` TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    for each in sockets:
        each.bind(("127.0.0.1", 0))
    ports = [each.getsockname()[1] for each in sockets]
    for each in sockets:
        each.close()
    return ports


def accepts(port: int) -> bool:
    """Whether something listens on ``port`` of 127.0.0.1."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def succeeds(env: dict[str, str], *command: str) -> bool:
    """Whether ``command`` exits 0 within 30 s with ``env`` added to the environment."""
    return subprocess.run(command, capture_output=True, timeout=30, env={**os.environ, **env}).returncode == 0


def start(folder: Path, accounting: bool = False) -> Path:
    """Starts the cluster in ``folder`` (created, must not hold one already) and returns its slurm.conf.

    On any failure what was started is stopped again and RuntimeError says which daemon and why.
    """
    folder = folder.resolve()
    for sub in ("state", "spool", "run", "log", "munge", "mysql"):
        (folder / sub).mkdir(parents=True, exist_ok=False)
    try:
        conf = configure(folder, accounting)
        run_daemons(folder, conf, accounting)
    except BaseException:
        stop(folder)
        raise
    return conf


def configure(folder: Path, accounting: bool) -> Path:
    """Writes slurm.conf (and slurmdbd.conf) from the templates next to this file, and a fresh munge key."""
    socket_dir = Path(tempfile.mkdtemp(prefix="bench-munge-"))
    socket_dir.chmod(0o755)
    (folder / "munge" / "socket-dir").write_text(str(socket_dir))
    ctld_port, slurmd_port, dbd_port, mariadb_port = free_ports(4)
    values = {
        "folder": folder,
        "munge_socket": socket_dir / "munge.socket",
        "slurmctld_port": ctld_port,
        "slurmd_port": slurmd_port,
        "slurmdbd_port": dbd_port,
        "mariadb_port": mariadb_port,
        "cpus": os.cpu_count(),
        "memory_mb": psutil.virtual_memory().total // 2**20,
        "accounting": "",
    }
    if accounting:
        values["accounting"] = (
            "AccountingStorageType=accounting_storage/slurmdbd\n"
            f"AccountingStorageHost=localhost\nAccountingStoragePort={dbd_port}\n"
            # slurmctld reaches slurmdbd through this munge socket; without it, through munge's default one
            f"AccountingStoragePass={values['munge_socket']}"
        )
        dbd_conf = folder / "slurmdbd.conf"
        dbd_conf.write_text(Template((HERE / "slurmdbd.conf").read_text()).substitute(values))
        dbd_conf.chmod(0o600)  # slurmdbd refuses a config that others can read
    conf = folder / "slurm.conf"
    conf.write_text(Template((HERE / "slurm.conf").read_text()).substitute(values))
    key = folder / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    (folder / "munge" / "ports").write_text(f"{dbd_port} {mariadb_port}")
    return conf


def run_daemons(folder: Path, conf: Path, accounting: bool) -> None:
    """Starts each daemon and waits until it answers, in the order they need each other."""
    env = {"SLURM_CONF": str(conf)}
    log = folder / "log"
    munge_socket = Path((folder / "munge" / "socket-dir").read_text()) / "munge.socket"
    dbd_port, mariadb_port = map(int, (folder / "munge" / "ports").read_text().split())
    munge = folder / "munge"
    munged = launch(
        folder,
        "munged",
        [
            "munged",
            "--foreground",
            f"--socket={munge_socket}",
            f"--key-file={munge / 'munge.key'}",
            f"--seed-file={munge / 'seed'}",
            f"--pid-file={munge / 'munged.pid'}",
        ],
        env,
    )
    processes.wait_until(munge_socket.exists, "munged", START_TIMEOUT_S, munged, log / "munged.out")
    if accounting:
        data = folder / "mysql" / "data"
        install = subprocess.run(
            [
                "mariadb-install-db",
                *MARIADB_OPTIONS,
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if install.returncode:
            raise RuntimeError(f"mariadb-install-db failed:\n{install.stdout[-2000:]}{install.stderr[-2000:]}")
        mariadb = launch(
            folder,
            "mariadbd",
            [
                "mariadbd",
                *MARIADB_OPTIONS,
                f"--datadir={data}",
                f"--socket={folder / 'mysql' / 'mysqld.sock'}",
                f"--port={mariadb_port}",
                "--bind-address=127.0.0.1",
                f"--pid-file={folder / 'mysql' / 'mariadbd.pid'}",
            ],
            env,
        )
        processes.wait_until(lambda: accepts(mariadb_port), "mariadbd", START_TIMEOUT_S, mariadb, log / "mariadbd.out")
        slurmdbd = launch(folder, "slurmdbd", ["slurmdbd", "-D"], env)
        processes.wait_until(lambda: accepts(dbd_port), "slurmdbd", START_TIMEOUT_S, slurmdbd, log / "slurmdbd.log")
    slurmctld = launch(folder, "slurmctld", ["slurmctld", "-D", "-i"], env)
    processes.wait_until(
        lambda: succeeds(env, "scontrol", "ping"), "slurmctld", START_TIMEOUT_S, slurmctld, log / "slurmctld.log"
    )
    slurmd = launch(folder, "slurmd", ["slurmd", "-D", "-N", "localhost"], env)
    processes.wait_until(lambda: node_state(env) == "idle", "slurmd", START_TIMEOUT_S, slurmd, log / "slurmd.log")


def launch(folder: Path, name: str, command: list[str], env: dict[str, str]) -> psutil.Process:
    """Starts a daemon of the cluster in ``folder``, its output in log/<name>.out and its pid in run/."""
    daemon = processes.start(command, folder, folder / "log" / f"{name}.out", env)
    (folder / "run" / f"{name}.daemon").write_text(str(daemon.pid))
    return daemon


def queued_jobs(env: dict[str, str]) -> list[str]:
    """Ids of the jobs that the cluster still lists as pending, running or completing."""
    shown = subprocess.run(["squeue", "-h", "-o", "%A"], capture_output=True, text=True, env=env, timeout=30)
    return shown.stdout.split()


def node_state(env: dict[str, str]) -> str:
    """The node's state as ``sinfo`` prints it (idle, allocated, down, ...)."""
    shown = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True, timeout=30, env={**os.environ, **env}
    )
    return shown.stdout.strip()


def stop(folder: Path, grace_s: float = 10) -> None:
    """Ends every process of the cluster in ``folder``: its jobs (cancelled first, so that Slurm ends their steps),
    its daemons, and whatever they or its jobs started."""
    folder = folder.resolve()
    env = {**os.environ, "SLURM_CONF": str(folder / "slurm.conf")}
    if (folder / "slurm.conf").exists() and succeeds(env, "scontrol", "ping"):
        jobs = queued_jobs(env)
        if jobs:
            subprocess.run(["scancel", *jobs], capture_output=True, env=env, timeout=30)
            deadline = time.monotonic() + 30
            while queued_jobs(env) and time.monotonic() < deadline:
                time.sleep(0.5)
    processes.end(processes.carrying(folder), grace_s)
    socket_dir = folder / "munge" / "socket-dir"
    if socket_dir.exists():
        shutil.rmtree(socket_dir.read_text(), ignore_errors=True)


def main() -> None:
    """``python slurm_cluster.py start|stop FOLDER [--accounting]``: starts or stops a cluster by hand."""
    args = processes.parse_command_line(__doc__, "--accounting")
    if args.action == "start":
        reason = missing(args.accounting)
        if reason:
            sys.exit(f"slurm_cluster: {reason}")
        started = time.perf_counter()
        conf = start(args.folder, args.accounting)
        marker = f"{processes.MARKER}={args.folder.resolve()}"
        print(f"started in {time.perf_counter() - started:.1f} s; to use it:\nexport SLURM_CONF={conf} {marker}")
    else:
        stop(args.folder)
        processes.exit_if_running("slurm_cluster", args.folder)


if __name__ == "__main__":
    main()
