"""Action-value functions Q^{pi, p} used by the MVG (Section 4.2).

For finite models the evaluation is exact, by finite-horizon dynamic programming; an episode of
horizon T makes Q depend on the time step t (T - t steps remain).
"""

from __future__ import annotations

import numpy as np


def finite_horizon_q(transitions, reward, pi, gamma: float, horizon: int, terminal) -> np.ndarray:
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


def expected_return(q0, pi, mu) -> float:
    """J = E_{s_0 ~ mu} E_{a ~ pi}[Q_0(s_0, a)]."""
    return float(mu @ np.sum(pi * q0, axis=1))
