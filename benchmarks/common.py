"""What the benchmark scripts share: the paper-scale config, a fitted model, a step counter."""

from pathlib import Path

import numpy as np
import yaml

from gamps import algorithms, experiment
from gamps.domains import make_domain


class CountingModel:
    """Wraps a model and counts the transitions it samples."""

    def __init__(self, model):
        self.model, self.steps = model, 0

    def sample(self, states, actions, rng):
        self.steps += len(states)
        return self.model.sample(states, actions, rng)


def paper_config(env: str) -> dict:
    """An environment's section of the paper-scale config."""
    return yaml.safe_load((Path(__file__).parents[1] / "config/config.yaml").read_text())[env]


def gamps_model_on_a_dataset(env: str, seed: int = 0, rollouts: int | None = None):
    """The domain (with M = ``rollouts`` if given), a paper-scale dataset of ``seed``, pi_b's
    parameters and a counting GAMPS model fitted on the dataset at pi_b."""
    config = paper_config(env)
    domain = make_domain(env, experiment.domain_params(env, config))
    domain.rollouts = rollouts or domain.rollouts
    batch = experiment.collect_dataset(env, config, config["n_trajectories"][0], seed)
    theta = np.asarray(batch.meta["behaviour_theta"])
    log_rho = algorithms.log_ratios(domain, theta, batch)
    model = algorithms.fit_model(domain, "gamps", theta, batch, log_rho, config["q_norm"])
    return domain, batch, theta, CountingModel(model)
