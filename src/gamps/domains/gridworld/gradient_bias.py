"""Beyond the paper: the exact gradient-bias experiment of one run seed on the gridworld
(Theorem 3.2 and Lemma 4.1, computed in closed form by ``gamps.bias``; Figure 4)."""

from __future__ import annotations

import logging

import numpy as np

from ... import algorithms, bias, experiment
from ...data import TrajectoryBatch
from ...weights import state_action_map
from .domain import GridworldDomain
from .model import ActionEffectModel

log = logging.getLogger(__name__)


def sample_fit(
    domain: GridworldDomain, algorithm: str, theta: np.ndarray, batch: TrajectoryBatch, q: float
) -> tuple[ActionEffectModel, np.ndarray]:
    """The model Algorithm 1 fits at theta (``algorithms.fit_weighted`` with the algorithm's
    weights) and the normalised map of those weights per (s, a)."""
    log_rho = algorithms.log_ratios(domain, theta, batch)
    step_weights = algorithms.model_weights(domain, algorithm, theta, batch, log_rho, q)
    model = algorithms.fit_weighted(domain, batch, step_weights)
    wmap = state_action_map(
        batch.states[:, :-1], batch.actions, step_weights, batch.mask, domain.mdp.reward.shape
    )
    return model, wmap


def record(result: bias.GradientBias, weight_l1: float) -> dict:
    """One row of results/gridworld/gradient_bias.csv (without its identifying columns)."""
    return {
        "grad_norm": result.grad_norm,
        "bias": result.bias,
        "cosine": result.cosine,
        "expected_kl": result.expected_kl,
        "weighted_q_error": result.weighted_q_error,
        "bound_l1": result.bound_l1,
        "bound": result.bound,
        "weight_l1": weight_l1,
    }


def exact_rows(
    domain: GridworldDomain, analysis: bias.BiasAnalysis, behaviour_pi: np.ndarray
) -> list[dict]:
    """One row per model-based algorithm: its model fitted on the exact distribution (the
    N -> inf limit, ``weights = "exact"``)."""
    rows = []
    for algorithm in algorithms.MODEL_BASED:
        limit = bias.exact_weights(analysis, algorithm, behaviour_pi)
        model = bias.fit_on_distribution(domain.make_model(), domain.mdp, limit)
        result = analysis.evaluate(model.transition_tensor())
        rows.append({"model": algorithm, "weights": "exact", **record(result, 0.0)})
    return rows


def sample_rows(
    domain: GridworldDomain,
    analysis: bias.BiasAnalysis,
    behaviour_pi: np.ndarray,
    theta: np.ndarray,
    batch: TrajectoryBatch,
    q: float,
    fixed_models: dict | None = None,
) -> list[dict]:
    """One row per model-based algorithm: the model Algorithm 1 fits on ``batch`` at theta
    (``weights = "sample"``); ``weight_l1`` is the L1 distance of its normalised weight map from
    the exact limit. ``fixed_models`` holds precomputed (model, map) pairs of algorithms whose
    fit does not depend on theta (ML)."""
    rows = []
    for algorithm in algorithms.MODEL_BASED:
        if fixed_models and algorithm in fixed_models:
            model, wmap = fixed_models[algorithm]
        else:
            model, wmap = sample_fit(domain, algorithm, theta, batch, q)
        result = analysis.evaluate(model.transition_tensor())
        limit = bias.normalised(bias.exact_weights(analysis, algorithm, behaviour_pi))
        weight_l1 = float(np.abs(wmap - limit).sum())
        rows.append({"model": algorithm, "weights": "sample", **record(result, weight_l1)})
    return rows


def gradient_bias(
    env_config: dict,
    bias_config: dict,
    seed: int,
    datasets: dict[int, TrajectoryBatch],
    recorded_returns: dict[int, np.ndarray],
) -> list[dict]:
    """The gradient-bias diagnostics of run seed s on the gridworld (gamps.bias).

    policy = "behaviour": pi_b of the seed; the ML and GAMPS models fitted on the exact
    distributions (n_trajectories = 0) and on ``repetitions`` fresh datasets of each size in
    ``bias_config["n_trajectories"]``. policy = "gamps_path": theta_k of the GAMPS run on the
    pipeline's dataset of each size N (``datasets``), recomputed (Algorithm 1 is deterministic on
    the gridworld) and checked against the train job's returns; every ``path_every``-th iteration
    and the last, with the models fitted on that dataset and on the exact distributions.
    """
    domain = GridworldDomain(**experiment.domain_params("gridworld", env_config))
    q = env_config["q_norm"]
    theta_b = domain.behaviour_parameters(experiment.rng(seed, 0))
    pi_b = domain.policy.probs(theta_b)
    rows: list[dict] = []

    def add(policy: str, n: int, rep: int, k: int, new_rows: list[dict]) -> None:
        ident = {"policy": policy, "seed": seed, "n_trajectories": n, "repetition": rep}
        rows.extend(ident | {"iteration": k} | row for row in new_rows)

    analysis = bias.BiasAnalysis(domain.mdp, pi_b, q)
    add("behaviour", 0, 0, 0, exact_rows(domain, analysis, pi_b))
    for n in bias_config["n_trajectories"]:
        for rep in range(bias_config["repetitions"]):
            batch = domain.collect(theta_b, n, experiment.rng(seed, 4, n, rep))
            new_rows = sample_rows(domain, analysis, pi_b, theta_b, batch, q)
            add("behaviour", n, rep, 0, new_rows)

    for n, batch in sorted(datasets.items()):
        if not np.array_equal(batch.meta["behaviour_theta"], theta_b):
            raise ValueError(f"dataset N={n} of seed {seed} was not collected by this seed's pi_b")
        path: list[np.ndarray] = []
        records = experiment.train("gridworld", env_config, "gamps", batch, trace=path)
        returns = np.array([r["return"] for r in records])
        if not np.allclose(returns, recorded_returns[n], rtol=1e-12, atol=0):
            raise ValueError(f"recomputed GAMPS path (N={n}, seed {seed}) differs from the run's")
        ml_fit = sample_fit(domain, "ml", theta_b, batch, q)  # independent of theta
        last = len(path) - 1
        for k in sorted({*range(0, last + 1, bias_config["path_every"]), last}):
            analysis = bias.BiasAnalysis(domain.mdp, domain.policy.probs(path[k]), q)
            add("gamps_path", n, 0, k, exact_rows(domain, analysis, pi_b))
            new_rows = sample_rows(
                domain, analysis, pi_b, path[k], batch, q, fixed_models={"ml": ml_fit}
            )
            add("gamps_path", n, 0, k, new_rows)
    log.info("seed %d: %d gradient-bias rows", seed, len(rows))
    return rows
