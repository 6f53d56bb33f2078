"""The swimmer's model class (Section 7.2): a Gaussian whose mean and log standard deviation come
from a 2-layer MLP (32 tanh units each) of the state features and the clipped action, predicting
the change of every state coordinate; fitted by the weighted maximum likelihood of Eq. 3.

Inputs and targets are standardised with the weighted moments of the first fit's data. Each fit
runs to convergence on held-out trajectories (``fit``): a first fit warms up with Adam on
minibatches, then every fit runs L-BFGS on the whole training set, preconditioned by the
diagonal curvature that Adam measured, until the held-out NLL stops improving; the network with
the best held-out NLL is kept. The network, its loss and its gradient are numpy (``mlp``). A fit
starts from a seeded initialisation or from the previous iteration's network, standardisation
and preconditioner (Algorithm 1 refits at every iteration with new weights), so it is
deterministic given its seed. Known ranges of state coordinates (``bounds``, the Swimmer's joint
stops) clip what the model samples. Sampling runs in float32 (torch products, as the fused
rollouts), drawing its noise from the caller's numpy generator.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from ... import io as atomic
from ...models import check_weights
from . import lbfgs, mlp
from .mlp import BIAS_UNIT, GaussianMLP, Rows, rows

#: The least decrease of the held-out loss (standardised nats per transition) that counts as an
#: improvement for early stopping.
MIN_IMPROVEMENT = 1e-4
#: L-BFGS iterations between two measurements of the held-out loss.
CHECK_EVERY = 10
#: Transitions whose weight is below this fraction of the largest are left out of a fit: in the
#: float32 loss, whose weights sum to 1, even 10,000 of them move no digit.
NEGLIGIBLE_WEIGHT = 1e-11


class MLPGaussianModel:
    def __init__(
        self,
        feature_slice: slice,
        action_low: float,
        action_high: float,
        hidden: int = 32,
        learning_rate: float = 3e-3,
        batch_size: int = 1000,
        warmup_epochs: int = 300,
        patience: int = 300,
        refit_patience: int = 100,
        max_iterations: int = 2000,
        memory: int = 100,
        holdout: float = 0.2,
        seed: int = 0,
        threads: int = 1,
        min_log_std: float = -6.0,
        max_log_std: float = 2.0,
        bounds: dict[int, tuple[float, float]] | None = None,
        store: str | os.PathLike[str] | None = None,
    ):
        self.feature_slice = feature_slice
        self.action_low, self.action_high = action_low, action_high
        self.hidden = hidden
        self.learning_rate, self.batch_size = learning_rate, batch_size
        self.warmup_epochs, self.patience = warmup_epochs, patience
        self.refit_patience = refit_patience
        self.max_iterations, self.memory, self.holdout = max_iterations, memory, holdout
        self.seed, self.threads = seed, threads
        self.min_log_std, self.max_log_std = min_log_std, max_log_std
        #: Known ranges of state coordinates (index -> (low, high)) that samples are clipped to.
        self.bounds = dict(bounds or {})
        #: A folder of first fits (``first_fit_key``): a first fit found there is read, not
        #: recomputed, and one computed is kept there. None: no folder.
        self.store = None if store is None else Path(store)
        #: The network's parameters (``mlp.GaussianMLP``), None before the first fit.
        self.params: np.ndarray | None = None
        #: Per-parameter scale of L-BFGS's variables, 1 / sqrt of Adam's second moment: a
        #: diagonal preconditioner, measured by a first fit and carried by warm starts.
        self.scale: np.ndarray | None = None
        # The weighted moments of the first fit's inputs and targets (set by ``fit``; a
        # warm-started fit keeps its predecessor's, so the network's function carries over).
        self.x_shift = self.x_scale = self.y_shift = self.y_scale = np.zeros(0)
        #: The last fit's record: held-out NLL and normalised MSE, epochs and iterations, ESS.
        self.diagnostics: dict[str, float] = {}
        self._network: GaussianMLP | None = None
        self._rollout_layers: tuple | None = None
        # A digest of the last fit's data, weights and held-out set.
        self._problem = ""

    def _inputs(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        a = np.clip(actions, self.action_low, self.action_high)
        return np.concatenate([np.asarray(states)[..., self.feature_slice], a], axis=-1)

    def warm_start(self, previous: MLPGaussianModel | None) -> MLPGaussianModel:
        """Start the next fit from ``previous``'s network, standardisation and preconditioner
        (copies: ``previous`` is unchanged). Keeping the standardisation keeps the network's
        function, so the fit starts where the previous one ended."""
        if previous is not None and previous.params is not None:
            self.params = previous.params.copy()
            self.scale = None if previous.scale is None else previous.scale.copy()
            self._problem, self.diagnostics = previous._problem, dict(previous.diagnostics)
            self.x_shift, self.x_scale = previous.x_shift, previous.x_scale
            self.y_shift, self.y_scale = previous.y_shift, previous.y_scale
        return self

    def network(self) -> GaussianMLP:
        """The network of this model's shapes (known after the first fit)."""
        if self._network is None:
            n_in, n_out = len(self.x_shift), len(self.y_shift)
            if n_in == 0:
                raise RuntimeError("fit the model first")
            self._network = GaussianMLP(
                n_in, n_out, self.hidden, self.min_log_std, self.max_log_std
            )
        return self._network

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
        """Eq. 3's weighted MLE, to convergence on held-out trajectories.

        Transitions of zero or negligible weight (``NEGLIGIBLE_WEIGHT``) are left out. The
        transitions of every k-th trajectory (``groups``: a trajectory index per transition;
        without it every weighted transition is its own group) are held out, and the fit watches
        their weighted NLL. A first fit warms up with ``warmup_epochs`` epochs of Adam on
        shuffled minibatches; then L-BFGS on the whole training set measures the held-out NLL
        every ``CHECK_EVERY`` iterations and stops after ``patience`` iterations without an
        improvement (``refit_patience`` for a warm-started fit, which starts at a fitted network),
        or after ``max_iterations``. The network with the best held-out NLL is kept; a
        warm-started fit counts its starting network as a candidate, so a refit never ends
        worse on the held-out set than where it started, and one on the same transitions,
        weights and held-out set as its predecessor (ML's refits) keeps the predecessor's
        network as it is."""
        weights = check_weights(weights).ravel()
        if not weights.any():
            raise ValueError("cannot fit a model: every transition has zero weight")
        keep = weights > NEGLIGIBLE_WEIGHT * weights.max()
        groups = np.arange(keep.sum()) if groups is None else np.asarray(groups)[keep]
        test = self.held_out(groups)
        if test.all() or not test.any():
            test = np.zeros_like(test)  # too few groups to hold any out: train on everything
        x = self._inputs(states, actions).reshape(len(weights), -1)[keep]
        y = (np.asarray(next_states) - np.asarray(states)).reshape(len(weights), -1)[keep]
        w = weights[keep]
        cold = self.params is None
        if cold:
            self.x_shift, self.x_scale = _weighted_moments(x, w / w.sum())
            self.y_shift, self.y_scale = _weighted_moments(y, w / w.sum())
            self.params = self.network().initial(np.random.default_rng(self.seed))
        problem = hashlib.sha256(b"".join(a.tobytes() for a in (x, y, w, test))).hexdigest()
        if problem == self._problem:
            # The previous fit solved this very problem (ML's weights never change): keep it.
            self._fold()
            self.diagnostics = self.diagnostics | {"model_epochs": 0.0, "model_iterations": 0.0}
            return self
        self._problem = problem
        if cold and self._read_first_fit(problem):
            self._fold()
            return self

        def standardised(where: np.ndarray) -> Rows:
            return rows(
                (x[where] - self.x_shift) / self.x_scale,
                (y[where] - self.y_shift) / self.y_scale,
                w[where],
            )

        train = standardised(~test)
        watched = standardised(test) if test.any() else train
        with threadpool_limits(limits=self.threads, user_api="blas"):
            epochs = self._warm_up(train, watched) if cold else 0
            iterations = self._lbfgs(train, watched, self.patience if cold else self.refit_patience)
        self._fold()
        self.diagnostics = {
            "model_epochs": float(epochs),
            "model_iterations": float(iterations),
            "fit_ess": float(w.sum() ** 2 / (w**2).sum()),
        }
        self.diagnostics |= self.held_out_metrics(x[test], y[test], w[test])
        if cold:
            self._keep_first_fit(problem)
        return self

    # A first fit is a pure function of its problem (data, weights, held-out set), the settings
    # and the code: runs that share one (the readings that change only the step rule, the
    # tuning grid's step sizes) read it from ``store`` instead of recomputing it.

    def first_fit_key(self, problem: str) -> str:
        """The digest that names a first fit in ``store``: of the problem's digest, every setting
        of the fit, the source of the fit's code and numpy's version."""
        settings = (
            self.hidden, self.learning_rate, self.batch_size, self.warmup_epochs, self.patience,
            self.max_iterations, self.memory, self.holdout, self.seed, self.threads,
            self.min_log_std, self.max_log_std, np.__version__,
        )  # fmt: skip
        digest = hashlib.sha256(f"{problem} {settings!r}".encode())
        for module in (mlp, lbfgs):
            digest.update(Path(str(module.__file__)).read_bytes())
        digest.update(Path(__file__).read_bytes())
        return digest.hexdigest()

    def _first_fit_path(self, problem: str) -> Path | None:
        return None if self.store is None else self.store / f"{self.first_fit_key(problem)}.npz"

    def _read_first_fit(self, problem: str) -> bool:
        """Take the stored first fit of ``problem`` if there is one (a file that cannot be read is
        ignored: the fit is recomputed and the file rewritten)."""
        path = self._first_fit_path(problem)
        if path is None or not path.is_file():
            return False
        try:
            with np.load(path) as stored:
                params, scale = stored["params"], stored["scale"]
                names, values = stored["names"], stored["values"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return False
        if self.params is None or (params.shape, params.dtype) != (
            self.params.shape,
            self.params.dtype,
        ):
            return False
        self.params, self.scale = params, (scale if scale.size else None)
        self.diagnostics = {str(k): float(v) for k, v in zip(names, values, strict=True)}
        return True

    def _keep_first_fit(self, problem: str) -> None:
        path = self._first_fit_path(problem)
        if path is None:
            return
        assert self.params is not None
        buffer = io.BytesIO()
        np.savez(
            buffer,
            params=self.params,
            scale=np.zeros(0) if self.scale is None else self.scale,
            names=np.array(list(self.diagnostics)),
            values=np.array(list(self.diagnostics.values()), dtype=float),
        )
        atomic.atomic_write(path, lambda handle: handle.write(buffer.getvalue()))

    def _warm_up(self, train: Rows, watched: Rows) -> int:
        """Adam on shuffled minibatches for ``warmup_epochs`` epochs, keeping the parameters with
        the best watched loss; sets the preconditioner ``scale`` from Adam's second moments.
        Returns the epochs run."""
        assert self.params is not None
        network, params = self.network(), self.params
        best = _Best(params, network.loss(params, watched))
        generator = np.random.default_rng(self.seed)
        first, second = np.zeros_like(params), np.zeros_like(params)
        beta1, beta2, n = 0.9, 0.999, len(train.w)
        batches, step = max(1, round(n / self.batch_size)), 0
        for _ in range(self.warmup_epochs):
            for batch in np.array_split(generator.permutation(n), batches):
                step += 1
                # The minibatch's share of the weighted loss, scaled to the whole set: unbiased.
                _, gradient = network.loss_and_gradient(
                    params, train.take(np.sort(batch), n / len(batch))
                )
                first += (1 - beta1) * (gradient - first)
                second += (1 - beta2) * (gradient * gradient - second)
                params = params - self.learning_rate * (first / (1 - beta1**step)) / (
                    np.sqrt(second / (1 - beta2**step)) + 1e-8
                )
            best.update(params, network.loss(params, watched))
        self.params = best.params
        if step:
            # The inverse of the diagonal (empirical Fisher) curvature, as L-BFGS's scale.
            curvature = second / (1 - beta2**step)
            inverse = 1.0 / (curvature + 1e-12 * curvature.max())
            self.scale = np.sqrt(inverse / inverse.mean())
        return self.warmup_epochs

    def _lbfgs(self, train: Rows, watched: Rows, patience: int) -> int:
        """L-BFGS (``lbfgs``, with ``memory`` pairs) on the whole training set in the variables
        params / scale, which gives it the preconditioner as its initial inverse Hessian; stops
        ``patience`` iterations after the last improvement of the watched loss, or after
        ``max_iterations``. Keeps the best parameters; returns the iterations run."""
        assert self.params is not None
        network = self.network()
        scale = np.ones(network.size) if self.scale is None else self.scale
        best = _Best(self.params, network.loss(self.params, watched))
        iterations = 0

        def loss(u: np.ndarray) -> tuple[float, np.ndarray]:
            value, gradient = network.loss_and_gradient(scale * u, train)
            return value, scale * gradient

        def watch(u: np.ndarray) -> None:
            nonlocal iterations
            iterations += 1
            if iterations % CHECK_EVERY == 0:
                best.update(scale * u, network.loss(scale * u, watched))
                if best.since * CHECK_EVERY >= patience:
                    raise lbfgs.Stop

        if self.max_iterations > 0:
            u, iterations = lbfgs.minimise(
                loss, self.params / scale, self.memory, self.max_iterations, watch
            )
            best.update(scale * u, network.loss(scale * u, watched))
        self.params = best.params
        return iterations

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
        assert self.params is not None, "fit the model first"
        layers = self.network().layers(self.params)
        first, hidden, last = (layer.astype(np.float64) for layer in layers)
        n_in, h, n_out = len(self.x_shift), self.hidden, len(self.y_shift)
        w1 = first[:n_in, :h] / self.x_scale[:, None]
        b1 = first[n_in, :h] - self.x_shift @ w1
        w3, b3 = last[:h].copy(), last[h].copy()
        w3[:, :n_out] *= self.y_scale
        b3[:n_out] = b3[:n_out] * self.y_scale + self.y_shift
        # Stored as [fan_in, fan_out] float32 tensors for addmm: x @ W + b.
        f32 = torch.float32
        self._folded = [
            (torch.as_tensor(weight, dtype=f32), torch.as_tensor(bias, dtype=f32))
            for weight, bias in ((w1, b1), (hidden[:h, :h], hidden[h, :h]), (w3, b3))
        ]
        self._log_y_scale = torch.as_tensor(np.log(self.y_scale), dtype=torch.float32)
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

    def mean_std(self, states: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._mean_std_inputs(self._inputs(states, actions))

    def _mean_std_inputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self.params is not None, "fit the model first"
        z = rows((x - self.x_shift) / self.x_scale, np.zeros((len(x), 0)), np.ones(len(x))).x
        mean, log_std = self.network().heads(self.params, z)
        return mean * self.y_scale + self.y_shift, np.exp(log_std) * self.y_scale

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


class _Best:
    """The parameters with the lowest watched loss so far (the start counts), and how many
    measurements have passed since the last improvement of at least MIN_IMPROVEMENT."""

    def __init__(self, params: np.ndarray, value: float):
        self.params, self.value, self.since = params.copy(), _finite(value), 0

    def update(self, params: np.ndarray, value: float) -> None:
        value = _finite(value)
        improved = value < self.value - MIN_IMPROVEMENT
        if value < self.value:
            self.value, self.params = value, params.copy()
        self.since = 0 if improved else self.since + 1


def _finite(value: float) -> float:
    return value if np.isfinite(value) else np.inf


def _weighted_moments(values: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = w @ values
    std = np.sqrt(w @ (values - mean) ** 2)
    return mean, np.where(std > 1e-8, std, 1.0)


def set_threads(threads: int) -> None:
    """Torch's intra-op threads (the sampling and fused rollouts' products) follow the pipeline
    rule's ``threads``; a fit limits numpy's BLAS to the model's ``threads``."""
    torch.set_num_threads(max(1, int(threads)))
