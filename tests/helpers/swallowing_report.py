"""``python -m helpers.swallowing_report WHERE args``: ``python -m bench.report args``, except that a SIGINT
arrives where a library would hide it, then the report goes on as if nothing happened.

WHERE is ``loading`` (the signal arrives inside an import whose ``except BaseException`` swallows what it raises),
``reporting`` (inside the drawing of a figure, swallowed the same way) or ``wrapped`` (inside the drawing of a
figure, turned into a RuntimeError, as Python does with an error raised in a class body).
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
    """Signals once, swallowing what follows, when seaborn (loaded by bench.report as it starts) is imported."""

    def find_spec(self, name, path, target=None):
        if name == "seaborn":
            sys.meta_path.remove(self)
            _swallowed()
        return None


def _signal_while_drawing(wrapped: bool) -> None:
    import bench.plots

    save = bench.plots.save

    def save_after_a_signal(figure, path):
        if not wrapped:
            _swallowed()
        else:
            try:
                _signal_here()
            except BaseException as error:
                raise RuntimeError("Error calling __set_name__") from error
        return save(figure, path)

    bench.plots.save = save_after_a_signal


def main() -> None:
    """Runs bench.report as ``python -m bench.report`` would, with the signal placed as WHERE says."""
    where = sys.argv.pop(1)
    if where == "loading":
        sys.meta_path.insert(0, _SignalOnImport())
    else:
        _signal_while_drawing(wrapped=where == "wrapped")
    runpy.run_module("bench.report", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
