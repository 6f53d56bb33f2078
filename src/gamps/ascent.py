"""Line 10 of Algorithm 1, theta_{k+1} = theta_k + alpha_k grad_k, and its readings.

The paper states plain gradient ascent with a step size alpha_k and no schedule; how the step
follows the gradient is a reading (REPLICATION_SPEC, "Readings"). Three update rules:

    plain       theta += alpha g                      (the paper's line 10, constant alpha)
    normalised  theta += alpha g / ||g||_2            (a step of length alpha, whatever ||g||)
    adam        theta += alpha m_hat / (sqrt(v_hat) + eps)   (Kingma and Ba 2015, defaults)

A model-based gradient can be several times longer than a model-free one at the same policy, so
under the plain rule one alpha gives them different step lengths; the normalised and Adam rules
take a step whose size alpha sets, which removes that difference (issue of fair tuning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The update rules, in the order of every table.
UPDATES = ("plain", "normalised", "adam")
#: Adam's decay rates and epsilon (Kingma and Ba 2015, Algorithm 1's defaults).
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


@dataclass
class Ascent:
    """The state of one update rule along a run: ``step(theta, grad)`` returns theta_{k+1}."""

    update: str
    step_size: float
    k: int = 0
    m: np.ndarray | None = field(default=None, repr=False)
    v: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.update not in UPDATES:
            raise ValueError(f"unknown update rule {self.update!r}; choose from {UPDATES}")

    def direction(self, grad: np.ndarray) -> np.ndarray:
        """The vector that alpha multiplies at this step (updates Adam's moments)."""
        grad = np.asarray(grad, dtype=float)
        self.k += 1
        if self.update == "plain":
            return grad
        if self.update == "normalised":
            norm = float(np.linalg.norm(grad))
            return grad / norm if norm > 0 else np.zeros_like(grad)
        beta1, beta2 = ADAM_BETAS
        self.m = (1 - beta1) * grad if self.m is None else beta1 * self.m + (1 - beta1) * grad
        self.v = (1 - beta2) * grad**2 if self.v is None else beta2 * self.v + (1 - beta2) * grad**2
        m_hat = self.m / (1 - beta1**self.k)
        v_hat = self.v / (1 - beta2**self.k)
        return m_hat / (np.sqrt(v_hat) + ADAM_EPS)

    def step(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """theta_{k+1} = theta_k + alpha * direction(grad_k)."""
        return theta + self.step_size * self.direction(grad)
