"""Off-policy policy-gradient estimators on padded batches (Section 4.3 and Section 7.1).

Each estimator is a weighted sum of scores, grad = 1/N sum_i sum_t c_t^i score_t^i, so each is
written as its coefficients c [N, T]; the policy contracts them with its scores
(``policy.score_dot``) without materialising the [N, T, d] score array. All ratios enter as
log rho_{0:t} [N, T].

State baseline (``Settings.baseline = "state"``, a declared reading: the paper uses none).
Subtracting from the signal at step t a b_t that, given the history up to s_t, does not depend on
a_t leaves every estimator's expectation unchanged: E_{a ~ pi_b}[rho score b] =
b E_{a ~ pi}[score] = 0, also with the per-decision ratios rho_{0:t}, conditionally on the
history. The model-based estimators (Eq. 5) use V^{pi, p_hat}(s_t), so their signal becomes
Q - V (``mvg_coefficients`` on the advantage); the model-free ones, which have no value model,
use leave-one-out batch averages (``reinforce_baseline_coefficients``,
``pgt_baseline_coefficients``).
"""

from __future__ import annotations

import numpy as np

#: The values of ``Settings.baseline``: none (the paper's estimators) or a state baseline.
BASELINES = ("none", "state")


def discounted_ratios(log_rho: np.ndarray, gamma: float, mask: np.ndarray) -> np.ndarray:
    """gamma^t rho_{0:t}, zero where masked."""
    t = np.arange(mask.shape[1])
    return np.where(mask, np.exp(t * np.log(gamma) + log_rho), 0.0)


def mvg_coefficients(
    log_rho: np.ndarray, q_values: np.ndarray, gamma: float, mask: np.ndarray
) -> np.ndarray:
    """Eq. 5: c_t = gamma^t rho_{0:t} Q^{pi, p_hat}(s_t, a_t). With the state baseline the
    signal is the advantage Q^{pi, p_hat}(s_t, a_t) - V^{pi, p_hat}(s_t)."""
    return discounted_ratios(log_rho, gamma, mask) * np.where(mask, q_values, 0.0)


def reinforce_coefficients(
    log_rho: np.ndarray, rewards: np.ndarray, gamma: float, mask: np.ndarray
) -> np.ndarray:
    """REINFORCE with per-trajectory importance sampling: c_t = rho_{0:T-1} sum_t' gamma^t' r_t',
    the same for every step of a trajectory."""
    t = np.arange(mask.shape[1])
    ret = np.where(mask, rewards, 0.0) @ gamma**t
    return np.where(mask, (np.exp(log_rho[:, -1]) * ret)[:, None], 0.0)


def pgt_coefficients(
    log_rho: np.ndarray, rewards: np.ndarray, gamma: float, mask: np.ndarray
) -> np.ndarray:
    """PGT with per-decision importance sampling:
    sum_t gamma^t rho_{0:t} score_t sum_{t'>=t} gamma^{t'-t} rho_{t+1:t'} r_{t'}, so
    c_t = sum_{t'>=t} gamma^{t'} rho_{0:t'} r_{t'} (a reversed cumulative sum)."""
    reward_terms = discounted_ratios(log_rho, gamma, mask) * np.where(mask, rewards, 0.0)
    to_go = np.cumsum(reward_terms[:, ::-1], axis=1)[:, ::-1]
    return np.where(mask, to_go, 0.0)


def leave_one_out_mean(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """For every row i, the mean of ``values`` over the other rows j != i where ``present``,
    column by column (axis 0); 0 where no other row is present."""
    kept = np.where(present, values, 0.0)
    others = present.sum(axis=0) - present
    total = kept.sum(axis=0) - kept
    return np.where(others > 0, total / np.maximum(others, 1), 0.0)


def reinforce_baseline_coefficients(
    log_rho: np.ndarray, rewards: np.ndarray, gamma: float, mask: np.ndarray
) -> np.ndarray:
    """REINFORCE with per-trajectory importance sampling and a leave-one-out baseline:
    c_t^i = rho^i_{0:T-1} (G^i - b^i), G^i = sum_t gamma^t r_t^i, b^i = the mean of G^j over the
    other trajectories j != i. Unbiased: b^i depends only on trajectories independent of tau^i,
    and E[rho_{0:T-1} sum_t score_t] = E_pi[sum_t score_t] = 0. (A mean that included G^i would
    correlate with tau^i's own score and bias the estimate by O(1/N).)"""
    t = np.arange(mask.shape[1])
    ret = np.where(mask, rewards, 0.0) @ gamma**t
    baseline = leave_one_out_mean(ret, np.ones(ret.shape, dtype=bool))
    return np.where(mask, (np.exp(log_rho[:, -1]) * (ret - baseline))[:, None], 0.0)


def pgt_baseline_coefficients(
    log_rho: np.ndarray, rewards: np.ndarray, gamma: float, mask: np.ndarray
) -> np.ndarray:
    """PGT with per-decision importance sampling and a time-dependent leave-one-out baseline:
    c_t^i = sum_{t'>=t} gamma^{t'} rho_{0:t'} r_{t'} - gamma^t rho_{0:t} b_t^i, where b_t^i is the
    mean, over the other trajectories j != i still running at t, of their reward-to-go
    G_t^j = sum_{t'>=t} gamma^{t'-t} rho_{t+1:t'} r_{t'} (the estimate of Q(s_t^j, a_t^j) that PGT
    uses). Unbiased: b_t^i is independent of tau^i, so given tau^i up to s_t,
    E[gamma^t rho_{0:t} score_t b_t^i] = gamma^t rho_{0:t-1} b_t^i E_{a ~ pi}[score_t] = 0.
    (Including G_t^i in its own baseline would bias the estimate by O(1/N).)"""
    horizon = mask.shape[1]
    valid_rewards = np.where(mask, rewards, 0.0)
    # G_t = r_t + gamma rho_{t+1} G_{t+1}, the step ratio rho_{t+1} = rho_{0:t+1} / rho_{0:t}
    step_ratio = np.exp(np.where(mask[:, 1:], log_rho[:, 1:] - log_rho[:, :-1], 0.0))
    to_go = np.zeros(mask.shape)
    to_go[:, -1] = valid_rewards[:, -1]
    for t in range(horizon - 2, -1, -1):  # over time steps, on whole columns
        to_go[:, t] = valid_rewards[:, t] + gamma * step_ratio[:, t] * to_go[:, t + 1]
    baseline = leave_one_out_mean(to_go, mask)
    plain = pgt_coefficients(log_rho, rewards, gamma, mask)
    return plain - discounted_ratios(log_rho, gamma, mask) * baseline
