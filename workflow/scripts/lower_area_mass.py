"""Claim 1 over every seed: the mass delta and eta put on the lower area (rule lower_area_mass)."""

import pandas as pd

from gamps import data, experiment, io
from gamps.domains.gridworld import GridworldDomain
from gamps.domains.gridworld.figure1 import lower_area_mass, weight_maps

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
cfg = sm.params.env_config
n = cfg["figure1_trajectories"]
domain = GridworldDomain(**experiment.domain_params("gridworld", cfg))
rows = []
for seed, path in enumerate(sm.input.data):
    batch = data.load(path, expect=experiment.dataset_metadata("gridworld", cfg, n, seed))
    theta = domain.policy.table(batch.meta["behaviour_theta"])
    delta, eta = weight_maps(domain, theta, batch, cfg["q_norm"])
    rows.append(
        {
            "seed": seed,
            "n_trajectories": n,
            "delta_lower": lower_area_mass(delta, domain.layout),
            "eta_lower": lower_area_mass(eta, domain.layout),
        }
    )
io.write_csv(pd.DataFrame(rows), sm.output[0])
