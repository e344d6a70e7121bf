"""The ``slurm`` preset's launcher: hydra-submitit-launcher's, ending the sweep when Slurm ends a task without a result.

It submits the sweep as one job array exactly as the plugin does, then waits through ``bench.slurm``, which works
with or without Slurm accounting and names every job that ended without a result (cancelled, timed out, out of
memory) in one line. Jobs leave Slurm's time-limit warning to Slurm: a job restarts from its beginning whenever it
runs again, so submitit's checkpoint-and-requeue would only rerun it into the same limit (docs/scaling.md).
"""

from __future__ import annotations

import signal
from importlib.util import find_spec
from pathlib import Path
from typing import Any

# Without the slurm extra there is nothing to extend, and the preset itself cannot be composed.
if find_spec("hydra_plugins.hydra_submitit_launcher"):
    from hydra.core.singleton import Singleton
    from hydra.core.utils import JobReturn, filter_overrides
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as SubmititSlurmLauncher
    from omegaconf import OmegaConf

    from bench import slurm

    class SlurmLauncher(SubmititSlurmLauncher):
        def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
            # Runs in the Slurm task. submitit turns the warning that comes signal_delay_s before the time limit
            # into an error raised wherever the job happens to be; ignored, the job may still finish in time, and
            # otherwise Slurm ends it at the limit (TIMEOUT) after it recorded itself as interrupted on SIGTERM.
            signal.signal(signal.SIGUSR2, signal.SIG_IGN)
            return super().__call__(*args, **kwargs)

        def launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
            import submitit

            assert self.config is not None
            # As hydra-submitit-launcher 1.2 builds and submits the array; only the waiting differs.
            executor = submitit.AutoExecutor(
                cluster="slurm",
                folder=self.params["submitit_folder"],
                slurm_max_num_timeout=self.params["max_num_timeout"],
            )
            base_keys = set(OmegaConf.structured(BaseQueueConf).keys())
            executor.update_parameters(
                **{
                    key if key in base_keys else f"slurm_{key}": value
                    for key, value in self.params.items()
                    if key not in {"submitit_folder", "max_num_timeout"}
                }
            )
            Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
            job_params = []
            for num, overrides in enumerate(job_overrides, start=initial_job_idx):
                slurm.log.info("\t#%d : %s", num, " ".join(filter_overrides(overrides)))
                job_params.append((list(overrides), "hydra.sweep.dir", num, f"job_id_for_{num}", Singleton.get_state()))
            try:
                jobs = executor.map_array(self, *zip(*job_params, strict=True))
            except submitit.core.utils.FailedJobError as error:
                lines = [line.strip().removeprefix("sbatch: error: ") for line in str(error).splitlines()]
                raise slurm.SweepError(f"sbatch refused the sweep: {'; '.join(filter(None, lines[:3]))}") from None
            slurm.log.info("Slurm job array %s: %d job(s)", jobs[0].job_id.split("_")[0], len(jobs))
            return slurm.collect(jobs, [list(o) for o in job_overrides], initial_job_idx)
