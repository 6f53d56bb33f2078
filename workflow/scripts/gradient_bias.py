"""Exact gradient-bias diagnostics of every run seed on the gridworld (rule gradient_bias), one
file per seed."""

import csv

from gamps import data, experiment, io
from gamps.domains.gridworld.gradient_bias import gradient_bias

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
cfg = sm.params.env_config
sizes = cfg["n_trajectories"]
# The inputs are seed-major: every N of the first seed, then of the next.
inputs = list(zip(sm.input.data, sm.input.runs, strict=True))
for i, (seed, output) in enumerate(zip(sm.params.seeds, sm.output, strict=True)):
    datasets, returns = {}, {}
    of_seed = inputs[i * len(sizes) : (i + 1) * len(sizes)]
    for n, (dataset, run) in zip(sizes, of_seed, strict=True):
        expected = experiment.dataset_metadata("gridworld", cfg, n, seed)
        datasets[n] = data.load(dataset, expect=expected)
        with open(run, newline="") as handle:
            returns[n] = [float(row["return"]) for row in csv.DictReader(handle)]
    io.write_records(gradient_bias(cfg, sm.params.bias_config, seed, datasets, returns), output)
