"""Collect N trajectories of the seed's behaviour policy (rule collect_dataset)."""

from gamps import data, experiment

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
env, n, seed = sm.wildcards.env, int(sm.wildcards.n), int(sm.wildcards.seed)
batch = experiment.collect_dataset(env, sm.params.domain, n, seed)
data.save(batch, sm.output.data)
experiment.log.info(
    "%s: %d trajectories, mean length %.2f", sm.output.data, n, batch.lengths.mean()
)
