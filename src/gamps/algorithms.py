"""Algorithm 1: the batch loop shared by GAMPS and its baselines (ML, REINFORCE, PGT).

At iteration k, with the fixed dataset D collected by pi_b:
  GAMPS      fit p_hat with the weights omega of Eq. 3, Q^{pi, p_hat}, gradient by Eq. 5;
  ML         fit p_hat with unit weights, then as GAMPS;
  REINFORCE  per-trajectory importance-sampled REINFORCE;
  PGT        per-decision importance-sampled policy gradient theorem estimator;
then theta_{k+1} = theta_k + alpha grad (or another update rule: ``ascent``). J(theta_k) is
evaluated on the real environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from . import gradients, weights
from .ascent import Ascent
from .data import TrajectoryBatch
from .models import TransitionModel

M = TypeVar("M", bound=TransitionModel)

if TYPE_CHECKING:
    from .bias import BiasAnalysis
    from .domains.base import Domain

log = logging.getLogger(__name__)

#: (log_rho, signal, gamma, mask) -> per-step coefficients c[N, T] of the scores; the gradient is
#: sum_{i,t} c_t^i grad log pi(a_t^i | s_t^i) / N. The signal is Q^{pi, p_hat} of the fitted model
#: for the model-based algorithms, the observed rewards for the model-free ones.
Coefficients = Callable[[np.ndarray, np.ndarray, float, np.ndarray], np.ndarray]
#: (domain, theta, batch, log_rho, q_norm) -> per-step weights [N, T] of the model's weighted MLE.
ModelWeights = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Algorithm:
    """One entry of the registry: everything the loop, the figures and the diagnostics need.

    ``model_weights`` is None for a model-free algorithm. ``exact_weights(analysis, pi_b)`` gives
    the N -> infinity limit of the model weights per (s, a) on a finite MDP (``gamps.bias``), or
    is None where no such limit is defined. ``baseline_coefficients`` is a model-free estimator
    with its state baseline (``Settings.baseline``); a model-based one keeps ``coefficients`` and
    gets Q - V^{pi, p_hat} as its signal."""

    name: str
    label: str
    coefficients: Coefficients
    model_weights: ModelWeights | None = None
    exact_weights: Callable[..., np.ndarray] | None = None
    baseline_coefficients: Coefficients | None = None

    @property
    def model_based(self) -> bool:
        return self.model_weights is not None


def _gamps_weights(
    domain: Domain[Any],
    theta: np.ndarray,
    batch: TrajectoryBatch,
    log_rho: np.ndarray,
    q_norm: float,
) -> np.ndarray:
    """Eq. 3: omega_t = gamma^t rho_{0:t} sum_{l<=t} ||score_l||_q."""
    norms = domain.score_norms(theta, batch, q_norm)
    return weights.gamps_weights(log_rho, norms, domain.gamma, batch.mask)


def _ml_weights(
    domain: Domain[Any],
    theta: np.ndarray,
    batch: TrajectoryBatch,
    log_rho: np.ndarray,
    q_norm: float,
) -> np.ndarray:
    """Maximum likelihood: every observed transition weighs 1, whatever the current policy."""
    return weights.ml_weights(batch.mask)


def _gamps_limit(analysis: BiasAnalysis, behaviour_pi: np.ndarray) -> np.ndarray:
    """Lemma 4.1: the ratios turn pi_b's samples into expectations under pi, so the weights
    tend to eta~ of the current policy."""
    return analysis.eta_mass


def _ml_limit(analysis: BiasAnalysis, behaviour_pi: np.ndarray) -> np.ndarray:
    """Unit weights count every visit of pi_b: its undiscounted visitation."""
    from .bias import visitation

    return visitation(analysis.mdp, behaviour_pi)


#: The algorithms, in the order of every table and legend. Adding one is one entry here.
REGISTRY: dict[str, Algorithm] = {
    a.name: a
    for a in (
        Algorithm("gamps", "GAMPS", gradients.mvg_coefficients, _gamps_weights, _gamps_limit),
        Algorithm("ml", "ML", gradients.mvg_coefficients, _ml_weights, _ml_limit),
        Algorithm(
            "reinforce",
            "REINFORCE",
            gradients.reinforce_coefficients,
            baseline_coefficients=gradients.reinforce_baseline_coefficients,
        ),
        Algorithm(
            "pgt",
            "PGT",
            gradients.pgt_coefficients,
            baseline_coefficients=gradients.pgt_baseline_coefficients,
        ),
    )
}
ALGORITHMS = tuple(REGISTRY)
MODEL_BASED = tuple(name for name, a in REGISTRY.items() if a.model_based)


def get(name: str) -> Algorithm:
    """The registry entry of ``name``; a clear error for an unknown one."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown algorithm {name!r}; choose from {ALGORITHMS}") from None


