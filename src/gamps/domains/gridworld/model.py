"""The gridworld's model class (Section 7.1): the effect of each action, blind to the state."""

from __future__ import annotations

import numpy as np

from ...models import check_weights
from . import dynamics as dyn


class ActionEffectModel:
    """The gridworld's model class (Section 7.1): p_hat(effect | action), blind to the state.

    A categorical over the five effects (up, down, left, right, stay) for each of the four
    actions. A predicted effect moves the agent one cell, clipped at the grid's edges: the model
    knows neither the two areas nor the one-way boundary. The weighted MLE is weighted counting
    of observed effects; an action with no weight keeps a uniform categorical.
    """

    n_actions = len(dyn.ACTIONS)
    n_effects = len(dyn.EFFECTS)

    def __init__(self) -> None:
        self.effect_probs = np.full((self.n_actions, self.n_effects), 1.0 / self.n_effects)

    def warm_start(self, previous: ActionEffectModel | None) -> ActionEffectModel:
        """The weighted MLE is closed form: nothing carries over from a previous fit."""
        return self

    def fit(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        next_states: np.ndarray,
        weights: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> ActionEffectModel:
        effects = dyn.effect_of_transition(states, next_states)
        weights = check_weights(weights)
        counts = np.zeros((self.n_actions, self.n_effects))
        np.add.at(counts, (np.ravel(actions), np.ravel(effects)), weights.ravel())
        totals = counts.sum(axis=1, keepdims=True)
        uniform = np.full_like(counts, 1.0 / self.n_effects)
        self.effect_probs = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), uniform)
        return self

    def transition_tensor(self) -> np.ndarray:
        """p_hat(s' | s, a) as a [S, A, S] tensor (the known goal stays absorbing)."""
        p = np.zeros((dyn.N_STATES, self.n_actions, dyn.N_STATES))
        states = np.arange(dyn.N_STATES)
        for e in range(self.n_effects):
            targets = dyn.clipped_move(states, e)
            p[states, :, targets] += self.effect_probs[:, e][None, :]
        p[dyn.TERMINAL] = np.eye(dyn.N_STATES)[dyn.TERMINAL][:, None, :]
        return p

    def log_prob(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray
    ) -> np.ndarray:
        """log p_hat of the observed effect of each transition."""
        with np.errstate(divide="ignore"):
            return np.log(self.effect_probs[actions, dyn.effect_of_transition(states, next_states)])

    def sample(
        self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        cdf = np.cumsum(self.effect_probs[actions], axis=-1)
        effects = np.minimum(
            (rng.random(np.shape(actions) + (1,)) > cdf).sum(-1), self.n_effects - 1
        )
        next_states = dyn.clipped_move(states, effects)
        return np.where(dyn.TERMINAL[states], states, next_states)
