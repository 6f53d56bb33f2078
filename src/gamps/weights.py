"""Importance ratios and the transition weights of model learning (Section 4.1).

Every ratio is kept in log space: rho_{pi/pi_b}(tau_{0:t}) = exp(sum_{l<=t} log pi - log pi_b).
"""

from __future__ import annotations

import numpy as np


def log_importance_ratios(
    target_log_prob: np.ndarray, behaviour_log_prob: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """log rho_{pi/pi_b}(tau_{0:t}) for every t, shape [N, T] (Section 2).

    Steps after termination contribute nothing, so the last column is the whole-trajectory ratio.
    """
    return np.cumsum(np.where(mask, target_log_prob - behaviour_log_prob, 0.0), axis=1)


def log_gamps_weights(
    log_rho: np.ndarray, score_norms: np.ndarray, gamma: float, mask: np.ndarray
) -> np.ndarray:
    """log omega_t of Eq. 3: log(gamma^t rho_{0:t} sum_{l<=t} ||score_l||_q); -inf where masked."""
    cumulative = np.cumsum(np.where(mask, score_norms, 0.0), axis=1)
    t = np.arange(mask.shape[1])
    with np.errstate(divide="ignore"):
        log_w = t * np.log(gamma) + log_rho + np.log(cumulative)
    return np.where(mask, log_w, -np.inf)


def gamps_weights(
    log_rho: np.ndarray, score_norms: np.ndarray, gamma: float, mask: np.ndarray
) -> np.ndarray:
    """omega_t of Eq. 3, rescaled so the largest is 1.

    The argmax of Eq. 3 is unchanged by a positive factor; the rescaling keeps the exponentials
    finite however far pi has moved from pi_b.
    """
    log_w = log_gamps_weights(log_rho, score_norms, gamma, mask)
    top = np.max(log_w)
    if not np.isfinite(top):
        return np.zeros_like(log_w)
    return np.exp(log_w - top)


def ml_weights(mask: np.ndarray) -> np.ndarray:
    """Maximum likelihood: every observed transition weighs 1."""
    return np.asarray(mask, dtype=float)


def effective_sample_size(log_w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 of log-weights, computed in log space.

    0 when every weight is 0; NaN when a log-weight is NaN (flagged degenerate downstream).
    """
    log_w = np.asarray(log_w, dtype=float).ravel()
    if np.any(np.isnan(log_w)):
        return float("nan")
    if not np.any(np.isfinite(log_w)):
        return 0.0
    return float(np.exp(2 * np.logaddexp.reduce(log_w) - np.logaddexp.reduce(2 * log_w)))


def state_action_map(
    states: np.ndarray,
    actions: np.ndarray,
    step_weights: np.ndarray,
    mask: np.ndarray,
    shape: tuple[int, int],
) -> np.ndarray:
    """Per-step weights of a tabular batch accumulated per (s_t, a_t) and normalised to sum 1
    (Figure 1's maps of delta and eta; the sample counterpart of eta in Lemma 4.1). ``states``
    and ``actions`` are [N, T] indices, ``shape`` is (n_states, n_actions)."""
    index = np.ravel_multi_index((states[mask], actions[mask]), shape)
    total = np.bincount(index, weights=step_weights[mask], minlength=int(np.prod(shape)))
    return (total / total.sum() if total.sum() > 0 else total).reshape(shape)
