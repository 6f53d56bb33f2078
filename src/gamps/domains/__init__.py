"""A domain bundles an environment with what Algorithm 1 needs of it: the policy class, the
behaviour policy, batched data collection, the model class, Q^{pi, p_hat} and the evaluation."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..data import TrajectoryBatch


class Domain(Protocol):
    gamma: float
    horizon: int

    def behaviour_parameters(self, rng: np.random.Generator) -> np.ndarray: ...

    def collect(self, theta: np.ndarray, n: int, rng: np.random.Generator) -> TrajectoryBatch: ...

    def make_model(self): ...

    def q_values(self, model, theta, batch: TrajectoryBatch, rng) -> np.ndarray: ...

    def evaluate(self, theta: np.ndarray, rng: np.random.Generator) -> dict[str, float]: ...


#: Config keys of each environment that define the domain itself (not the learning settings).
DOMAIN_KEYS = {"gridworld": ("gamma", "horizon", "lower_logit", "upper_logit_std")}


def make_domain(name: str, params: dict) -> Domain:
    """Build a domain from its name and its section of the config."""
    if name == "gridworld":
        from .gridworld import GridworldDomain

        return GridworldDomain(**params)
    raise ValueError(f"unknown environment {name!r}")
