"""The gridworld's model class (Section 7.1): the effect of each action, blind to the state."""

from __future__ import annotations

import numpy as np

from ...models import check_weights
from . import dynamics as dyn
from .censored import censored_categorical_mle


class ActionEffectModel:
    """The gridworld's model class (Section 7.1): p_hat(effect | action), blind to the state.

    A categorical over the five effects (up, down, left, right, stay) for each of the four
    actions. A predicted effect moves the agent one cell, clipped at the grid's edges: the model
    knows neither the two areas nor the one-way boundary. The weighted MLE is weighted counting
    of observed effects; an action with no weight keeps a uniform categorical. The goal of
    ``layout`` is known to be absorbing (the reward is known, Section 2).
    """

    n_actions = len(dyn.ACTIONS)
    n_effects = len(dyn.EFFECTS)

    def __init__(self, layout: dyn.Layout = dyn.PAPER) -> None:
        self.layout = layout
        self.effect_probs = np.full((self.n_actions, self.n_effects), 1.0 / self.n_effects)

    @property
    def moves(self) -> np.ndarray:
        """``moves[s, e]``: where the model moves the agent from s with effect e."""
        return dyn.EDGE_MOVES

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
            targets = self.moves[:, e]
            p[states, :, targets] += self.effect_probs[:, e][None, :]
        terminal = self.layout.terminal
        p[terminal] = np.eye(dyn.N_STATES)[terminal][:, None, :]
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
        next_states = self.moves[states, effects]
        return np.where(self.layout.terminal[states], states, next_states)


class WallAwareEffectModel(ActionEffectModel):
    """The same state-blind p_hat(effect | action), simulated with the layout's walls.

    A reading of Section 7.1 (config key ``model_knows_walls``): a predicted effect moves the
    agent as ``layout.moves`` does, stopped by the grid's edges, by a wall between the areas if
    the layout has one, and by the one-way boundary (a move from the lower area into the upper one
    leaves the agent in place). The model still does not know that the upper area reverses the
    actions. An observed "stay" next to a wall is then ambiguous, so the weighted MLE of
    p_hat(s' | s, a) = sum_e p_hat(e | a) 1[moves(s, e) = s'] is a censored categorical
    (``censored.censored_categorical_mle``); without ambiguity it is weighted counting.
    """

    @property
    def moves(self) -> np.ndarray:
        return self.layout.moves

    def consistent(self, states: np.ndarray, next_states: np.ndarray) -> np.ndarray:
        """[..., E]: which effects take each state to its next state."""
        return self.moves[np.asarray(states)] == np.asarray(next_states)[..., None]

    def fit(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        next_states: np.ndarray,
        weights: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> ActionEffectModel:
        weights = check_weights(weights).ravel()
        consistent = self.consistent(np.ravel(states), np.ravel(next_states))
        code = consistent @ (1 << np.arange(self.n_effects))  # the set of effects, as bits
        set_weights = np.zeros((self.n_actions, 1 << self.n_effects))
        np.add.at(set_weights, (np.ravel(actions), code), weights)
        sets = (np.arange(1 << self.n_effects)[:, None] >> np.arange(self.n_effects)) & 1
        self.effect_probs = censored_categorical_mle(set_weights, sets.astype(bool))
        return self

    def log_prob(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray
    ) -> np.ndarray:
        """log p_hat(s' | s, a) of ``transition_tensor``: the summed probability of the effects
        that lead to s' (the goal is absorbing)."""
        states, next_states = np.asarray(states), np.asarray(next_states)
        probs = np.where(self.consistent(states, next_states), self.effect_probs[actions], 0.0)
        stays = (next_states == states).astype(float)
        with np.errstate(divide="ignore"):
            return np.log(np.where(self.layout.terminal[states], stays, probs.sum(axis=-1)))
