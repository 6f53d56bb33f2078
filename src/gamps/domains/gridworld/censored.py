"""Weighted maximum likelihood of categoricals observed through sets of categories (censoring).

The walls-aware action-effect model (``model.WallAwareEffectModel``) sees an effect only through
its outcome: a "stay" next to a wall could be the effect "stay" or a blocked move. Its weighted
MLE (Eq. 3) is then, for each action k, the maximiser over the simplex of

    L_k(p) = sum_j w_kj log sum_e C_je p_e,

with w_kj the total weight of the transitions of action k whose outcome is consistent with the
set of effects C_j. L_k is concave (a sum of logs of linear functions). EM converges to its
maximum but can need 10^5 steps and more when a category is seen alone with a small weight and in
a set with a large one, so the maximum is found here by a primal-dual interior-point method
(Newton steps on the perturbed optimality conditions over the simplex), and certified by the
Frank-Wolfe duality gap: for the mean log-likelihood l_k = L_k / W_k, W_k = sum_j w_kj,

    max_p l_k(p) - l_k(p_hat) <= max_e g_e - 1,  g = grad l_k(p_hat),

because l_k is concave and p_hat . g = 1. A group whose weighted sets are all singletons has the
closed form, weighted counting, computed as such (bit for bit).
"""

from __future__ import annotations

import numpy as np

#: The fit must bring the duality gap of the mean log-likelihood below this (nats).
TOLERANCE = 1e-12
MAX_ITERATIONS = 200
#: Centring parameter of the interior-point steps and the fraction of the way to the boundary.
CENTRING, TO_BOUNDARY = 0.1, 0.99


def duality_gap(weights: np.ndarray, sets: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """max_e g_e - 1 per group k, g the gradient of the mean log-likelihood at ``probs``: a bound
    on how far ``probs`` is from its maximum (0 for a group without weight; inf where a weighted
    set has probability 0)."""
    weights = np.asarray(weights, dtype=float)
    covered = probs @ sets.T.astype(float)  # [K, J]: the probability of each set
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(weights > 0, weights / covered, 0.0)
    total = weights.sum(axis=1)
    gradient = ratio @ sets.astype(float) / np.where(total > 0, total, 1.0)[:, None]
    return np.where(total > 0, gradient.max(axis=1) - 1.0, 0.0)


def _interior_point(
    weights: np.ndarray, sets: np.ndarray, tolerance: float, max_iterations: int
) -> np.ndarray:
    """argmax over the simplex of sum_j w_kj log (C p)_j with sum_j w_kj = 1, for every k: Newton
    steps on the perturbed optimality conditions, each group until its duality gap is below
    ``tolerance`` (an error after ``max_iterations``)."""
    n_groups, n = weights.shape[0], sets.shape[1]
    c = sets.astype(float)
    p = np.full((n_groups, n), 1.0 / n)
    z = np.ones((n_groups, n))  # multipliers of p >= 0
    nu = np.full(n_groups, 2.0)  # multiplier of sum p = 1
    for _ in range(max_iterations):
        gap = duality_gap(weights, sets, p / p.sum(axis=1, keepdims=True))
        k = np.nonzero(gap >= tolerance)[0]  # the groups still running
        if k.size == 0:
            return p / p.sum(axis=1, keepdims=True)
        w, pk, zk = weights[k], p[k], z[k]
        q = pk @ c.T
        ratio = np.where(w > 0, w / np.where(w > 0, q, 1.0), 0.0)
        residual = ratio @ c + zk - nu[k, None]  # stationarity of the Lagrangian
        complementarity = CENTRING * (pk * zk).mean(axis=1, keepdims=True) - pk * zk
        kkt = np.zeros((k.size, n + 1, n + 1))
        kkt[:, :n, :n] = -np.einsum("kj,je,jf->kef", ratio / np.where(w > 0, q, 1.0), c, c)
        kkt[:, np.arange(n), np.arange(n)] -= zk / pk
        kkt[:, :n, n] = -1.0
        kkt[:, n, :n] = 1.0
        rhs = np.concatenate([-residual - complementarity / pk, 1.0 - pk.sum(1, keepdims=True)], 1)
        step = np.linalg.solve(kkt, rhs[..., None])[..., 0]
        dp, dnu = step[:, :n], step[:, n]
        dz = (complementarity - zk * dp) / pk
        with np.errstate(divide="ignore", invalid="ignore"):
            to_zero = np.minimum(
                np.where(dp < 0, -pk / dp, np.inf).min(axis=1),
                np.where(dz < 0, -zk / dz, np.inf).min(axis=1),
            )
        alpha = np.minimum(1.0, TO_BOUNDARY * to_zero)
        p[k], z[k], nu[k] = pk + alpha[:, None] * dp, zk + alpha[:, None] * dz, nu[k] + alpha * dnu
    raise RuntimeError(f"censored MLE: no duality gap below {tolerance} in {max_iterations} steps")


def censored_categorical_mle(
    weights: np.ndarray,
    sets: np.ndarray,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> np.ndarray:
    """The weighted MLE of K categoricals over E categories, each observed through sets.

    ``weights[k, j] >= 0`` is the weight of group k's observations of set j, ``sets[j, e]`` whether
    category e belongs to set j. Returns ``probs[k, e]``; a group without weight keeps the uniform
    categorical. Every group's duality gap ends below ``tolerance`` (else an error). Where
    the maximiser is not unique (the data do not separate two categories) this is the limit of
    the interior-point path, the same on every machine.
    """
    weights = np.asarray(weights, dtype=float)
    sets = np.asarray(sets, dtype=bool)
    if np.any(weights[:, ~sets.any(axis=1)] > 0):
        raise ValueError("an observation with weight is consistent with no category")
    n_categories = sets.shape[1]
    counts = weights @ np.where(sets.sum(axis=1, keepdims=True) == 1, sets, False)
    totals = counts.sum(axis=1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / n_categories)
    probs = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), uniform)
    censored = np.any(weights[:, sets.sum(axis=1) > 1] > 0, axis=1)
    if censored.any():
        scaled = weights[censored] / weights[censored].sum(axis=1, keepdims=True)
        probs[censored] = _interior_point(scaled, sets, tolerance, max_iterations)
    return probs
