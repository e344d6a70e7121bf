"""``python -m helpers.swallowed_signal WHERE MODULE args``: ``python -m MODULE args``, except that a SIGINT
arrives where a library would hide it, and the command then goes on as if nothing had happened.

WHERE is ``import:PACKAGE`` (the signal arrives as PACKAGE is first imported, inside an ``except BaseException``
that swallows what it raises), ``figure`` (as bench.report saves a figure, swallowed the same way),
``figure-wrapped`` (as bench.report saves a figure, turned into a RuntimeError, as Python does with an error
raised in a class body), ``train-wrapped`` (as bench.run's job starts training, turned into a RuntimeError) or
``after-job`` (as bench.run passes a finished job to its trackers, between two jobs, swallowed). ``swap`` sends
the signal, plainly, as bench.report puts its new report in place.
"""

from __future__ import annotations

import importlib.abc
import os
import runpy
import signal
import sys


def _signal_here() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(1000):  # Python runs the handler between two bytecodes
        pass


def _swallowed() -> None:
    try:
        _signal_here()
    except BaseException:  # noqa: BLE001 - what some libraries do
        pass


class _SignalOnImport(importlib.abc.MetaPathFinder):
    """Signals once, swallowing what follows, when ``package`` is first imported."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, name, path, target=None):
        if name == self.package:
            sys.meta_path.remove(self)
            _swallowed()
        return None


def _wrapped() -> None:
    try:
        _signal_here()
    except BaseException as error:
        raise RuntimeError("Error calling __set_name__") from error


def _signal_as_training_starts() -> None:
    import bench.engines

    train = bench.engines.train

    def train_after_a_signal(*args):
        _wrapped()
        return train(*args)

    # bench.run, run as __main__, takes train from bench.engines as it starts
    bench.engines.train = train_after_a_signal


def _signal_after_each_job() -> None:
    import bench.tracking

    log_job = bench.tracking.log_job

    def log_job_after_a_signal(*args):
        _swallowed()
        return log_job(*args)

    bench.tracking.log_job = log_job_after_a_signal


def _signal_as_the_report_is_swapped_in() -> None:
    import bench.report_folder

    swap_in = bench.report_folder._swap_in

    def swap_in_after_a_signal(*args):
        _signal_here()
        return swap_in(*args)

    bench.report_folder._swap_in = swap_in_after_a_signal


def _signal_while_saving_a_figure(wrapped: bool) -> None:
    import bench.plots

    save = bench.plots.save

    def save_after_a_signal(figure, path):
        _wrapped() if wrapped else _swallowed()
        return save(figure, path)

    bench.plots.save = save_after_a_signal


def main() -> None:
    """Runs MODULE as ``python -m MODULE`` would, with the signal placed as WHERE says."""
    where, module = sys.argv.pop(1), sys.argv.pop(1)
    if where.startswith("import:"):
        sys.meta_path.insert(0, _SignalOnImport(where.removeprefix("import:")))
    elif where == "train-wrapped":
        _signal_as_training_starts()
    elif where == "after-job":
        _signal_after_each_job()
    elif where == "swap":
        _signal_as_the_report_is_swapped_in()
    else:
        _signal_while_saving_a_figure(wrapped=where == "figure-wrapped")
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
