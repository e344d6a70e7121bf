"""``python -m helpers.swallowed_signal WHERE MODULE args``: ``python -m MODULE args``, except that a SIGINT
arrives where a library would hide it, and the command then goes on as if nothing had happened.

WHERE is ``import:PACKAGE`` (the signal arrives as PACKAGE is first imported, inside an ``except BaseException``
that swallows what it raises), ``figure`` (as bench.report saves a figure, swallowed the same way),
``figure-wrapped`` (as bench.report saves a figure, turned into a RuntimeError, as Python does with an error
raised in a class body), ``train-wrapped`` (as bench.run's job starts training, turned into a RuntimeError) or
``after-job`` (as bench.run passes a finished job to its trackers, between two jobs, swallowed). ``swap`` sends
the signal, plainly, as bench.report puts its new report in place, and ``settle`` as bench.run, ending, marks the
jobs left running as interrupted. Several places, comma-separated, each have their signal.
"""

from __future__ import annotations

import importlib
import importlib.abc
import os
import runpy
import signal
import sys
from collections.abc import Callable


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


# WHERE -> (module, function): the signal comes, as the signal function says, each time the function is called
PLACES = {
    "figure": ("bench.plots", "save", _swallowed),
    "figure-wrapped": ("bench.plots", "save", _wrapped),
    "train-wrapped": ("bench.engines", "train", _wrapped),
    "after-job": ("bench.tracking", "log_job", _swallowed),
    "swap": ("bench.report_folder", "_swap_in", _signal_here),
    "settle": ("bench.plan", "settle", _signal_here),
}


def _signal_before_each_call(module_name: str, name: str, signal_there: Callable[[], None]) -> None:
    # the command, run as __main__ below, takes the function from its module as it starts, or calls it there
    module = importlib.import_module(module_name)
    function = getattr(module, name)

    def after_a_signal(*args):
        signal_there()
        return function(*args)

    setattr(module, name, after_a_signal)


def main() -> None:
    """Runs MODULE as ``python -m MODULE`` would, with the signal placed as WHERE says."""
    where, module = sys.argv.pop(1), sys.argv.pop(1)
    for place in where.split(","):
        if place.startswith("import:"):
            sys.meta_path.insert(0, _SignalOnImport(place.removeprefix("import:")))
        else:
            _signal_before_each_call(*PLACES[place])
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
