"""Put on PYTHONPATH (a sweep's workers inherit it): in every process, the job whose folder is named
``$SLOW_RECORD_JOB`` takes ``$SLOW_RECORD_S`` seconds to write its rows, as on a slow disk, so that other
workers end while it still writes its record."""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import time


class _SlowRows(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "bench.store":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            write_results = module.write_results

            def slow_write_results(folder, *args, **kwargs):
                if folder.name == os.environ["SLOW_RECORD_JOB"]:
                    time.sleep(float(os.environ["SLOW_RECORD_S"]))
                return write_results(folder, *args, **kwargs)

            module.write_results = slow_write_results

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get("SLOW_RECORD_JOB"):
    sys.meta_path.insert(0, _SlowRows())
