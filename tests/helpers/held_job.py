"""``python -m helpers.held_job SEED args``: ``python -m bench.run args``, except that the job of seed SEED holds
still just before it trains, until its process is killed; so a test can act while exactly that job is running,
however quickly jobs finish."""

from __future__ import annotations

import runpy
import sys
import time

import bench.engines


def main() -> None:
    """Runs bench.run as ``python -m bench.run`` would, with the job of the seed given first held."""
    held_seed = int(sys.argv.pop(1))
    train = bench.engines.train

    def train_unless_held(cfg, *args):
        while cfg.seed == held_seed:
            time.sleep(1)
        return train(cfg, *args)

    # bench.run, run as __main__ below, takes train from bench.engines as it starts
    bench.engines.train = train_unless_held
    runpy.run_module("bench.run", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
