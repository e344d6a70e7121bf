"""How a run or sweep ends on the command line: an exit code and one line for every known cause, no traceback.

Exit codes: 0 done, 1 failed jobs or a file that could not be written, 2 a bad value or results of other
settings in the way, 75 the folder is in use by another process (EX_TEMPFAIL: try again later), 130 SIGINT,
143 SIGTERM.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench import plan, signals, store, tracking
from bench.schema import ConfigError
from bench.slurm import SweepError

EXIT_BUSY = 75


class StorageError(Exception):
    """A file of the run could not be written; the message names the path and the cause."""


def cannot_write(error: OSError, folder: Path) -> str:
    """'cannot write <path>: <cause>', with ``folder`` where the error names no file (a failed write())."""
    return f"cannot write {error.filename or folder}: {error.strerror or error}"


def one_line(error: BaseException) -> str:
    """A composition or validation error as one line that names the key and what is allowed."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    cause = error.__cause__
    if isinstance(error, MissingConfigException) and error.options:
        group = (error.missing_cfg_file or "").split("/")[0]
        return f"{error.missing_cfg_file}: no such option; {group} is one of {', '.join(sorted(error.options))}"
    if isinstance(error, OverrideParseException) and "LexerNoViableAlt" in str(error):
        key, _, value = error.override.partition("=")
        return (
            f"cannot read {error.override!r}: quote a value with spaces or characters other than letters, "
            f"digits and -_./:, e.g. '{key}=\"{value}\"'"
        )
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        return f"{cause.full_key}: {str(cause.msg).splitlines()[0]}"
    if isinstance(error, OmegaConfBaseException) and getattr(error, "full_key", None):
        return f"{error.full_key}: {str(error.msg).splitlines()[0]}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[:3])


def _os_error(error: BaseException | None) -> OSError | None:
    """The OSError behind an error (logging, for one, turns a run.log it cannot open into a ValueError)."""
    while error is not None and not isinstance(error, OSError):
        error = error.__cause__
    return error


def ending(error: BaseException) -> tuple[int, str] | None:
    """The exit code and the one line for an error that ends a run or sweep; None for a bug (a traceback)."""
    from hydra.errors import HydraException
    from joblib.externals.loky.process_executor import TerminatedWorkerError
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(error, plan.Stopped):
        error = error.args[0]
    if isinstance(error, KeyboardInterrupt):
        return signals.exit_code(error), signals.describe(error)
    if isinstance(error, ConfigError | plan.OtherResults):
        return 2, str(error)
    if isinstance(error, store.FolderBusy):
        return EXIT_BUSY, str(error)
    if isinstance(error, StorageError | tracking.TrackingError | SweepError):
        return 1, str(error)
    if isinstance(error, HydraException | OmegaConfBaseException):
        return 2, one_line(error)
    # after Hydra's errors: MissingConfigException is an IOError too
    cause = _os_error(error)
    if cause is not None:
        return 1, cannot_write(cause, plan.folder())
    if isinstance(error, TerminatedWorkerError):
        codes = re.search(r"exit codes of the workers are (\S+)", str(error))
        how = f" with {codes.group(1)}" if codes else ""
        return 1, f"a worker process ended{how} before its job did (out of memory?); resume runs that job again"
    if isinstance(error, ValueError) and str(error).startswith("Only one of --run, --multirun"):
        return 2, f"{error} (leave out -m to print a sweep's config)"
    return None
