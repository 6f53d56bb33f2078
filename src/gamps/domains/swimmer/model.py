"""The swimmer's model class (Section 7.2): a Gaussian whose mean and log standard deviation come
from a 2-layer MLP (32 tanh units each) of the state features and the clipped action, predicting
the change of every state coordinate; fitted by the weighted maximum likelihood of Eq. 3 in torch.

Inputs and targets are standardised with the weighted moments of the training data. Training is
full-batch Adam for a fixed budget of steps, from a seeded initialisation or warm-started from
the previous iteration's model (Algorithm 1 refits at every iteration with new weights), so a fit
is deterministic given its seed and thread count. Sampling runs without autograd in float32,
drawing its noise from the caller's numpy generator.
"""

from __future__ import annotations

import copy
from typing import cast

import numpy as np
import torch
from torch import nn

from ...models import check_weights

#: Pre-activation of the constant hidden unit of ``rollout_layers``: tanh(20) is 1.0 in float32.
BIAS_UNIT = 20.0


class MLPGaussianModel:
    def __init__(
        self,
        feature_slice: slice,
        action_low: float,
        action_high: float,
        hidden: int = 32,
        steps: int = 300,
        warm_steps: int = 60,
        learning_rate: float = 3e-3,
        seed: int = 0,
        min_log_std: float = -6.0,
        max_log_std: float = 2.0,
    ):
        self.feature_slice = feature_slice
        self.action_low, self.action_high = action_low, action_high
        self.hidden, self.steps, self.warm_steps = hidden, steps, warm_steps
        self.learning_rate = learning_rate
        self.seed = seed
        self.min_log_std, self.max_log_std = min_log_std, max_log_std
        self.net: nn.Sequential | None = None
        # The weighted moments of the last fit's inputs and targets (set by ``fit``).
        self.x_shift = self.x_scale = self.y_shift = self.y_scale = np.zeros(0)
        self._rollout_layers: tuple | None = None

    def _inputs(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        a = np.clip(actions, self.action_low, self.action_high)
        return np.concatenate([np.asarray(states)[..., self.feature_slice], a], axis=-1)

    def warm_start(self, previous: MLPGaussianModel | None) -> MLPGaussianModel:
        """Start the next fit from ``previous``'s network (a copy: ``previous`` is unchanged)."""
        if previous is not None and previous.net is not None:
            self.net = copy.deepcopy(previous.net)
        return self

    def _build(self, n_in: int, n_out: int) -> nn.Sequential:
        generator_state = torch.random.get_rng_state()
        torch.manual_seed(self.seed)
        net = nn.Sequential(
            nn.Linear(n_in, self.hidden),
            nn.Tanh(),
            nn.Linear(self.hidden, self.hidden),
            nn.Tanh(),
            nn.Linear(self.hidden, 2 * n_out),
        )
        torch.random.set_rng_state(generator_state)
        return net

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.net is not None, "fit the model first"
        out = self.net(x)
        mean, log_std = out.chunk(2, dim=-1)
        return mean, log_std.clamp(self.min_log_std, self.max_log_std)

    def fit(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray, weights: np.ndarray
    ) -> MLPGaussianModel:
        weights = check_weights(weights).ravel()
        keep = weights > 0
        if not keep.any():
            raise ValueError("cannot fit a model: every transition has zero weight")
        x = self._inputs(states, actions).reshape(len(weights), -1)[keep]
        y = (np.asarray(next_states) - np.asarray(states)).reshape(len(weights), -1)[keep]
        w = weights[keep] / weights[keep].sum()
        self.x_shift, self.x_scale = _weighted_moments(x, w)
        self.y_shift, self.y_scale = _weighted_moments(y, w)
        xt = torch.as_tensor((x - self.x_shift) / self.x_scale, dtype=torch.float32)
        yt = torch.as_tensor((y - self.y_shift) / self.y_scale, dtype=torch.float32)
        wt = torch.as_tensor(w, dtype=torch.float32)
        steps = self.steps
        if self.net is None:
            self.net = net = self._build(x.shape[1], y.shape[1])
        else:
            net, steps = self.net, self.warm_steps
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate)
        for _ in range(steps):
            optimiser.zero_grad()
            loss = self._loss(xt, yt, wt)
            loss.backward()
            optimiser.step()
        self._fold()
        return self

    def _fold(self) -> None:
        """Fold the standardisation into the first and last layers, so that sampling maps raw
        inputs to raw mean deltas and standardised log-stds in one pass of three products."""
        assert self.net is not None, "fit the model first"
        first, hidden, last = (cast(nn.Linear, self.net[i]) for i in (0, 2, 4))
        n_out = last.out_features // 2
        with torch.no_grad():
            x_scale = torch.as_tensor(self.x_scale, dtype=torch.float32)
            x_shift = torch.as_tensor(self.x_shift, dtype=torch.float32)
            w1 = first.weight / x_scale
            b1 = first.bias - w1 @ x_shift
            y_scale = torch.as_tensor(self.y_scale, dtype=torch.float32)
            y_shift = torch.as_tensor(self.y_shift, dtype=torch.float32)
            w3, b3 = last.weight.clone(), last.bias.clone()
            w3[:n_out] *= y_scale[:, None]
            b3[:n_out] = b3[:n_out] * y_scale + y_shift
        # Stored transposed and contiguous for addmm: x @ W^T + b.
        self._folded = [
            (w1.T.contiguous(), b1),
            (hidden.weight.T.contiguous().detach(), hidden.bias.detach().clone()),
            (w3.T.contiguous(), b3),
        ]
        self._log_y_scale = torch.log(y_scale)
        self._rollout_layers = None

    def rollout_layers(self) -> tuple:
        """The folded network for structure-of-arrays rollouts (``rollouts``): float32
        matrices W1 [h+1, n_in+1], W2 [h+1, h+1], W3 [2 n_out, h+1] acting on columns, with each
        layer's bias in the column of its input's constant 1. The extra hidden unit has
        pre-activation 20, so tanh makes it exactly 1.0 and carries the next bias. Also the
        log-std bounds (standardised) and log y_scale as a column."""
        if self._rollout_layers is None:
            layers = []
            for i, (weight, bias) in enumerate(self._folded):
                n_in, n_out = weight.shape
                last = i == len(self._folded) - 1
                w = torch.zeros((n_out + (not last), n_in + 1))
                w[:n_out, :n_in] = weight.T
                w[:n_out, n_in] = bias
                if not last:
                    w[n_out, n_in] = BIAS_UNIT
                layers.append(w)
            log_y_scale = self._log_y_scale.numpy().astype(np.float32)[:, None]
            self._rollout_layers = (*layers, log_y_scale)
        *layers, log_y_scale = self._rollout_layers
        return (*layers, (self.min_log_std, self.max_log_std), log_y_scale)

    def _loss(self, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Weighted negative log-likelihood of the standardised targets (Eq. 3, up to constants)."""
        mean, log_std = self._heads(x)
        nll = log_std + 0.5 * ((y - mean) * torch.exp(-log_std)) ** 2
        return (w[:, None] * nll).sum()

    @torch.inference_mode()
    def mean_std(self, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = (self._inputs(states, actions) - self.x_shift) / self.x_scale
        mean, log_std = self._heads(torch.as_tensor(x, dtype=torch.float32))
        return (mean.numpy() * self.y_scale + self.y_shift, np.exp(log_std.numpy()) * self.y_scale)

    def log_prob(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray
    ) -> np.ndarray:
        mean, std = self.mean_std(states, actions)
        delta = np.asarray(next_states) - np.asarray(states)
        z = (delta - mean) / std
        return np.sum(-0.5 * z**2 - np.log(std) - 0.5 * np.log(2 * np.pi), axis=-1)

    @torch.inference_mode()
    def sample(
        self, states: np.ndarray, actions: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Next states for whole arrays: s + mean + std * noise, in float32 without autograd."""
        states = np.asarray(states)
        x = np.empty((len(states), self._folded[0][0].shape[0]), dtype=np.float32)
        n_features = x.shape[1] - np.shape(actions)[-1]
        x[:, :n_features] = states[:, self.feature_slice]
        np.clip(actions, self.action_low, self.action_high, out=x[:, n_features:])
        (w1, b1), (w2, b2), (w3, b3) = self._folded
        h = torch.tanh_(torch.addmm(b1, torch.from_numpy(x), w1))
        h = torch.tanh_(torch.addmm(b2, h, w2))
        out = torch.addmm(b3, h, w3)
        n_out = out.shape[1] // 2
        mean, log_std = out[:, :n_out], out[:, n_out:]
        log_std.clamp_(self.min_log_std, self.max_log_std).add_(self._log_y_scale).exp_()
        noise = torch.from_numpy(rng.standard_normal(mean.shape, dtype=np.float32))
        delta = log_std.mul_(noise).add_(mean)
        return states + delta.numpy()


def _weighted_moments(values: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = w @ values
    std = np.sqrt(w @ (values - mean) ** 2)
    return mean, np.where(std > 1e-8, std, 1.0)


def set_threads(threads: int) -> None:
    """Torch's intra-op threads follow the pipeline rule's ``threads``."""
    torch.set_num_threads(max(1, int(threads)))
