"""Closed-form quantities of a finite MDP: occupancies delta and eta, exact gradient, exact J.

The MDP is episodic with horizon T, so the paper's infinite sums over t stop at T - 1 and
delta_mu(s, a) is proportional to sum_{t<T} gamma^t Pr(s_t = s, a_t = a) (Section 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .value import expected_return, finite_horizon_q


@dataclass(frozen=True)
class FiniteMDP:
    transitions: np.ndarray  # [S, A, S]
    reward: np.ndarray  # [S, A]
    mu: np.ndarray  # [S]
    terminal: np.ndarray  # [S] bool
    gamma: float
    horizon: int


def state_action_occupancy(mdp: FiniteMDP, pi: np.ndarray) -> np.ndarray:
    """Pr(s_t = s, a_t = a, episode still running) for t < T, shape [T, S, A]."""
    d = np.zeros((mdp.horizon, *mdp.reward.shape))
    state = np.where(mdp.terminal, 0.0, mdp.mu)
    for t in range(mdp.horizon):
        d[t] = state[:, None] * pi
        state = np.einsum("sa,sap->p", d[t], mdp.transitions)
        state[mdp.terminal] = 0.0
    return d


def discounted_occupancy(mdp: FiniteMDP, pi: np.ndarray) -> np.ndarray:
    """delta_mu^{pi, p}(s, a), normalised to sum 1, shape [S, A]."""
    d = state_action_occupancy(mdp, pi)
    delta = np.einsum("t,tsa->sa", mdp.gamma ** np.arange(mdp.horizon), d)
    return delta / delta.sum()


def gradient_aware_occupancy(
    mdp: FiniteMDP, pi: np.ndarray, score_norm: np.ndarray, normalise: bool = True
) -> np.ndarray:
    """eta_mu^{pi, p}(s, a) of Theorem 3.2, normalised to sum 1, shape [S, A].

    With ``normalise=False`` the unnormalised sum below is returned; its total is the constant
    that turns eta into a distribution (gamps.bias uses it in Theorem 3.2's bound).

    By Lemma 4.1 (with rho = 1), eta(s, a) is proportional to
    sum_t gamma^t E[1{s_t = s, a_t = a} sum_{l<=t} ||score(s_l, a_l)||_q]. The expectation is
    carried forward exactly together with the occupancy d_t:
        c_t(s, a) = pi(a|s) (m_t(s) + d_t(s) ||score(s, a)||_q),
    where m_t(s) = E[1{s_t = s} sum_{l<t} ||score_l||_q].
    """
    score_norm = np.asarray(score_norm)
    state = np.where(mdp.terminal, 0.0, mdp.mu)
    carried = np.zeros_like(state)
    eta = np.zeros(mdp.reward.shape)
    for t in range(mdp.horizon):
        d = state[:, None] * pi
        c = pi * carried[:, None] + d * score_norm
        eta += mdp.gamma**t * c
        state = np.einsum("sa,sap->p", d, mdp.transitions)
        carried = np.einsum("sa,sap->p", c, mdp.transitions)
        state[mdp.terminal] = 0.0
        carried[mdp.terminal] = 0.0
    return eta / eta.sum() if normalise else eta


def performance(mdp: FiniteMDP, pi: np.ndarray) -> float:
    """Exact J(theta) of the policy table ``pi`` [S, A]."""
    q = finite_horizon_q(mdp.transitions, mdp.reward, pi, mdp.gamma, mdp.horizon, mdp.terminal)
    return expected_return(q[0], pi, mdp.mu)


def boltzmann_gradient(
    mdp: FiniteMDP, pi: np.ndarray, model_transitions: np.ndarray | None = None
) -> np.ndarray:
    """Exact gradient of J for a tabular Boltzmann policy, shape [S, A] (Eq. 1, finite horizon).

    With ``model_transitions`` it is the exact MVG of Eq. 2: the occupancy comes from the true
    MDP and Q^{pi, p_hat} from the model.
        grad[s] = sum_a W(s, a) (e_a - pi(. | s)),  W(s, a) = sum_t gamma^t d_t(s, a) Q_t(s, a).
    """
    p_hat = mdp.transitions if model_transitions is None else model_transitions
    q = finite_horizon_q(p_hat, mdp.reward, pi, mdp.gamma, mdp.horizon, mdp.terminal)
    d = state_action_occupancy(mdp, pi)
    w = np.einsum("t,tsa,tsa->sa", mdp.gamma ** np.arange(mdp.horizon), d, q)
    return w - pi * w.sum(axis=1, keepdims=True)
