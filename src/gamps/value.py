"""Action-value functions Q^{pi, p} used by the MVG (Section 4.2), and the state values
V^{pi, p}(s) = E_{a ~ pi}[Q^{pi, p}(s, a)] of the optional state baseline.

For finite models the evaluation is exact, by finite-horizon dynamic programming; an episode of
horizon T makes Q depend on the time step t (T - t steps remain).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .models import TransitionModel
from .policies import Policy

#: r(s, a, s') and the termination flag of whole arrays of transitions.
RewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def finite_horizon_q(
    transitions: np.ndarray,
    reward: np.ndarray,
    pi: np.ndarray,
    gamma: float,
    horizon: int,
    terminal: np.ndarray,
) -> np.ndarray:
    """Q_t(s, a) for t = 0..T-1, shape [T, S, A], by backward induction:

    Q_t(s, a) = r(s, a) + gamma sum_{s'} p(s' | s, a) sum_{a'} pi(a' | s') Q_{t+1}(s', a'),
    with Q_T = 0 and Q_t = 0 at terminal states (the episode has ended there).
    """
    n_states, n_actions = reward.shape
    q = np.zeros((horizon + 1, n_states, n_actions))
    live = ~np.asarray(terminal)[:, None]
    for t in range(horizon - 1, -1, -1):
        v_next = np.sum(pi * q[t + 1], axis=1)
        q[t] = np.where(live, reward + gamma * transitions @ v_next, 0.0)
    return q[:horizon]


def expected_return(q0: np.ndarray, pi: np.ndarray, mu: np.ndarray) -> float:
    """J = E_{s_0 ~ mu} E_{a ~ pi}[Q_0(s_0, a)]."""
    return float(mu @ np.sum(pi * q0, axis=1))


def monte_carlo_q(
    model: TransitionModel,
    policy: Policy,
    theta: np.ndarray,
    reward_and_done: RewardFn,
    states: np.ndarray,
    actions: np.ndarray,
    steps: np.ndarray,
    gamma: float,
    rollouts: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Q^{pi, p_hat}(s, a) by Eq. 4 for a whole batch of pairs at once.

    For each of the P pairs (states [P, ds], actions [P, da]), ``rollouts`` = M imaginary
    trajectories start with action a in s, then follow pi_theta in the model for at most
    ``steps`` [P] transitions (the steps left before the horizon), summing gamma^k r with the
    known ``reward_and_done(s, a, s')`` until it signals the end of the episode. All P x M rollouts
    advance together, one array operation per time step, and finished rollouts leave the arrays.
    Returns the mean over the M rollouts, shape [P] (0 where no step is left).
    """
    return _mean_return(
        model, policy, theta, reward_and_done, states, actions, steps, gamma, rollouts, rng
    )


def monte_carlo_v(
    model: TransitionModel,
    policy: Policy,
    theta: np.ndarray,
    reward_and_done: RewardFn,
    states: np.ndarray,
    steps: np.ndarray,
    gamma: float,
    rollouts: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """V^{pi, p_hat}(s) = E_{a ~ pi(.|s)}[Q^{pi, p_hat}(s, a)] (Section 2) by the rollouts of
    Eq. 4 whose first action is drawn from pi_theta too: M rollouts per state, the same engine and
    the same cost as ``monte_carlo_q``. Returns [P], 0 where no step is left."""
    return _mean_return(
        model, policy, theta, reward_and_done, states, None, steps, gamma, rollouts, rng
    )


def _mean_return(
    model: TransitionModel,
    policy: Policy,
    theta: np.ndarray,
    reward_and_done: RewardFn,
    states: np.ndarray,
    actions: np.ndarray | None,
    steps: np.ndarray,
    gamma: float,
    rollouts: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The mean discounted return of M model rollouts from each state; the first action is the
    given one, or drawn from pi_theta when ``actions`` is None."""
    left = np.repeat(np.asarray(steps), rollouts)
    ret = np.zeros(left.size)
    index = np.flatnonzero(left > 0)
    s = np.repeat(np.asarray(states), rollouts, axis=0)[index]
    a = None if actions is None else np.repeat(np.asarray(actions), rollouts, axis=0)[index]
    left = left[index]
    discount, k = 1.0, 0
    while index.size:
        if k > 0 or a is None:
            a = policy.sample(theta, s, rng)
        s_next = model.sample(s, a, rng)
        reward, done = reward_and_done(s, a, s_next)
        ret[index] += discount * reward
        going_on = ~done & (left > k + 1)
        index, s, left = index[going_on], s_next[going_on], left[going_on]
        discount *= gamma
        k += 1
    return ret.reshape(-1, rollouts).mean(axis=1)
