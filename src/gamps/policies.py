"""Parametric policies with batched ``log_prob``, ``score`` and ``sample`` over whole arrays.

The score is the gradient of log pi_theta(a | s) with respect to the flat parameter vector theta
(Section 2); its q-norm enters the GAMPS weights of Eq. 3.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike


class Features(Protocol):
    """A feature map phi of states: ``dim`` features per state, on whole arrays."""

    dim: int

    def __call__(self, states: ArrayLike) -> np.ndarray: ...


@runtime_checkable
class Policy(Protocol):
    """What Algorithm 1 needs of a policy class, on whole arrays of states and actions."""

    dim: int

    def log_prob(
        self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray
    ) -> np.ndarray: ...

    def score_norm(
        self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray, q: float = 2.0
    ) -> np.ndarray: ...

    def score_dot(
        self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray, coef: np.ndarray
    ) -> np.ndarray: ...

    def sample(
        self, theta: np.ndarray, states: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray: ...


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """log of the softmax, stable for any logits (numpy's logaddexp reduction).

    Written with numpy alone: importing scipy.special would add a quarter second to every
    pipeline job's start."""
    return logits - np.logaddexp.reduce(logits, axis=axis, keepdims=True)


class BoltzmannPolicy:
    """Softmax policy linear in one-hot state features: theta is a [n_states, n_actions] table.

    pi(a | s) = exp(theta[s, a]) / sum_b exp(theta[s, b]); the score of (s, a) is zero outside row s
    and equals e_a - pi(. | s) on it.
    """

    def __init__(self, n_states: int, n_actions: int):
        self.n_states = n_states
        self.n_actions = n_actions
        self.dim = n_states * n_actions

    def table(self, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta, dtype=float).reshape(self.n_states, self.n_actions)

    def probs(self, theta: np.ndarray) -> np.ndarray:
        """pi(a | s) for every state, shape [n_states, n_actions]."""
        return np.exp(log_softmax(self.table(theta), axis=1))

    def log_prob(self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return log_softmax(self.table(theta), axis=1)[states, actions]

    def score(self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """grad_theta log pi(a | s) for each sample, shape ``states.shape + (dim,)``."""
        states = np.asarray(states)
        local = np.eye(self.n_actions)[actions] - self.probs(theta)[states]
        out = np.zeros(states.shape + (self.n_states, self.n_actions))
        np.put_along_axis(out, states[..., None, None], local[..., None, :], axis=-2)
        return out.reshape(states.shape + (self.dim,))

    def score_dot(
        self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray, coef: np.ndarray
    ) -> np.ndarray:
        """sum_i coef_i grad_theta log pi(a_i | s_i), shape [dim], without building the scores:
        row s of the result is sum_{i: s_i = s} coef_i (e_{a_i} - pi(. | s))."""
        states, actions, coef = (np.ravel(x) for x in (states, actions, coef))
        n_s, n_a = self.n_states, self.n_actions
        by_pair = np.bincount(states * n_a + actions, weights=coef, minlength=n_s * n_a)
        by_pair = by_pair.reshape(n_s, n_a)
        return (by_pair - self.probs(theta) * by_pair.sum(axis=1, keepdims=True)).ravel()

    def score_norm(
        self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray, q: float = 2.0
    ) -> np.ndarray:
        """||grad_theta log pi(a | s)||_q without building the full score."""
        return tabular_score_norms(self.probs(theta), q)[states, actions]

    def sample(self, theta: np.ndarray, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Draw a ~ pi(. | s) for an array of states by inverting the CDF."""
        cdf = np.cumsum(self.probs(theta)[states], axis=-1)
        u = rng.random(np.shape(states) + (1,))
        return np.minimum((u > cdf).sum(axis=-1), self.n_actions - 1)


def tabular_score_norms(pi: np.ndarray, q: float = 2.0) -> np.ndarray:
    """||e_a - pi(. | s)||_q for every (s, a) of a tabular Boltzmann policy pi [S, A]: the q-norm
    of its score, whose only non-zero row is row s."""
    local = np.eye(pi.shape[1])[None, :, :] - pi[:, None, :]
    return np.linalg.norm(local, ord=q, axis=-1)


class RadialBasis:
    """Gaussian radial basis features phi_i(x) = exp(-(x - c_i)^2 / (2 w^2)) of a scalar state."""

    def __init__(self, centres: ArrayLike, width: float):
        self.centres = np.asarray(centres, dtype=float)
        self.width = float(width)
        self.dim = self.centres.size

    def __call__(self, states: ArrayLike) -> np.ndarray:
        x = np.asarray(states, dtype=float)
        if x.ndim and x.shape[-1] == 1:
            x = x[..., 0]
        return np.exp(-((x[..., None] - self.centres) ** 2) / (2 * self.width**2))


class Identity:
    """The state itself as the feature vector (for linear policies on observations)."""

    def __init__(self, dim: int):
        self.dim = dim

    def __call__(self, states: ArrayLike) -> np.ndarray:
        return np.asarray(states, dtype=float)


class GaussianPolicy:
    """pi(a | s) = N(a; phi(s)^T W, std^2 I): mean linear in a feature map, fixed std.

    theta flattens W, shape [n_features, action_dim]. The score is
    phi(s) (a - mu(s))^T / std^2, an outer product, so its q-norm is ||phi(s)||_q ||z||_q with
    z = (a - mu(s)) / std^2, for every q.
    """

    def __init__(self, features: Features, action_dim: int, std: float):
        self.features = features
        self.action_dim = action_dim
        self.std = float(std)
        self.dim = features.dim * action_dim

    def weights(self, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta, dtype=float).reshape(self.features.dim, self.action_dim)

    def mean(self, theta: np.ndarray, states: np.ndarray) -> np.ndarray:
        return self.features(states) @ self.weights(theta)

    def _z(self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        actions = np.asarray(actions, dtype=float).reshape(np.shape(actions)[:-1] + (-1,))
        return (actions - self.mean(theta, states)) / self.std**2

    def log_prob(self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        diff = np.asarray(actions, dtype=float) - self.mean(theta, states)
        return np.sum(
            -0.5 * (diff / self.std) ** 2 - np.log(self.std) - 0.5 * np.log(2 * np.pi), axis=-1
        )

    def score(self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        phi = self.features(states)
        z = self._z(theta, states, actions)
        return (phi[..., :, None] * z[..., None, :]).reshape(phi.shape[:-1] + (self.dim,))

    def score_dot(
        self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray, coef: np.ndarray
    ) -> np.ndarray:
        """sum_i coef_i phi(s_i) z_i^T, flattened like theta."""
        phi = self.features(states)
        z = self._z(theta, states, actions)
        coef = np.asarray(coef, dtype=float).reshape(-1, 1)
        return ((coef * phi.reshape(-1, phi.shape[-1])).T @ z.reshape(-1, z.shape[-1])).ravel()

    def score_norm(
        self, theta: np.ndarray, states: np.ndarray, actions: np.ndarray, q: float = 2.0
    ) -> np.ndarray:
        phi = self.features(states)
        z = self._z(theta, states, actions)
        return np.linalg.norm(phi, ord=q, axis=-1) * np.linalg.norm(z, ord=q, axis=-1)

    def sample(self, theta: np.ndarray, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mu = self.mean(theta, states)
        return mu + self.std * rng.standard_normal(mu.shape)
