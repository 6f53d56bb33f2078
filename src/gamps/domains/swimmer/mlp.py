"""The network of the Swimmer's model class in numpy: a 2-layer tanh MLP whose output is the mean
and the log standard deviation of a diagonal Gaussian, its weighted negative log-likelihood
(Eq. 3, up to constants) and the analytic gradient of it.

Parameters travel as one flat float64 vector (what the optimisers see); the arithmetic runs in
float32 over chunks of rows that stay in cache. Biases ride in the products: the inputs carry a
column of ones and each hidden layer a unit whose pre-activation is ``BIAS_UNIT``, which tanh
makes exactly 1.0 in float32, so every layer is one matrix product.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

F32 = np.float32
#: Rows per chunk of the loss and its gradient (a chunk's activations stay in the L2 cache).
CHUNK = 1000
#: Pre-activation of the constant hidden unit: tanh(20) is 1.0 in float32.
BIAS_UNIT = 20.0


class Rows(NamedTuple):
    """Standardised inputs with a column of ones [n, n_in + 1], targets [n, n_out] and weights
    [n] (summing to 1 over the rows of one loss), all float32."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray

    def take(self, index: np.ndarray, scale: float = 1.0) -> Rows:
        return Rows(self.x[index], self.y[index], self.w[index] * F32(scale))


def rows(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Rows:
    """``Rows`` of standardised inputs, targets and weights (normalised to sum to 1)."""
    x1 = np.empty((len(x), x.shape[1] + 1), dtype=F32)
    x1[:, :-1] = x
    x1[:, -1] = 1.0
    return Rows(x1, np.ascontiguousarray(y, dtype=F32), (w / w.sum()).astype(F32))


class GaussianMLP:
    """x -> tanh(x W1 + b1) -> tanh(. W2 + b2) -> [mean | log_std] = . W3 + b3, the log-std
    clamped to [min_log_std, max_log_std] (its gradient is zero where the clamp is active)."""

    def __init__(self, n_in: int, n_out: int, hidden: int, min_log_std: float, max_log_std: float):
        self.n_in, self.n_out, self.hidden = n_in, n_out, hidden
        self.min_log_std, self.max_log_std = min_log_std, max_log_std
        h = hidden
        self.size = (n_in + 1) * h + (h + 1) * h + (h + 1) * 2 * n_out
        # The layers with their bias rows and the constant unit, refilled from each vector.
        self._a1 = np.zeros((n_in + 1, h + 1), dtype=F32)
        self._a1[n_in, h] = BIAS_UNIT
        self._a2 = np.zeros((h + 1, h + 1), dtype=F32)
        self._a2[h, h] = BIAS_UNIT
        self._a3 = np.zeros((h + 1, 2 * n_out), dtype=F32)
        self._buffers: dict[int, tuple[np.ndarray, ...]] = {}

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        """Each layer's weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        parts = []
        for fan_in, fan_out in ((self.n_in, self.hidden), (self.hidden, self.hidden)):
            bound = 1.0 / np.sqrt(fan_in)
            parts.append(rng.uniform(-bound, bound, (fan_in + 1) * fan_out))
        bound = 1.0 / np.sqrt(self.hidden)
        parts.append(rng.uniform(-bound, bound, (self.hidden + 1) * 2 * self.n_out))
        return np.concatenate(parts)

    def layers(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three layers as float32 matrices [fan_in + 1, fan_out], the last row the bias:
        a view of ``params``' values (refilled in place by each call)."""
        if params.shape != (self.size,):
            raise ValueError(f"expected {self.size} parameters, got shape {params.shape}")
        p = params.astype(F32)
        n_in, h = self.n_in, self.hidden
        first, second = (n_in + 1) * h, (n_in + 1) * h + (h + 1) * h
        self._a1[:, :h] = p[:first].reshape(n_in + 1, h)
        self._a2[:, :h] = p[first:second].reshape(h + 1, h)
        self._a3[:] = p[second:].reshape(h + 1, 2 * self.n_out)
        return self._a1, self._a2, self._a3

    def _buffer(self, n: int) -> tuple[np.ndarray, ...]:
        if n not in self._buffers:
            h = self.hidden + 1
            shapes = [(n, h)] * 4 + [(n, 2 * self.n_out)]
            self._buffers[n] = tuple(np.empty(shape, dtype=F32) for shape in shapes)
        return self._buffers[n]

    def _forward(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        h1, h2, _, _, out = self._buffer(len(x))
        np.tanh(np.matmul(x, self._a1, out=h1), out=h1)
        np.tanh(np.matmul(h1, self._a2, out=h2), out=h2)
        return h1, h2, np.matmul(h2, self._a3, out=out)

    def heads(self, params: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and clamped log-std [n, n_out] (float32) of inputs x [n, n_in + 1]."""
        self.layers(params)
        means, log_stds = [], []
        for lo in range(0, len(x), CHUNK):
            out = self._forward(x[lo : lo + CHUNK])[2]
            means.append(out[:, : self.n_out].copy())
            log_stds.append(np.clip(out[:, self.n_out :], self.min_log_std, self.max_log_std))
        return np.concatenate(means), np.concatenate(log_stds)

    def loss(self, params: np.ndarray, data: Rows) -> float:
        """sum_i w_i sum_j [log sigma_ij + (y_ij - mu_ij)^2 / (2 sigma_ij^2)]."""
        mean, log_std = self.heads(params, data.x)
        z = (data.y - mean) * np.exp(-log_std)
        return float(data.w @ (log_std + 0.5 * z * z).sum(axis=1))

    def loss_and_gradient(self, params: np.ndarray, data: Rows) -> tuple[float, np.ndarray]:
        """The loss and its gradient with respect to ``params`` (float64), by backpropagation:
        d/d mu = -w z / sigma and d/d log sigma = w (1 - z^2), z = (y - mu) / sigma."""
        a1, a2, a3 = self.layers(params)
        d, h = self.n_out, self.hidden
        g1, g2, g3 = np.zeros_like(a1), np.zeros_like(a2), np.zeros_like(a3)
        total = 0.0
        for lo in range(0, len(data.w), CHUNK):
            x, y, w = (a[lo : lo + CHUNK] for a in data)
            h1, h2, out = self._forward(x)
            _, _, back2, back1, _ = self._buffer(len(x))
            raw = out[:, d:]
            log_std = np.clip(raw, self.min_log_std, self.max_log_std)
            active = log_std == raw
            inverse = np.negative(log_std)
            np.exp(inverse, out=inverse)
            z = np.subtract(y, out[:, :d])
            z *= inverse
            z2 = np.multiply(z, z)
            total += float(w @ (log_std.sum(axis=1) + 0.5 * z2.sum(axis=1)))
            # out becomes d loss / d out: the mean head, then the log-std head.
            w = w[:, None]
            z *= inverse
            z *= w
            np.negative(z, out=out[:, :d])
            np.subtract(1.0, z2, out=z2)
            z2 *= w
            z2 *= active
            out[:, d:] = z2
            g3 += h2.T @ out
            np.matmul(out, a3.T, out=back2)
            np.multiply(h2, h2, out=h2)
            np.subtract(1.0, h2, out=h2)
            back2 *= h2
            g2 += h1.T @ back2
            np.matmul(back2, a2.T, out=back1)
            np.multiply(h1, h1, out=h1)
            np.subtract(1.0, h1, out=h1)
            back1 *= h1
            g1 += x.T @ back1
        gradient = np.concatenate([g1[:, :h].ravel(), g2[:, :h].ravel(), g3.ravel()])
        return total, gradient.astype(np.float64)
