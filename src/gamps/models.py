"""The contract of a transition model p_hat, fitted by the weighted maximum likelihood of Eq. 3.

Each environment's model classes live in its package (``gamps.domains.<name>.model``); Algorithm 1
and the diagnostics only use what ``TransitionModel`` declares.
"""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike


@runtime_checkable
class TransitionModel(Protocol):
    """A model class of Algorithm 1 (line 4).

    ``fit(states, actions, next_states, weights, groups)`` maximises
    sum_i sum_t omega_t^i log p_hat(s_{t+1}^i | s_t^i, a_t^i) over the class (Eq. 3) and returns
    the model (``groups``, the trajectory index i of every transition, lets an iterative fit hold
    out whole trajectories; closed-form fits ignore it); ``sample(states, actions, rng)`` draws
    next states for whole arrays;
    ``log_prob(states, actions, next_states)`` scores transitions; ``warm_start(previous)``
    lets an iterative fit start from the previous iteration's model (a no-op for closed-form
    fits) and returns the model.
    """

    def fit(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        next_states: np.ndarray,
        weights: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> Self: ...

    def sample(
        self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray: ...

    def log_prob(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray
    ) -> np.ndarray: ...

    def warm_start(self, previous: Self | None) -> Self: ...


def check_weights(weights: ArrayLike) -> np.ndarray:
    """The weights of a weighted MLE as a float array; an error unless finite and non-negative."""
    weights = np.asarray(weights, dtype=float)
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("model weights must be finite and non-negative")
    return weights
