"""Collect N trajectories of each seed's behaviour policy (rule collect_dataset: one seed; a
seed-batched environment's rule: every seed of an N)."""

from gamps import data, experiment

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
n = int(sm.wildcards.n)
for seed, path in zip(sm.params.seeds, sm.output.data, strict=True):
    batch = experiment.collect_dataset(sm.params.env, sm.params.domain, n, seed)
    data.save(batch, path)
    experiment.log.info("%s: %d trajectories, mean length %.2f", path, n, batch.lengths.mean())
