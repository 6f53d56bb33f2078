"""Exact gradient-bias diagnostics of one run seed on the gridworld (rule gradient_bias)."""

import csv

from gamps import data, experiment, io
from gamps.domains.gridworld.gradient_bias import gradient_bias

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
cfg, seed = sm.params.env_config, int(sm.wildcards.seed)
datasets, returns = {}, {}
for n, dataset, run in zip(cfg["n_trajectories"], sm.input.data, sm.input.runs, strict=True):
    expected = experiment.dataset_metadata("gridworld", cfg, n, seed)
    datasets[n] = data.load(dataset, expect=expected)
    with open(run, newline="") as handle:
        returns[n] = [float(row["return"]) for row in csv.DictReader(handle)]
rows = gradient_bias(cfg, sm.params.bias_config, seed, datasets, returns)
io.write_records(rows, sm.output[0])
