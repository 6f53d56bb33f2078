"""The contract between an environment and Algorithm 1: everything the loop and the pipeline call.

A domain bundles an environment with the policy class, the behaviour policy, batched data
collection, the model class, Q^{pi, p_hat} on a dataset (and V^{pi, p_hat}, for the optional state
baseline of Eq. 5) and the evaluation of J(theta). Its
constructor's keyword arguments are its config keys (``config_keys``): the pipeline passes exactly
these, so they are declared once, with their paper-scale defaults.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

import numpy as np

from ..data import TrajectoryBatch
from ..models import TransitionModel
from ..policies import Policy
from ..value import monte_carlo_q, monte_carlo_v

#: The domain's model class.
ModelT = TypeVar("ModelT", bound=TransitionModel)


class Domain(ABC, Generic[ModelT]):
    """An environment as Algorithm 1 sees it.

    Subclasses set ``gamma``, ``horizon`` and ``policy`` (the learned policy class) in their
    constructor and implement the abstract methods; the policy quantities on a dataset
    (``log_probs``, ``score_norms``, ``score_dot``) follow from ``policy``.
    """

    #: The environment's name in the config and in every output path.
    name: ClassVar[str]
    #: Per-iteration diagnostics of the model-based algorithms (``diagnostics``), columns of
    #: every run of the domain (NaN where an algorithm fits no model).
    diagnostic_keys: ClassVar[tuple[str, ...]] = ()
    gamma: float
    horizon: int
    policy: Policy

    @classmethod
    def config_keys(cls) -> tuple[str, ...]:
        """The config keys that define the domain (and so its datasets): the constructor's."""
        parameters = inspect.signature(cls.__init__).parameters
        return tuple(name for name in parameters if name != "self")

    @classmethod
    def defaults(cls) -> dict:
        """The constructor's defaults: the paper-scale values of ``config_keys``."""
        parameters = inspect.signature(cls.__init__).parameters
        return {k: p.default for k, p in parameters.items() if k != "self"}

    @abstractmethod
    def behaviour_parameters(self, rng: np.random.Generator) -> np.ndarray:
        """theta of the behaviour policy pi_b of a run seed (also every algorithm's start)."""

    @abstractmethod
    def collect(self, theta: np.ndarray, n: int, rng: np.random.Generator) -> TrajectoryBatch:
        """The dataset: n trajectories of pi_b in the real environment."""

    @abstractmethod
    def make_model(self) -> ModelT:
        """An unfitted instance of the domain's model class."""

    @abstractmethod
    def q_values(
        self,
        model: ModelT,
        theta: np.ndarray,
        batch: TrajectoryBatch,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Q^{pi_theta, p_hat}_t(s_t, a_t) at every step of the batch, [N, T] (0 where masked)."""

    def state_values(
        self,
        model: ModelT,
        theta: np.ndarray,
        batch: TrajectoryBatch,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """V^{pi_theta, p_hat}_t(s_t) = E_{a ~ pi_theta}[Q_t(s_t, a)] at every step of the batch,
        [N, T], independent of the stored actions given the states: the state baseline of Eq. 5
        (``Settings.baseline = "state"``). Optional: without it, that baseline is unavailable."""
        raise NotImplementedError(
            f"the {self.name} domain gives no state values V^(pi, p_hat): "
            "the state baseline is not available there"
        )

    @abstractmethod
    def evaluate(self, theta: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        """J(theta) in the real environment as ``{"return": ...}``, plus any further metrics."""

    def diagnostics(self, model: ModelT) -> dict[str, float]:
        """The ``diagnostic_keys`` of an iteration whose gradient used ``model``."""
        return {}

    def set_threads(self, threads: int) -> None:  # noqa: B027 (optional hook, no-op by default)
        """Threads for the domain's numerical back end (torch); numpy domains ignore it."""

    def set_first_fits(self, folder: str | None) -> None:  # noqa: B027 (optional hook)
        """A folder where the domain's models keep their first fits, for runs that share one to
        read (a domain whose fits are cheap keeps none)."""

    def log_probs(self, theta: np.ndarray, batch: TrajectoryBatch) -> np.ndarray:
        """log pi_theta(a_t | s_t) at every step, [N, T]."""
        return self.policy.log_prob(theta, batch.states[:, :-1], batch.actions)

    def score_norms(self, theta: np.ndarray, batch: TrajectoryBatch, q: float) -> np.ndarray:
        """||grad_theta log pi_theta(a_t | s_t)||_q at every step (Eq. 3), [N, T]."""
        return self.policy.score_norm(theta, batch.states[:, :-1], batch.actions, q)

    def score_dot(self, theta: np.ndarray, batch: TrajectoryBatch, coef: np.ndarray) -> np.ndarray:
        """sum_{i,t} coef_t^i grad_theta log pi_theta(a_t^i | s_t^i), [dim]."""
        return self.policy.score_dot(theta, batch.states[:, :-1], batch.actions, coef)


class MonteCarloQDomain(Domain[ModelT]):
    """A domain whose Q^{pi, p_hat} comes from Eq. 4: ``rollouts`` model rollouts per pair, each to
    the horizon (T - t steps), with the known ``reward_and_done(s, a, s')``; V^{pi, p_hat} of the
    state baseline from as many rollouts per state, whose first action is drawn from pi too (so
    the baseline doubles the rollouts). A subclass may replace ``rollout_q`` and ``rollout_v``,
    the engines."""

    rollouts: int

    @abstractmethod
    def reward_and_done(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The known reward r(s, a, s') and termination flag of whole arrays of transitions."""

    def q_values(
        self,
        model: ModelT,
        theta: np.ndarray,
        batch: TrajectoryBatch,
        rng: np.random.Generator,
    ) -> np.ndarray:
        n_idx, t_idx = np.nonzero(batch.mask)
        states, actions = batch.states[n_idx, t_idx], batch.actions[n_idx, t_idx]
        q = self.rollout_q(model, theta, states, actions, batch.horizon - t_idx, rng)
        return _on_valid_steps(batch, q)

    def state_values(
        self,
        model: ModelT,
        theta: np.ndarray,
        batch: TrajectoryBatch,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """V^{pi, p_hat}_t(s_t) at every valid step, [N, T] (0 where masked), by ``rollout_v``:
        fresh rollouts from the states alone, so the estimate is independent of the stored
        actions (and of the Q rollouts) given the states, as the baseline needs."""
        n_idx, t_idx = np.nonzero(batch.mask)
        v = self.rollout_v(model, theta, batch.states[n_idx, t_idx], batch.horizon - t_idx, rng)
        return _on_valid_steps(batch, v)

    def rollout_q(
        self,
        model: ModelT,
        theta: np.ndarray,
        states: np.ndarray,
        actions: np.ndarray,
        steps: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
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

    def rollout_v(
        self,
        model: ModelT,
        theta: np.ndarray,
        states: np.ndarray,
        steps: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """V of each state with ``steps`` steps left: ``value.monte_carlo_v``."""
        return monte_carlo_v(
            model,
            self.policy,
            theta,
            self.reward_and_done,
            states,
            steps,
            self.gamma,
            self.rollouts,
            rng,
        )


def _on_valid_steps(batch: TrajectoryBatch, values: np.ndarray) -> np.ndarray:
    """[N, T] with ``values`` at the valid steps (in ``np.nonzero(batch.mask)`` order), 0 else."""
    out = np.zeros(batch.mask.shape)
    out[batch.mask] = values
    return out
