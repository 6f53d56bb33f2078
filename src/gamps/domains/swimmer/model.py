"""The swimmer's model class (Section 7.2): a Gaussian whose mean and log standard deviation come
from a 2-layer MLP (32 tanh units each) of the state features and the clipped action, predicting
the change of every state coordinate; fitted by the weighted maximum likelihood of Eq. 3 in torch.

Inputs and targets are standardised with the weighted moments of the first fit's data. Each fit
runs to convergence on held-out trajectories (``fit``): Adam on minibatches with a step size
halved on plateaus and early stopping, then full-batch L-BFGS rounds, keeping the network with
the best held-out NLL. It starts from a seeded initialisation or from the previous iteration's
network and standardisation (Algorithm 1 refits at every iteration with new weights), so a fit is
deterministic given its seed and thread count. Known ranges of state coordinates (``bounds``,
the Swimmer's joint stops) clip what the model samples. Sampling runs without autograd in
float32, drawing its noise from the caller's numpy generator.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import cast

import numpy as np
import torch
from torch import nn

from ...models import check_weights

#: The least decrease of the held-out loss (standardised nats per transition) that counts as an
#: improvement for early stopping.
MIN_IMPROVEMENT = 1e-4
#: Iterations of one L-BFGS round, and the rounds without a held-out improvement that end it.
LBFGS_ITERATIONS = 20
LBFGS_PATIENCE = 3
#: Pre-activation of the constant hidden unit of ``rollout_layers``: tanh(20) is 1.0 in float32.
BIAS_UNIT = 20.0


class MLPGaussianModel:
    def __init__(
        self,
        feature_slice: slice,
        action_low: float,
        action_high: float,
        hidden: int = 32,
        learning_rate: float = 3e-3,
        batch_size: int = 512,
        max_epochs: int = 2000,
        patience: int = 100,
        holdout: float = 0.2,
        polish: int = 100,
        seed: int = 0,
        min_log_std: float = -6.0,
        max_log_std: float = 2.0,
        bounds: dict[int, tuple[float, float]] | None = None,
    ):
        self.feature_slice = feature_slice
        self.action_low, self.action_high = action_low, action_high
        self.hidden = hidden
        self.learning_rate, self.batch_size = learning_rate, batch_size
        self.max_epochs, self.patience, self.holdout = max_epochs, patience, holdout
        self.seed = seed
        self.polish = polish
        self.min_log_std, self.max_log_std = min_log_std, max_log_std
        #: Known ranges of state coordinates (index -> (low, high)) that samples are clipped to.
        self.bounds = dict(bounds or {})
        self.net: nn.Sequential | None = None
        # The weighted moments of the first fit's inputs and targets (set by ``fit``; a
        # warm-started fit keeps its predecessor's, so the network's function carries over).
        self.x_shift = self.x_scale = self.y_shift = self.y_scale = np.zeros(0)
        #: The last fit's record: held-out NLL and normalised MSE, epochs, ESS of its weights.
        self.diagnostics: dict[str, float] = {}
        self._rollout_layers: tuple | None = None
        # A digest of the last fit's data, weights and held-out set.
        self._problem = ""

    def _inputs(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        a = np.clip(actions, self.action_low, self.action_high)
        return np.concatenate([np.asarray(states)[..., self.feature_slice], a], axis=-1)

    def warm_start(self, previous: MLPGaussianModel | None) -> MLPGaussianModel:
        """Start the next fit from ``previous``'s network and standardisation (copies:
        ``previous`` is unchanged). Keeping the standardisation keeps the network's function, so
        the fit starts where the previous one ended."""
        if previous is not None and previous.net is not None:
            self.net = copy.deepcopy(previous.net)
            self._problem, self.diagnostics = previous._problem, dict(previous.diagnostics)
            self.x_shift, self.x_scale = previous.x_shift, previous.x_scale
            self.y_shift, self.y_scale = previous.y_shift, previous.y_scale
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

    def held_out(self, groups: np.ndarray) -> np.ndarray:
        """Which transitions the fit holds out: those of every k-th group (trajectory), with
        k = round(1 / holdout), so about ``holdout`` of the trajectories; none if holdout is 0."""
        if self.holdout <= 0:
            return np.zeros(len(groups), dtype=bool)
        _, index = np.unique(groups, return_inverse=True)
        k = max(2, round(1 / self.holdout))
        return index % k == k - 1

    def fit(
        self,
        states: np.ndarray,
        actions: np.ndarray,
        next_states: np.ndarray,
        weights: np.ndarray,
        groups: np.ndarray | None = None,
    ) -> MLPGaussianModel:
        """Eq. 3's weighted MLE by Adam on shuffled minibatches, with early stopping.

        The transitions of every k-th trajectory (``groups``: a trajectory index per transition;
        without it every weighted transition is its own group) are held out. After every epoch the
        weighted NLL of the held-out transitions is measured; the step size halves after
        ``patience // 4`` epochs without an improvement, training stops after ``patience`` such
        epochs (or ``max_epochs``), and the network with the best held-out NLL is kept. A
        warm-started fit counts its starting network as a candidate, so a refit never ends worse
        on the held-out set than where it started; one on the same transitions, weights and
        held-out set as its predecessor (ML's refits) keeps the predecessor's network as it is."""
        weights = check_weights(weights).ravel()
        keep = weights > 0
        if not keep.any():
            raise ValueError("cannot fit a model: every transition has zero weight")
        groups = np.arange(keep.sum()) if groups is None else np.asarray(groups)[keep]
        test = self.held_out(groups)
        if test.all() or not test.any():
            test = np.zeros_like(test)  # too few groups to hold any out: train on everything
        x = self._inputs(states, actions).reshape(len(weights), -1)[keep]
        y = (np.asarray(next_states) - np.asarray(states)).reshape(len(weights), -1)[keep]
        w = weights[keep]
        if self.net is None:
            self.x_shift, self.x_scale = _weighted_moments(x, w / w.sum())
            self.y_shift, self.y_scale = _weighted_moments(y, w / w.sum())
            self.net = self._build(x.shape[1], y.shape[1])

        def tensors(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            return (
                torch.as_tensor((x[rows] - self.x_shift) / self.x_scale, dtype=torch.float32),
                torch.as_tensor((y[rows] - self.y_shift) / self.y_scale, dtype=torch.float32),
                torch.as_tensor(w[rows] / w[rows].sum(), dtype=torch.float32),
            )

        train = ~test
        problem = hashlib.sha256(b"".join(a.tobytes() for a in (x, y, w, test))).hexdigest()
        if problem == self._problem:
            # The previous fit solved this very problem (ML's weights never change): keep it.
            self._fold()
            self.diagnostics = self.diagnostics | {"model_epochs": 0.0, "model_lbfgs_rounds": 0.0}
            return self
        self._problem = problem
        validation = tensors(test) if test.any() else None
        epochs, rounds = self._train(*tensors(train), validation)
        self._fold()
        self.diagnostics = {
            "model_epochs": float(epochs),
            "model_lbfgs_rounds": float(rounds),
            "fit_ess": float(w.sum() ** 2 / (w**2).sum()),
        }
        self.diagnostics |= self.held_out_metrics(x[test], y[test], w[test])
        return self

    def _train(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        w: torch.Tensor,
        validation: tuple[torch.Tensor, ...] | None,
    ) -> tuple[int, int]:
        """Adam on minibatches until the held-out loss stops improving, then L-BFGS rounds until
        it stops improving again; the best network is kept. Returns (epochs, L-BFGS rounds).
        Without a held-out set the training loss itself is watched."""
        assert self.net is not None
        net = self.net
        best = _BestState(net, lambda: self._loss(*(validation or (x, y, w))))
        generator = torch.Generator().manual_seed(self.seed)
        optimiser = torch.optim.Adam(net.parameters(), lr=self.learning_rate, fused=True)
        epoch = 0
        while epoch < self.max_epochs and best.since < self.patience:
            epoch += 1
            for rows in torch.randperm(len(w), generator=generator).split(self.batch_size):
                optimiser.zero_grad()
                # The minibatch's share of the weighted loss, scaled to the whole set: unbiased.
                loss = self._loss(x[rows], y[rows], w[rows]) * (len(w) / len(rows))
                loss.backward()
                optimiser.step()
            if not best.update() and best.since % max(1, self.patience // 4) == 0:
                for group in optimiser.param_groups:
                    group["lr"] *= 0.5
        best.restore()
        lbfgs = torch.optim.LBFGS(
            net.parameters(),
            max_iter=LBFGS_ITERATIONS,
            history_size=20,
            line_search_fn="strong_wolfe",
            tolerance_grad=1e-9,
            tolerance_change=1e-12,
        )

        def closure() -> torch.Tensor:
            lbfgs.zero_grad()
            loss = self._loss(x, y, w)
            loss.backward()
            return loss

        best.since, rounds = 0, 0
        while rounds < self.polish and best.since < LBFGS_PATIENCE:
            rounds += 1
            lbfgs.step(closure)
            best.update()
        best.restore()
        return epoch, rounds

    def held_out_metrics(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> dict[str, float]:
        """The weighted NLL per transition (nats, raw units) and the normalised MSE of the mean
        change (weighted MSE over the weighted variance of each coordinate's change, averaged
        over coordinates) on raw inputs x and changes y; NaN without held-out transitions."""
        if len(w) == 0:
            return {"model_nll": np.nan, "model_nmse": np.nan}
        w = w / w.sum()
        log_density, mean = self._log_density(x, y)
        variance = w @ (y - w @ y) ** 2
        nmse = np.mean(w @ (mean - y) ** 2 / np.where(variance > 0, variance, 1.0))
        return {"model_nll": float(w @ -log_density), "model_nmse": float(nmse)}

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

    def mean_std(self, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._mean_std_inputs(self._inputs(states, actions))

    @torch.inference_mode()
    def _mean_std_inputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = torch.as_tensor((x - self.x_shift) / self.x_scale, dtype=torch.float32)
        mean, log_std = self._heads(z)
        return (mean.numpy() * self.y_scale + self.y_shift, np.exp(log_std.numpy()) * self.y_scale)

    def log_prob(
        self, states: np.ndarray, actions: np.ndarray, next_states: np.ndarray
    ) -> np.ndarray:
        delta = np.asarray(next_states) - np.asarray(states)
        return self._log_density(self._inputs(states, actions), delta)[0]

    def _log_density(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log p_hat of the changes y given the raw inputs x, and the predicted mean change."""
        mean, std = self._mean_std_inputs(x)
        z = (y - mean) / std
        return np.sum(-0.5 * z**2 - np.log(std) - 0.5 * np.log(2 * np.pi), axis=-1), mean

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
        next_states = states + delta.numpy()
        for i, (low, high) in self.bounds.items():
            np.clip(next_states[:, i], low, high, out=next_states[:, i])
        return next_states


class _BestState:
    """The network's parameters with the lowest watched loss so far (the start counts), and how
    many evaluations have passed since the last improvement of at least MIN_IMPROVEMENT."""

    def __init__(self, net: nn.Module, loss: Callable[[], torch.Tensor]):
        self.net, self.loss, self.since = net, loss, 0
        self.value = self._evaluate()
        self.state = copy.deepcopy(net.state_dict())

    @torch.no_grad()
    def _evaluate(self) -> float:
        value = float(self.loss())
        return value if np.isfinite(value) else np.inf

    def update(self) -> bool:
        value = self._evaluate()
        improved = value < self.value - MIN_IMPROVEMENT
        if value < self.value:
            self.value, self.state = value, copy.deepcopy(self.net.state_dict())
        self.since = 0 if improved else self.since + 1
        return improved

    def restore(self) -> None:
        self.net.load_state_dict(self.state)


def _weighted_moments(values: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = w @ values
    std = np.sqrt(w @ (values - mean) ** 2)
    return mean, np.where(std > 1e-8, std, 1.0)


def set_threads(threads: int) -> None:
    """Torch's intra-op threads follow the pipeline rule's ``threads``."""
    torch.set_num_threads(max(1, int(threads)))
