"""Minigolf with two terrains as a domain of Algorithm 1 (Section 7.2, Figure 3 left).

Q^{pi, p_hat} comes from the batched Monte Carlo engine of Eq. 4 in the linear-Gaussian model;
J(theta) from real episodes of the vectorised physics.
"""

from __future__ import annotations

import numpy as np

from ...data import TrajectoryBatch
from ...policies import GaussianPolicy, RadialBasis
from ..base import MonteCarloQDomain
from . import physics as mg
from .model import LinearGaussianModel


class MinigolfDomain(MonteCarloQDomain[LinearGaussianModel]):
    """The putt physics of ``physics``; pi is Gaussian with a mean linear in RBF features of the
    distance, the model the misspecified ``LinearGaussianModel``."""

    name = "minigolf"
    policy: GaussianPolicy

    @staticmethod
    def reward_and_done(
        states: np.ndarray, actions: np.ndarray, next_states: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return mg.reward_and_done(states[..., 0], next_states[..., 0])

    def __init__(
        self,
        gamma: float = 0.99,
        horizon: int = 20,
        rbf_centres: tuple[float, ...] = (0.0, 4.0, 8.0, 12.0, 16.0, 20.0),
        rbf_width: float = 4.0,
        policy_std: float = 0.3,
        behaviour_std: float = 0.45,
        behaviour_weights: tuple[float, float] = (0.25, 0.75),
        rollouts: int = 100,
        evaluation_episodes: int = 10000,
    ):
        self.gamma = gamma
        self.horizon = horizon
        self.features = RadialBasis(rbf_centres, rbf_width)
        self.policy = GaussianPolicy(self.features, 1, policy_std)
        self.behaviour_policy = GaussianPolicy(self.features, 1, behaviour_std)
        self.behaviour_weights = tuple(behaviour_weights)
        self.rollouts = rollouts
        self.evaluation_episodes = evaluation_episodes

    def behaviour_parameters(self, rng: np.random.Generator) -> np.ndarray:
        """pi_b's mean weights, one per RBF centre, i.i.d. uniform on ``behaviour_weights``; pi_b
        uses the explorative ``behaviour_std``, and the same weights start every algorithm."""
        low, high = self.behaviour_weights
        return rng.uniform(low, high, size=self.policy.dim)

    def simulate(
        self, policy: GaussianPolicy, theta: np.ndarray, n: int, rng: np.random.Generator
    ) -> TrajectoryBatch:
        """n real episodes of ``policy``, all simulated together by the shared physics."""
        horizon = self.horizon
        states = np.zeros((n, horizon + 1, 1))
        actions = np.zeros((n, horizon, 1))
        rewards = np.zeros((n, horizon))
        mask = np.zeros((n, horizon), dtype=bool)
        log_prob = np.zeros((n, horizon))
        x = mg.sample_start(rng, n)
        alive = np.ones(n, dtype=bool)
        for t in range(horizon):
            states[:, t, 0] = x
            a = policy.sample(theta, x[:, None], rng)
            x_next = mg.putt(x, a[:, 0], mg.sample_noise(rng, n))
            r, done = mg.reward_and_done(x, x_next)
            mask[:, t] = alive
            actions[:, t] = np.where(alive[:, None], a, 0.0)
            rewards[:, t] = np.where(alive, r, 0.0)
            log_prob[:, t] = np.where(alive, policy.log_prob(theta, x[:, None], a), 0.0)
            x = np.where(alive, x_next, x)
            alive &= ~done
        states[:, horizon, 0] = x
        return TrajectoryBatch(states, actions, rewards, mask, log_prob)

    def collect(self, theta: np.ndarray, n: int, rng: np.random.Generator) -> TrajectoryBatch:
        """The dataset: n episodes of the explorative behaviour policy."""
        return self.simulate(self.behaviour_policy, theta, n, rng)

    def make_model(self) -> LinearGaussianModel:
        return LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH, state_high=mg.COURSE_LENGTH)

    def evaluate(self, theta: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        """J(theta) and the hole rate from ``evaluation_episodes`` real episodes of pi_theta."""
        episodes = self.simulate(self.policy, theta, self.evaluation_episodes, rng)
        terminal_reward = episodes.rewards[np.arange(episodes.n), episodes.lengths - 1]
        holed = (terminal_reward == mg.REWARD_HOLE) & (episodes.states[:, -1, 0] <= 0)
        returns = episodes.discounted_returns(self.gamma)
        return {
            "return": float(returns.mean()),
            "hole_rate": float(holed.mean()),
            "return_se": float(returns.std(ddof=1) / np.sqrt(episodes.n)),
        }
