"""A report folder replaced whole: the new report is written into a temporary folder beside it and swapped in.

A process killed at any moment, even with SIGKILL, leaves either the old complete report or the new complete one
under the report's name, never a mix of both and never a truncated file: files are written into
``.<name>.<random>.staging`` next to the report folder (not ``.tmp``: the next run of a job removes stale
``.*.tmp`` files from its folder, where a report of that one job goes), flushed to disk, and the two folders are
exchanged in one ``renameat2(RENAME_EXCHANGE)`` call (Linux 3.15+, called through ctypes since Python has no
binding for it). Where the file system cannot exchange, the old folder is renamed aside and the new one renamed
in: a kill between the two renames leaves no report under the name, and the old one complete under its temporary
name.

One report writes a folder at a time (a blocking ``flock`` on ``.<name>.lock`` beside it), so temporary folders a
killed report left behind can be removed by the next one.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# What a report folder holds; a folder with anything else is not replaced.
REPORT_SUFFIXES = (".csv", ".png", ".md", ".html")
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


class NotAReport(Exception):
    """The output folder holds files that are not a report's; the message names one."""


def _check_replaceable(target: Path) -> None:
    if not target.exists():
        return
    if not target.is_dir():
        raise NotAReport(f"{target} is a file, not a report folder; choose another --out")
    other = next((p for p in sorted(target.iterdir()) if not p.is_file() or p.suffix not in REPORT_SUFFIXES), None)
    if other is not None:
        raise NotAReport(
            f"{target} holds {other.name}, which is not a report file ({', '.join(REPORT_SUFFIXES)}); "
            "choose another --out, or move it"
        )


def _exchange(first: Path, second: Path) -> bool:
    """Swaps two paths in one step; False where the system or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _flush(folder: Path) -> None:
    """Writes every file of ``folder``, and the folder itself, through to the disk."""
    for path in [*folder.iterdir(), folder]:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _swap_in(staging: Path, target: Path) -> None:
    _flush(staging)
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        shutil.rmtree(staging)  # now the old report
    else:
        old = staging.with_name(f"{staging.name}.old")
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old)


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """Yields an empty temporary folder; when the block ends without an error, it becomes ``target``.

    Raises:
        NotAReport: ``target`` exists and holds something other than report files (nothing is written).
        OSError: a folder cannot be made, written or renamed (the old report is left as it was).
    """
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in target.parent.glob(f".{target.name}.*.staging*"):
            shutil.rmtree(stale, ignore_errors=True)
        _check_replaceable(target)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".staging"))
        try:
            os.chmod(staging, 0o777 & ~_umask())
            yield staging
            _swap_in(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    # os.umask can only be read by setting it
    mask = os.umask(0)
    os.umask(mask)
    return mask