def label(name: str) -> str:
    """The display name of an algorithm (GAMPS, ML, ...); unknown names are shown as given."""
    return REGISTRY[name].label if name in REGISTRY else str(name)


@dataclass(frozen=True)
class Settings:
    iterations: int
    #: alpha of line 10; in the config, a number shared by every algorithm, each algorithm's own
    #: (a mapping), or ``tuned`` (``gamps.tuning``): the run receives its algorithm's.
    step_size: float
    q_norm: float = 2.0
    #: How the step follows the gradient (``gamps.ascent``): the paper's ``plain`` ascent, or the
    #: ``normalised`` or ``adam`` readings.
    update: str = "plain"
    #: State baseline of the gradient estimators (``gradients.BASELINES``): "none", the paper's
    #: estimators, or "state" (V^{pi, p_hat}(s_t) in Eq. 5, leave-one-out averages model-free).
    baseline: str = "none"
    #: Footnote 5: stop when the trajectory-level effective sample size falls below this
    #: fraction of N (0 disables the rule).
    ess_stop_fraction: float = 0.0
    #: Report the importance weights as degenerate (``degenerate`` column, a log warning) when
    #: their effective sample size falls below this fraction of N. Reporting only.
    degenerate_ess_fraction: float = 0.05


def model_weights(
    domain: Domain[Any],
    algorithm: str,
    theta: np.ndarray,
    batch: TrajectoryBatch,
    log_rho: np.ndarray,
    q_norm: float,
) -> np.ndarray:
    """The transition weights of model learning: Eq. 3 for GAMPS, unit weights for ML."""
    weigh = get(algorithm).model_weights
    if weigh is None:
        raise ValueError(f"{algorithm!r} learns no model")
    return weigh(domain, theta, batch, log_rho, q_norm)


def fit_model(
    domain: Domain[M],
    algorithm: str,
    theta: np.ndarray,
    batch: TrajectoryBatch,
    log_rho: np.ndarray,
    q_norm: float,
    previous: M | None = None,
) -> M:
    """Line 4 of Algorithm 1: the weighted MLE of the domain's model class on the dataset."""
    w = model_weights(domain, algorithm, theta, batch, log_rho, q_norm)
    return fit_weighted(domain, batch, w, previous)


def fit_weighted(
    domain: Domain[M],
    batch: TrajectoryBatch,
    step_weights: np.ndarray,
    previous: M | None = None,
) -> M:
    """The domain's model class fitted on every valid transition of the batch with per-step
    weights [N, T]; an iterative fit starts from ``previous`` (``warm_start``) and may hold out
    whole trajectories (each transition carries its trajectory's index)."""
    keep = batch.mask
    model = domain.make_model().warm_start(previous)
    trajectory = np.broadcast_to(np.arange(batch.n)[:, None], keep.shape)
    return model.fit(
        batch.states[:, :-1][keep],
        batch.actions[keep],
        batch.states[:, 1:][keep],
        step_weights[keep],
        trajectory[keep],
    )


def log_ratios(domain: Domain[Any], theta: np.ndarray, batch: TrajectoryBatch) -> np.ndarray:
    """log rho_{pi_theta/pi_b}(tau_{0:t}) of every step, shape [N, T]."""
    return weights.log_importance_ratios(
        domain.log_probs(theta, batch), batch.behaviour_log_prob, batch.mask
    )


def estimate_gradient(
    domain: Domain[Any],
    algorithm: str,
    theta: np.ndarray,
    batch: TrajectoryBatch,
    q_norm: float,
    rng: np.random.Generator,
    log_rho: np.ndarray | None = None,
    previous_model: TransitionModel | None = None,
    baseline: str = "none",
) -> tuple[np.ndarray, TransitionModel | None]:
    """One gradient estimate of ``algorithm`` at theta (lines 2-9 of Algorithm 1), and the model
    it fitted (None for the model-free baselines). ``baseline="state"`` subtracts the state
    baseline (``gradients``): V^{pi, p_hat}(s_t) from Q in Eq. 5 (the domain's ``state_values``,
    drawn from ``rng`` after Q), leave-one-out averages in the model-free estimators."""
    entry = get(algorithm)
    if baseline not in gradients.BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; choose from {gradients.BASELINES}")
    coefficients = entry.coefficients
    if log_rho is None:
        log_rho = log_ratios(domain, theta, batch)
    model = None
    if entry.model_based:
        model = fit_model(domain, algorithm, theta, batch, log_rho, q_norm, previous_model)
        signal = domain.q_values(model, theta, batch, rng)
        if baseline == "state":
            signal = signal - domain.state_values(model, theta, batch, rng)
    else:
        signal = batch.rewards
        if baseline == "state":
            if entry.baseline_coefficients is None:
                raise ValueError(f"{algorithm!r} has no estimator with a state baseline")
            coefficients = entry.baseline_coefficients
    coef = coefficients(log_rho, signal, domain.gamma, batch.mask)
    return domain.score_dot(theta, batch, coef) / batch.n, model


