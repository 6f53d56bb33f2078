"""The minigolf's model class (Section 7.2): a linear-Gaussian model of the change of distance."""

from __future__ import annotations

import numpy as np

from ...models import check_weights


class LinearGaussianModel:
    """The minigolf's model class (Section 7.2): the change of state Delta = x' - x is Gaussian,
    with mean psi^T beta and log standard deviation psi^T kappa, both linear in the features
    psi(x, a) = (1, x, a, a^2) of the state and the (clipped) action.

    One Gaussian cannot follow both terrains at once: the class is misspecified on purpose.
    Samples are clipped to the known state space (x <= ``state_high``).
    Weighted MLE by block coordinate ascent on the weighted log-likelihood: for fixed kappa, beta
    is the closed-form weighted least squares with weights omega / sigma^2; for fixed beta, the
    log-likelihood is concave in kappa and a damped Newton step (backtracking) increases it. Each
    block never decreases the objective.
    """

    n_features = 4

    def __init__(
        self,
        action_low: float = -np.inf,
        action_high: float = np.inf,
        state_high: float = np.inf,
        iterations: int = 100,
        tolerance: float = 1e-10,
        min_log_std: float = -12.0,
        max_log_std: float = 10.0,
    ):
        self.action_low, self.action_high = action_low, action_high
        self.state_high = state_high
        self.iterations = iterations
        self.tolerance = tolerance
        self.min_log_std, self.max_log_std = min_log_std, max_log_std
        self.beta = np.zeros(self.n_features)
        self.kappa = np.zeros(self.n_features)

    def warm_start(self, previous: LinearGaussianModel | None) -> LinearGaussianModel:
        """Each fit converges from its own closed-form start: nothing carries over."""
        return self

    def features(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        x = np.asarray(states, dtype=float)[..., 0]
        a = np.clip(np.asarray(actions, dtype=float)[..., 0], self.action_low, self.action_high)
        return np.stack([np.ones_like(x), x, a, a * a], axis=-1)

    def log_std(self, psi: np.ndarray) -> np.ndarray:
        return np.clip(psi @ self.kappa, self.min_log_std, self.max_log_std)

    def fit(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        next_states: np.ndarray,
        weights: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> LinearGaussianModel:
        weights = check_weights(weights).ravel()
        psi = self.features(states, actions).reshape(-1, self.n_features)
        delta = np.asarray(next_states, dtype=float) - np.asarray(states, dtype=float)
        delta = delta[..., 0].ravel()
        keep = weights > 0
        psi, delta, w = psi[keep], delta[keep], weights[keep] / weights[keep].max()
        if w.size == 0:
            raise ValueError("cannot fit a model: every transition has zero weight")
        self.beta = _weighted_least_squares(psi, delta, w)
        resid2 = (delta - psi @ self.beta) ** 2
        self.kappa = np.zeros(self.n_features)
        self.kappa[0] = 0.5 * np.log(
            max(np.sum(w * resid2) / np.sum(w), np.exp(2 * self.min_log_std))
        )
        objective = self._objective(psi, resid2, w)
        for _ in range(self.iterations):
            precision = np.exp(-2 * self.log_std(psi))
            self.beta = _weighted_least_squares(psi, delta, w * precision)
            resid2 = (delta - psi @ self.beta) ** 2
            self._newton_step_kappa(psi, resid2, w)
            new_objective = self._objective(psi, resid2, w)
            if new_objective - objective <= self.tolerance * (1 + abs(objective)):
                break
            objective = new_objective
        return self

    def _objective(self, psi: np.ndarray, resid2: np.ndarray, w: np.ndarray) -> float:
        """Weighted log-likelihood of Delta, up to a constant (Eq. 3's objective)."""
        log_std = self.log_std(psi)
        return float(-np.sum(w * (log_std + 0.5 * resid2 * np.exp(-2 * log_std))) / np.sum(w))

    def _newton_step_kappa(self, psi: np.ndarray, resid2: np.ndarray, w: np.ndarray) -> None:
        raw = psi @ self.kappa
        # Rows whose log-std sits at a bound do not move with kappa: their derivative is zero.
        free = (raw > self.min_log_std) & (raw < self.max_log_std)
        scaled = resid2 * np.exp(-2 * self.log_std(psi))
        gradient = psi.T @ (w * free * (scaled - 1))
        curvature = psi.T @ (psi * (2 * w * free * scaled)[:, None])  # minus the Hessian, PSD
        step = np.linalg.lstsq(curvature + 1e-10 * np.eye(self.n_features), gradient, rcond=None)[0]
        before = self._objective(psi, resid2, w)
        kappa, t = self.kappa.copy(), 1.0
        while t > 1e-6:
            self.kappa = kappa + t * step
            if self._objective(psi, resid2, w) >= before:
                return
            t /= 2
        self.kappa = kappa

    def mean_std(self, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        psi = self.features(states, actions)
        return psi @ self.beta, np.exp(self.log_std(psi))

    def log_prob(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray
    ) -> np.ndarray:
        mean, std = self.mean_std(states, actions)
        delta = (np.asarray(next_states, dtype=float) - np.asarray(states, dtype=float))[..., 0]
        return -0.5 * ((delta - mean) / std) ** 2 - np.log(std) - 0.5 * np.log(2 * np.pi)

    def sample(
        self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        mean, std = self.mean_std(states, actions)
        delta = mean + std * rng.standard_normal(mean.shape)
        # Imagined states stay in the state space: the ball is never further than the tee.
        return np.minimum(np.asarray(states, dtype=float) + delta[..., None], self.state_high)


def _weighted_least_squares(psi: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """argmin_beta sum_i w_i (y_i - psi_i^T beta)^2, by least squares on sqrt(w)-scaled rows."""
    root = np.sqrt(w)
    return np.linalg.lstsq(psi * root[:, None], y * root, rcond=None)[0]
