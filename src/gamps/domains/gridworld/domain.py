"""The two-areas gridworld as a domain of Algorithm 1: exact Q, V and J by dynamic programming."""

from __future__ import annotations

import copy

import numpy as np

from ... import exact
from ...data import TrajectoryBatch
from ...policies import BoltzmannPolicy
from ...value import finite_horizon_q
from ..base import Domain
from . import dynamics as gw
from .model import ActionEffectModel, WallAwareEffectModel


class GridworldDomain(Domain[ActionEffectModel]):
    """The finite MDP of a ``dynamics.Layout``; pi is a tabular Boltzmann policy (theta: 25 x 4
    logits), the model the state-blind ``ActionEffectModel``.

    Three readings of Section 7.1 are arguments (``dynamics`` and ``model`` say why): ``layout``
    (the geometry: ``paper`` or ``walled``), ``initial_states`` (mu over ``rows123`` or the
    ``upper`` area) and ``model_knows_walls`` (the model simulates its effects with the layout's
    walls and one-way boundary, ``WallAwareEffectModel``).
    """

    name = "gridworld"
    policy: BoltzmannPolicy

    def __init__(
        self,
        gamma: float = 0.9,
        horizon: int = 20,
        lower_logit: float = 12.0,
        upper_logit_std: float = 1.0,
        layout: str = "paper",
        initial_states: str = "rows123",
        model_knows_walls: bool = False,
    ):
        self.gamma = gamma
        self.horizon = horizon
        self.lower_logit = lower_logit
        self.upper_logit_std = upper_logit_std
        self.model_knows_walls = model_knows_walls
        self.policy = BoltzmannPolicy(gw.N_STATES, len(gw.ACTIONS))
        self._use(gw.make_layout(layout, initial_states))

    def _use(self, layout: gw.Layout) -> None:
        self.layout = layout
        self.mdp = exact.FiniteMDP(
            layout.transition_tensor(),
            layout.reward,
            layout.mu,
            layout.terminal,
            self.gamma,
            self.horizon,
        )

    def with_layout(self, layout: gw.Layout) -> GridworldDomain:
        """A copy of the domain on another layout, named or not (``dynamics.build_layout``)."""
        other = copy.copy(self)
        other._use(layout)
        return other

    def behaviour_parameters(self, rng: np.random.Generator) -> np.ndarray:
        """pi_b of Section 7.1: random logits N(0, 1) in the upper area; in each lower cell one
        action, drawn uniformly, gets ``lower_logit`` (deterministic in effect)."""
        upper = self.layout.upper
        random_logits = rng.normal(0.0, self.upper_logit_std, size=(gw.N_STATES, len(gw.ACTIONS)))
        chosen = rng.integers(len(gw.ACTIONS), size=gw.N_STATES)
        deterministic = self.lower_logit * np.eye(len(gw.ACTIONS))[chosen]
        return np.where(upper[:, None], random_logits, deterministic).ravel()

    def collect(self, theta: np.ndarray, n: int, rng: np.random.Generator) -> TrajectoryBatch:
        """n episodes of pi_theta in the real gridworld, all simulated together."""
        horizon, grid = self.horizon, self.layout
        states = np.empty((n, horizon + 1), dtype=np.int64)
        actions = np.zeros((n, horizon), dtype=np.int64)
        rewards = np.zeros((n, horizon))
        mask = np.zeros((n, horizon), dtype=bool)
        log_prob = np.zeros((n, horizon))
        s = rng.choice(gw.N_STATES, size=n, p=grid.mu)
        alive = ~grid.terminal[s]
        for t in range(horizon):
            states[:, t] = s
            a = np.where(alive, self.policy.sample(theta, s, rng), 0)
            actions[:, t] = a
            mask[:, t] = alive
            rewards[:, t] = np.where(alive, grid.reward[s, a], 0.0)
            log_prob[:, t] = np.where(alive, self.policy.log_prob(theta, s, a), 0.0)
            s = np.where(alive, grid.next_state[s, a], s)
            alive &= ~grid.terminal[s]
        states[:, horizon] = s
        return TrajectoryBatch(states, actions, rewards, mask, log_prob)

    def make_model(self) -> ActionEffectModel:
        model = WallAwareEffectModel if self.model_knows_walls else ActionEffectModel
        return model(self.layout)

    def q_table(self, model: ActionEffectModel, theta: np.ndarray) -> np.ndarray:
        """Q_t^{pi, p_hat}(s, a) of every step, state and action, [T, S, A], exact (Section 4.2)."""
        return finite_horizon_q(
            model.transition_tensor(),
            self.layout.reward,
            self.policy.probs(theta),
            self.gamma,
            self.horizon,
            self.layout.terminal,
        )

    def q_values(
        self,
        model: ActionEffectModel,
        theta: np.ndarray,
        batch: TrajectoryBatch,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Q_t^{pi, p_hat}(s_t, a_t) at every step of the batch, exact (Section 4.2)."""
        q = self.q_table(model, theta)
        t = np.arange(batch.horizon)[None, :]
        return q[t, batch.states[:, :-1], batch.actions]

    def state_values(
        self,
        model: ActionEffectModel,
        theta: np.ndarray,
        batch: TrajectoryBatch,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """V_t^{pi, p_hat}(s_t) = sum_a pi(a | s_t) Q_t(s_t, a) at every step, exact, from the
        same dynamic-programming table as ``q_values``."""
        v = np.sum(self.policy.probs(theta) * self.q_table(model, theta), axis=-1)
        return v[np.arange(batch.horizon)[None, :], batch.states[:, :-1]]

    def evaluate(
        self, theta: np.ndarray, rng: np.random.Generator | None = None
    ) -> dict[str, float]:
        """The exact expected return J(theta) in the real gridworld."""
        return {"return": exact.performance(self.mdp, self.policy.probs(theta))}
