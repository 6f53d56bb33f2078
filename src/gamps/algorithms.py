"""Algorithm 1: the batch loop shared by GAMPS and its baselines (ML, REINFORCE, PGT).

At iteration k, with the fixed dataset D collected by pi_b:
  GAMPS      fit p_hat with the weights omega of Eq. 3, Q^{pi, p_hat}, gradient by Eq. 5;
  ML         fit p_hat with unit weights, then as GAMPS;
  REINFORCE  per-trajectory importance-sampled REINFORCE;
  PGT        per-decision importance-sampled policy gradient theorem estimator;
then theta_{k+1} = theta_k + alpha grad. J(theta_k) is evaluated on the real environment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from . import gradients, weights
from .data import TrajectoryBatch

ALGORITHMS = ("gamps", "ml", "reinforce", "pgt")
MODEL_BASED = ("gamps", "ml")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    iterations: int
    step_size: float
    q_norm: float = 2.0
    #: Footnote 5: stop when the trajectory-level effective sample size falls below this
    #: fraction of N (0 disables the rule).
    ess_stop_fraction: float = 0.0
    #: Report the importance weights as degenerate (``degenerate`` column, a log warning) when
    #: their effective sample size falls below this fraction of N. Reporting only.
    degenerate_ess_fraction: float = 0.05


def model_weights(domain, algorithm: str, theta, batch: TrajectoryBatch, log_rho, q_norm):
    """The transition weights of model learning: Eq. 3 for GAMPS, unit weights for ML."""
    if algorithm == "gamps":
        norms = domain.score_norms(theta, batch, q_norm)
        return weights.gamps_weights(log_rho, norms, domain.gamma, batch.mask)
    if algorithm == "ml":
        return weights.ml_weights(batch.mask)
    raise ValueError(f"{algorithm!r} learns no model")


def fit_model(domain, algorithm, theta, batch, log_rho, q_norm, previous=None):
    """Line 4 of Algorithm 1: the weighted MLE of the domain's model class on the dataset.

    Models that learn iteratively (``warm_start``) start from the previous iteration's fit."""
    w = model_weights(domain, algorithm, theta, batch, log_rho, q_norm)
    keep = batch.mask
    model = domain.make_model()
    if previous is not None and hasattr(model, "warm_start"):
        model.warm_start(previous)
    return model.fit(
        batch.states[:, :-1][keep], batch.actions[keep], batch.states[:, 1:][keep], w[keep]
    )


def log_ratios(domain, theta, batch: TrajectoryBatch) -> np.ndarray:
    """log rho_{pi_theta/pi_b}(tau_{0:t}) of every step, shape [N, T]."""
    return weights.log_importance_ratios(
        domain.log_probs(theta, batch), batch.behaviour_log_prob, batch.mask
    )


def estimate_gradient(
    domain,
    algorithm: str,
    theta,
    batch: TrajectoryBatch,
    q_norm: float,
    rng,
    log_rho=None,
    previous_model=None,
):
    """One gradient estimate of ``algorithm`` at theta (lines 2-9 of Algorithm 1), and the model
    it fitted (None for the model-free baselines)."""
    if log_rho is None:
        log_rho = log_ratios(domain, theta, batch)
    model = None
    if algorithm in MODEL_BASED:
        model = fit_model(domain, algorithm, theta, batch, log_rho, q_norm, previous_model)
        q = domain.q_values(model, theta, batch, rng)
        coef = gradients.mvg_coefficients(log_rho, q, domain.gamma, batch.mask)
    elif algorithm == "reinforce":
        coef = gradients.reinforce_coefficients(log_rho, batch.rewards, domain.gamma, batch.mask)
    elif algorithm == "pgt":
        coef = gradients.pgt_coefficients(log_rho, batch.rewards, domain.gamma, batch.mask)
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose from {ALGORITHMS}")
    return domain.score_dot(theta, batch, coef) / batch.n, model


def batch_policy_search(
    domain,
    algorithm: str,
    batch: TrajectoryBatch,
    theta0,
    settings: Settings,
    rng: np.random.Generator,
    evaluation_rng=None,
    trace: list | None = None,
) -> list[dict]:
    """Run Algorithm 1 for ``settings.iterations`` steps; one record per evaluated policy.

    Record k holds J(theta_k) (k = 0 is the initial policy), the effective sample size of the
    trajectory importance weights rho_{0:T-1} at theta_k, whether that ESS is degenerate (below
    ``settings.degenerate_ess_fraction`` of N), and whether footnote 5's stopping rule has frozen
    the policy. A non-finite return or gradient raises FloatingPointError instead of propagating
    NaN into the curves. ``evaluation_rng(k)`` gives the generator of iteration k's evaluation
    (default: ``rng``); the pipeline makes it depend on (seed, N, k) only, so every algorithm is
    evaluated on the same episodes' randomness (common random numbers). A ``trace`` list
    receives a copy of every evaluated theta_k.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose from {ALGORITHMS}")
    theta = np.array(theta0, dtype=float)
    records = []
    stopped = False
    model = None
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
                domain, algorithm, theta, batch, settings.q_norm, rng, log_rho, model
            )
            _require_finite(
                {"gradient": grad},
                f"{algorithm}: gradient at theta_{k} (ESS {ess:.3g}; a smaller step_size or "
                "ess_stop_fraction > 0 keeps pi closer to pi_b)",
            )
            theta = theta + settings.step_size * grad
    return records


def is_degenerate(ess: float, n: int, fraction: float) -> bool:
    """True when the effective sample size is below ``fraction`` of N, or not a number."""
    return not ess >= fraction * n


def _require_finite(values: dict, what: str) -> None:
    for name, value in values.items():
        if not np.all(np.isfinite(value)):
            raise FloatingPointError(f"{what}: {name} is not finite ({np.ravel(value)[:5]} ...)")