def batch_policy_search(
    domain: Domain[Any],
    algorithm: str,
    batch: TrajectoryBatch,
    theta0: np.ndarray,
    settings: Settings,
    rng: np.random.Generator,
    evaluation_rng: Callable[[int], np.random.Generator] | None = None,
    trace: list | None = None,
    gradient_trace: list | None = None,
) -> list[dict]:
    """Run Algorithm 1 for ``settings.iterations`` steps; one record per evaluated policy.

    Record k holds J(theta_k) (k = 0 is the initial policy), the effective sample size of the
    trajectory importance weights rho_{0:T-1} at theta_k, whether that ESS is degenerate (below
    ``settings.degenerate_ess_fraction`` of N), and whether footnote 5's stopping rule has frozen
    the policy. A non-finite return or gradient raises FloatingPointError instead of propagating
    NaN into the curves. ``evaluation_rng(k)`` gives the generator of iteration k's evaluation
    (default: ``rng``); the pipeline makes it depend on (seed, N, k) only, so every algorithm is
    evaluated on the same episodes' randomness (common random numbers). A ``trace`` list
    receives a copy of every evaluated theta_k, a ``gradient_trace`` list every gradient estimate.
    """
    get(algorithm)  # an unknown name fails before any work
    theta = np.array(theta0, dtype=float)
    records = []
    stopped = False
    model = None
    ascent = Ascent(settings.update, settings.step_size)
    for k in range(settings.iterations + 1):
        metrics = domain.evaluate(theta, rng if evaluation_rng is None else evaluation_rng(k))
        _require_finite(metrics, f"{algorithm}: evaluation of theta_{k}")
        log_rho = log_ratios(domain, theta, batch)
        ess = weights.effective_sample_size(log_rho[:, -1])
        degenerate = is_degenerate(ess, batch.n, settings.degenerate_ess_fraction)
        if settings.ess_stop_fraction > 0 and ess < settings.ess_stop_fraction * batch.n:
            stopped = True  # footnote 5: keep this policy for the remaining iterations
        records.append(
            {"iteration": k, **metrics, "ess": ess, "degenerate": degenerate, "stopped": stopped}
            | dict.fromkeys(domain.diagnostic_keys, np.nan)
        )
        if trace is not None:
            trace.append(theta.copy())
        log.info("%s k=%d J=%.4f ess=%.1f", algorithm, k, metrics["return"], ess)
        if degenerate:
            log.warning(
                "%s k=%d: degenerate importance weights, ESS %.3g < %g x N = %.3g",
                algorithm,
                k,
                ess,
                settings.degenerate_ess_fraction,
                settings.degenerate_ess_fraction * batch.n,
            )
        if k < settings.iterations and not stopped:
            grad, model = estimate_gradient(
                domain,
                algorithm,
                theta,
                batch,
                settings.q_norm,
                rng,
                log_rho,
                model,
                settings.baseline,
            )
            _require_finite(
                {"gradient": grad},
                f"{algorithm}: gradient at theta_{k} (ESS {ess:.3g}; a smaller step_size or "
                "ess_stop_fraction > 0 keeps pi closer to pi_b)",
            )
            if gradient_trace is not None:
                gradient_trace.append(grad.copy())
            if model is not None:
                records[-1].update(domain.diagnostics(model))
            theta = ascent.step(theta, grad)
    return records


def is_degenerate(ess: float, n: int, fraction: float) -> bool:
    """True when the effective sample size is below ``fraction`` of N, or not a number."""
    return not ess >= fraction * n


def _require_finite(values: dict, what: str) -> None:
    for name, value in values.items():
        if not np.all(np.isfinite(value)):
            raise FloatingPointError(f"{what}: {name} is not finite ({np.ravel(value)[:5]} ...)")
