"""The Swimmer (MuJoCo) as a domain of Algorithm 1 (Section 7.2, Figure 3 right).

Datasets and evaluations run the real Swimmer-v5; Q^{pi, p_hat} comes from Eq. 4 in the
MLP-Gaussian model with the known reward, by the fused rollouts of ``rollouts`` (the generic
``value.monte_carlo_q`` computes the same, slower), and so does V^{pi, p_hat} of the optional
state baseline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ...data import TrajectoryBatch
from ...policies import GaussianPolicy
from ..base import MonteCarloQDomain
from . import dynamics as sw

if TYPE_CHECKING:
    from .model import MLPGaussianModel


class SwimmerFeatures:
    """The 8 usual features of the observation: joint angles and velocities."""

    dim = sw.STATE_DIM - 2

    def __call__(self, states: ArrayLike) -> np.ndarray:
        return sw.features(states)


class SwimmerDomain(MonteCarloQDomain["MLPGaussianModel"]):
    """MuJoCo's Swimmer-v5 (``dynamics``); pi is Gaussian with a mean linear in the 8 joint
    features, the model the torch ``MLPGaussianModel`` with the fused rollouts of ``rollouts``."""

    name = "swimmer"
    diagnostic_keys = (
        "model_nll",
        "model_nmse",
        "model_epochs",
        "model_iterations",
        "fit_ess",
        "off_support",
    )
    policy: GaussianPolicy
    reward_and_done = staticmethod(sw.reward_and_done)

    def __init__(
        self,
        gamma: float = 0.99,
        horizon: int = 100,
        policy_std: float = 0.3,
        behaviour_weight_std: float = 0.1,
        rollouts: int = 5,
        evaluation_episodes: int = 20,
        model_learning_rate: float = 3e-3,
        model_batch_size: int = 1000,
        model_warmup_epochs: int = 300,
        model_patience: int = 300,
        model_refit_patience: int = 100,
        model_max_iterations: int = 2000,
        model_memory: int = 100,
        model_holdout: float = 0.2,
        model_joint_limits: bool = True,
    ):
        self.gamma = gamma
        self.horizon = horizon
        self.policy = GaussianPolicy(SwimmerFeatures(), sw.ACTION_DIM, policy_std)
        self.behaviour_weight_std = behaviour_weight_std
        self.rollouts = rollouts
        self.evaluation_episodes = evaluation_episodes
        self.model_settings: dict[str, Any] = {
            "learning_rate": model_learning_rate,
            "batch_size": model_batch_size,
            "warmup_epochs": model_warmup_epochs,
            "patience": model_patience,
            "refit_patience": model_refit_patience,
            "max_iterations": model_max_iterations,
            "memory": model_memory,
            "holdout": model_holdout,
        }
        self.model_joint_limits = model_joint_limits
        self._off_support = np.nan
        self.model_seed = 0
        self.threads = 1
        self.first_fits: str | None = None
        self._envs: list = []

    def behaviour_parameters(self, rng: np.random.Generator) -> np.ndarray:
        """pi_b's weights ~ N(0, behaviour_weight_std^2): a random linear controller. pi_b has the
        learned policy's std: over 100 steps any gap in std compounds into degenerate importance
        weights, so exploration comes from the policy's own noise."""
        return rng.normal(0.0, self.behaviour_weight_std, size=self.policy.dim)

    def set_threads(self, threads: int) -> None:
        """Threads of the model's fits and products, applied when a model is made (model-free
        runs never import torch)."""
        self.threads = threads

    def set_first_fits(self, folder: str | None) -> None:
        """Where ``MLPGaussianModel`` keeps and finds its first fits (``store``)."""
        self.first_fits = folder

    def _env_pool(self, n: int) -> list:
        while len(self._envs) < n:
            self._envs.append(sw.make_env())
        return self._envs[:n]

    def simulate(self, theta: np.ndarray, n: int, rng: np.random.Generator) -> TrajectoryBatch:
        """n real episodes of pi_theta in MuJoCo, stepped side by side so the policy acts on
        whole arrays; each episode's initial state is seeded from ``rng``."""
        envs = self._env_pool(n)
        seeds = rng.integers(2**31, size=n)
        states = np.zeros((n, self.horizon + 1, sw.STATE_DIM))
        actions = np.zeros((n, self.horizon, sw.ACTION_DIM))
        states[:, 0] = [env.reset(seed=int(seed))[0] for env, seed in zip(envs, seeds, strict=True)]
        for t in range(self.horizon):
            actions[:, t] = self.policy.sample(theta, states[:, t], rng)
            states[:, t + 1] = sw.step(envs, actions[:, t])
        rewards = sw.reward(states[:, :-1], actions, states[:, 1:])
        mask = np.ones((n, self.horizon), dtype=bool)
        log_prob = self.policy.log_prob(theta, states[:, :-1], actions)
        return TrajectoryBatch(states, actions, rewards, mask, log_prob)

    def collect(self, theta: np.ndarray, n: int, rng: np.random.Generator) -> TrajectoryBatch:
        return self.simulate(theta, n, rng)

    def make_model(self) -> MLPGaussianModel:
        from .model import MLPGaussianModel, set_threads

        set_threads(self.threads)
        bounds = {i: (-sw.JOINT_LIMIT, sw.JOINT_LIMIT) for i in sw.JOINTS}
        return MLPGaussianModel(
            sw.FEATURES,
            sw.ACTION_LOW,
            sw.ACTION_HIGH,
            seed=self.model_seed,
            threads=self.threads,
            bounds=bounds if self.model_joint_limits else None,
            store=self.first_fits,
            **self.model_settings,
        )

    def diagnostics(self, model: MLPGaussianModel) -> dict[str, float]:
        """The fit's record (held-out NLL and nMSE, epochs, ESS of its weights) and the fraction
        of the last Q computation's model steps that put a joint beyond its limit."""
        return model.diagnostics | {"off_support": self._off_support}

    def rollout_q(
        self,
        model: MLPGaussianModel,
        theta: np.ndarray,
        states: np.ndarray,
        actions: np.ndarray,
        steps: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Eq. 4 by the fused engine of ``rollouts`` (the same law as the generic one)."""
        stats: dict[str, float] = {}
        q = self._fused(model, theta, states, actions, steps, rng, stats)
        self._off_support = stats["off_support"]
        return q

    def rollout_v(
        self,
        model: MLPGaussianModel,
        theta: np.ndarray,
        states: np.ndarray,
        steps: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """V of the state baseline by the fused engine, the first action drawn from pi too
        (``off_support`` keeps describing the Q rollouts)."""
        return self._fused(model, theta, states, None, steps, rng)

    def _fused(
        self,
        model: MLPGaussianModel,
        theta: np.ndarray,
        states: np.ndarray,
        actions: np.ndarray | None,
        steps: np.ndarray,
        rng: np.random.Generator,
        stats: dict[str, float] | None = None,
    ) -> np.ndarray:
        from .rollouts import monte_carlo_q as fused_monte_carlo_q

        return fused_monte_carlo_q(
            model,
            self.policy.weights(theta),
            self.policy.std,
            states,
            actions,
            steps,
            self.gamma,
            self.rollouts,
            rng,
            feature_slice=sw.FEATURES,
            velocity_index=0,
            dt=sw.DT / sw.FORWARD_WEIGHT,
            control_cost=sw.CONTROL_COST,
            action_bounds=(sw.ACTION_LOW, sw.ACTION_HIGH),
            limits=(np.subtract(sw.JOINTS, sw.FEATURES.start), sw.JOINT_LIMIT),
            stats=stats,
        )

    def evaluate(self, theta: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        """J(theta) from ``evaluation_episodes`` real episodes of pi_theta."""
        episodes = self.simulate(theta, self.evaluation_episodes, rng)
        returns = episodes.discounted_returns(self.gamma)
        return {
            "return": float(returns.mean()),
            "return_se": float(returns.std(ddof=1) / np.sqrt(episodes.n)),
        }
