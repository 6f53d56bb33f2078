"""Off-policy policy-gradient estimators on padded batches (Section 4.3 and Section 7.1).

Each estimator is a weighted sum of scores, grad = 1/N sum_i sum_t c_t^i score_t^i, so each is
written as its coefficients c [N, T]; the policy contracts them with its scores
(``policy.score_dot``) without materialising the [N, T, d] score array. All ratios enter as
log rho_{0:t} [N, T].
"""

from __future__ import annotations

import numpy as np


def discounted_ratios(log_rho: np.ndarray, gamma: float, mask: np.ndarray) -> np.ndarray:
    """gamma^t rho_{0:t}, zero where masked."""
    t = np.arange(mask.shape[1])
    return np.where(mask, np.exp(t * np.log(gamma) + log_rho), 0.0)


def mvg_coefficients(
    log_rho: np.ndarray, q_values: np.ndarray, gamma: float, mask: np.ndarray
) -> np.ndarray:
    """Eq. 5: c_t = gamma^t rho_{0:t} Q^{pi, p_hat}(s_t, a_t)."""
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
