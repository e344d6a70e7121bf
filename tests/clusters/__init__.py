"""Real clusters for the launcher tests: a single-node Slurm cluster and a Ray head that the tests start and stop."""
