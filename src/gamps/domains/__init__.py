"""A domain bundles an environment with what Algorithm 1 needs of it: the policy class, the
behaviour policy, batched data collection, the model class, Q^{pi, p_hat} and the evaluation."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..data import TrajectoryBatch
from ..value import monte_carlo_q


class Domain(Protocol):
    gamma: float
    horizon: int

    def behaviour_parameters(self, rng: np.random.Generator) -> np.ndarray: ...

    def collect(self, theta: np.ndarray, n: int, rng: np.random.Generator) -> TrajectoryBatch: ...

    def make_model(self): ...

    def q_values(self, model, theta, batch: TrajectoryBatch, rng) -> np.ndarray: ...

    def evaluate(self, theta: np.ndarray, rng: np.random.Generator) -> dict[str, float]: ...


#: Config keys of each environment that define the domain itself (not the learning settings).
DOMAIN_KEYS = {
    "gridworld": ("gamma", "horizon", "lower_logit", "upper_logit_std"),
    "minigolf": (
        "gamma",
        "horizon",
        "rbf_centres",
        "rbf_width",
        "policy_std",
        "behaviour_std",
        "behaviour_weights",
        "rollouts",
        "evaluation_episodes",
    ),
    "swimmer": (
        "gamma",
        "horizon",
        "policy_std",
        "behaviour_weight_std",
        "rollouts",
        "evaluation_episodes",
        "model_steps",
        "model_warm_steps",
        "model_learning_rate",
    ),
}


class PolicyBatchMixin:
    """The policy quantities of Algorithm 1 on a dataset: log pi, score norms and the contraction
    of gradient coefficients with the scores, at every step of a padded batch."""

    def log_probs(self, theta, batch: TrajectoryBatch) -> np.ndarray:
        return self.policy.log_prob(theta, batch.states[:, :-1], batch.actions)

    def score_norms(self, theta, batch: TrajectoryBatch, q: float) -> np.ndarray:
        return self.policy.score_norm(theta, batch.states[:, :-1], batch.actions, q)

    def scores(self, theta, batch: TrajectoryBatch) -> np.ndarray:
        return self.policy.score(theta, batch.states[:, :-1], batch.actions)

    def score_dot(self, theta, batch: TrajectoryBatch, coef) -> np.ndarray:
        return self.policy.score_dot(theta, batch.states[:, :-1], batch.actions, coef)


class MonteCarloQMixin:
    """Q^{pi, p_hat}(s_t, a_t) at every valid step of a batch by Eq. 4: ``self.rollouts`` model
    rollouts per pair, each to the horizon (T - t steps), with the domain's known
    ``reward_and_done(s, a, s')``. A domain may replace ``rollout_q``, the engine."""

    def q_values(self, model, theta, batch: TrajectoryBatch, rng: np.random.Generator):
        q = np.zeros(batch.mask.shape)
        n_idx, t_idx = np.nonzero(batch.mask)
        q[n_idx, t_idx] = self.rollout_q(
            model,
            theta,
            batch.states[n_idx, t_idx],
            batch.actions[n_idx, t_idx],
            batch.horizon - t_idx,
            rng,
        )
        return q

    def rollout_q(self, model, theta, states, actions, steps, rng: np.random.Generator):
        """Q of each (state, action) pair with ``steps`` steps left: ``value.monte_carlo_q``."""
        return monte_carlo_q(
            model,
            self.policy,
            theta,
            self.reward_and_done,
            states,
            actions,
            steps,
            self.gamma,
            self.rollouts,
            rng,
        )


def make_domain(name: str, params: dict) -> Domain:
    """Build a domain from its name and its section of the config."""
    if name == "gridworld":
        from .gridworld import GridworldDomain

        return GridworldDomain(**params)
    if name == "minigolf":
        from .minigolf import MinigolfDomain

        return MinigolfDomain(**params)
    if name == "swimmer":
        from .swimmer import SwimmerDomain

        return SwimmerDomain(**params)
    raise ValueError(f"unknown environment {name!r}")
