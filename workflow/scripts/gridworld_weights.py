"""The data of Figure 1: delta and eta per (cell, action) from pi_b's trajectories."""

import json

from gamps import data, experiment, io
from gamps.domains.gridworld import GridworldDomain
from gamps.domains.gridworld.figure1 import weight_maps, weights_table

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
cfg = sm.params.env_config
expected = experiment.dataset_metadata("gridworld", cfg, cfg["figure1_trajectories"], 0)
batch = data.load(sm.input.data[0], expect=expected)
domain = GridworldDomain(**experiment.domain_params("gridworld", cfg))
theta = domain.policy.table(batch.meta["behaviour_theta"])
delta, eta = weight_maps(domain, theta, batch, cfg["q_norm"])
io.write_csv(weights_table(delta, eta), sm.output.weights)
io.atomic_write_text(sm.output.policy, json.dumps({"theta": theta.tolist()}) + "\n")
