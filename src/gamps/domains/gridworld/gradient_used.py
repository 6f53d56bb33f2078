"""Beyond the paper: the gradient each algorithm actually uses on the gridworld, and where the
final-return gap between two algorithms comes from; exact, per run seed.

(A) The gradient used. At theta_k of an algorithm's own learning path on the pipeline's dataset
(``experiment.train``), the gradient it computes on that batch, ``algorithms.estimate_gradient``
(lines 2-9 of Algorithm 1: Eq. 5 with the fitted model's exact Q for GAMPS and ML, importance-
sampled REINFORCE and PGT), against the true gradient of Eq. 1 (``exact.boltzmann_gradient``):
their cosine and the ratio of their norms. k = 0 is pi_b, where every ratio is 1.

(B) Final returns J_K = J(theta_K), exact, of K steps theta <- theta + alpha_a g from pi_b, with
the step size alpha_a of each algorithm a (a mapping: it may differ per algorithm), where g is
  batch        the algorithm's estimate on the fixed dataset (the pipeline's runs, recomputed);
  fresh        the same estimator on N fresh trajectories of the current policy pi_{theta_k} at
               every step: on-policy, every ratio rho is 1;
  exact_limit  the N -> inf limit of the estimator on fresh data: for a model-based algorithm,
               Eq. 2's MVG with exact occupancies and the model fitted on the exact limit of its
               weights for data of pi_{theta_k} (GAMPS: eta of pi_{theta_k}, Lemma 4.1; ML: the
               visitation of pi_{theta_k}); for a model-free one (unbiased), the true gradient;
  exact_limit_batch  the same limit for data of pi_b, that of the fixed batch (GAMPS: eta of
               pi_{theta_k} again, the ratios correct for pi_b; ML: the visitation of pi_b);
  true         the exact gradient of Eq. 1.
No sampling enters ``exact_limit``, ``exact_limit_batch`` nor ``true``: their rows have N = 0.

Seeding: the fresh trajectories of iteration k come from spawn key (FRESH_KEY, N, k) = (6, N, k)
of the run seed (``experiment.rng``), the same for every algorithm (common random numbers), next
to the keys listed in ``gamps.experiment``'s docstring (0 to 5).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ... import algorithms, bias, exact, experiment
from ...ascent import Ascent
from ...data import TrajectoryBatch
from .domain import GridworldDomain
from .model import ActionEffectModel

log = logging.getLogger(__name__)

#: First element of the spawn key (FRESH_KEY, N, k) of the fresh on-policy trajectories.
FRESH_KEY = 6
#: The ascents of (B), in the order of the tables.
SETTINGS = ("batch", "fresh", "exact_limit", "exact_limit_batch", "true")
#: Rows of (B) that use no sample carry this N (the N -> inf limits).
EXACT_N = 0

#: (theta_k, k) -> the ascent direction at theta_k.
Direction = Callable[[np.ndarray, int], np.ndarray]


def true_gradient(domain: GridworldDomain, theta: np.ndarray) -> np.ndarray:
    """grad J(theta) of Eq. 1, exact, flattened like theta."""
    return exact.boltzmann_gradient(domain.mdp, domain.policy.probs(theta)).ravel()


def exact_limit_gradient(
    domain: GridworldDomain,
    algorithm: str,
    theta: np.ndarray,
    q: float,
    behaviour_pi: np.ndarray | None = None,
) -> np.ndarray:
    """The N -> inf limit of a model-based algorithm's gradient at theta: Eq. 2's MVG with exact
    occupancies and the model fitted (``bias.fit_on_distribution``) on the exact limit of its
    weights (``bias.exact_weights``) for data of ``behaviour_pi`` (None: of pi_theta itself)."""
    pi = domain.policy.probs(theta)
    analysis = bias.BiasAnalysis(domain.mdp, pi, q)
    limit = bias.exact_weights(analysis, algorithm, pi if behaviour_pi is None else behaviour_pi)
    model = bias.fit_on_distribution(domain.make_model(), domain.mdp, limit)
    return analysis.mvg(model.transition_tensor()).ravel()


def fresh_gradient(
    domain: GridworldDomain,
    algorithm: str,
    theta: np.ndarray,
    n: int,
    q: float,
    seed: int,
    k: int,
) -> np.ndarray:
    """The algorithm's estimator (``algorithms.estimate_gradient``) on N fresh trajectories of
    pi_theta drawn at iteration k (spawn key (FRESH_KEY, N, k)): their behaviour log-probabilities
    are pi_theta's own, so every importance ratio is 1, the on-policy version of the batch
    gradient."""
    generator = experiment.rng(seed, FRESH_KEY, n, k)
    batch = domain.collect(theta, n, generator)
    return algorithms.estimate_gradient(domain, algorithm, theta, batch, q, generator)[0]


def true_direction(domain: GridworldDomain) -> Direction:
    """Exact true-gradient ascent."""
    return lambda theta, k: true_gradient(domain, theta)


def limit_direction(
    domain: GridworldDomain, algorithm: str, q: float, behaviour_pi: np.ndarray | None
) -> Direction:
    """The N -> inf limit of a model-based algorithm (``exact_limit_gradient``)."""
    return lambda theta, k: exact_limit_gradient(domain, algorithm, theta, q, behaviour_pi)


def fresh_direction(
    domain: GridworldDomain, algorithm: str, n: int, q: float, seed: int
) -> Direction:
    """The algorithm's estimator on N fresh trajectories at every step (``fresh_gradient``)."""
    return lambda theta, k: fresh_gradient(domain, algorithm, theta, n, q, seed, k)


def ascent(
    domain: GridworldDomain,
    theta0: np.ndarray,
    step_size: float,
    iterations: int,
    direction: Direction,
    update: str = "plain",
) -> np.ndarray:
    """Exact J(theta_k), k = 0..K, of the ascent along direction(theta_k, k) with the update
    rule of the runs (``gamps.ascent``; plain: theta_{k+1} = theta_k + alpha direction)."""
    theta = np.array(theta0, dtype=float)
    rule = Ascent(update, step_size)
    returns = np.empty(iterations + 1)
    for k in range(iterations + 1):
        returns[k] = domain.evaluate(theta)["return"]
        if k < iterations:
            g = direction(theta, k)
            if not np.all(np.isfinite(g)):
                raise FloatingPointError(f"non-finite ascent direction at iteration {k}")
            theta = rule.step(theta, g)
    return returns


def evaluated_iterations(iterations: int, every: int) -> list[int]:
    """Every ``every``-th iteration of a path of ``iterations`` steps, and the last."""
    return sorted({*range(0, iterations + 1, every), iterations})


def cosine_row(used: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """The gradient used against the true one: norms, cosine, ||used|| / ||grad J|| and the
    relative error ||used - grad J|| / ||grad J||."""
    truth_norm, used_norm = float(np.linalg.norm(truth)), float(np.linalg.norm(used))
    error = float(np.linalg.norm(used - truth))
    return {
        "grad_norm": truth_norm,
        "used_norm": used_norm,
        "cosine": bias.cosine(used, truth),
        "norm_ratio": used_norm / truth_norm if truth_norm > 0 else np.inf,
        "relative_error": error / truth_norm if truth_norm > 0 else np.inf,
    }


def gradients_used(
    domain: GridworldDomain,
    algorithm: str,
    batch: TrajectoryBatch,
    path: list[np.ndarray],
    records: list[dict],
    q: float,
    iterations: Iterable[int],
) -> list[dict]:
    """(A) on one learning path: a row per evaluated iteration k with J(theta_k), the trajectory
    ESS / N of the batch at theta_k, and ``cosine_row`` of the gradient the algorithm computes on
    ``batch`` at theta_k (Algorithm 1's generator, spawn key (2, N); the gridworld's Q is exact
    and draws nothing). Where the direction is lost: ``exact_cosine``, the cosine with grad J of
    the gradient's exact counterpart (Eq. 2's MVG with exact occupancies and the model fitted on
    the batch, Figure 4's quantity; grad J itself for the unbiased model-free estimators), and
    ``sampling_cosine``, the cosine of the gradient used with that counterpart (the sampling of
    Eq. 5, or of the model-free estimator, over the batch's trajectories)."""
    seed, n = batch.meta["seed"], batch.n
    rows = []
    for k in iterations:
        used, model = algorithms.estimate_gradient(
            domain, algorithm, path[k], batch, q, experiment.rng(seed, 2, n)
        )
        truth = true_gradient(domain, path[k])
        counterpart = truth
        if isinstance(model, ActionEffectModel):  # the gridworld's model class
            pi = domain.policy.probs(path[k])
            p_hat = model.transition_tensor()
            counterpart = exact.boltzmann_gradient(domain.mdp, pi, p_hat).ravel()
        rows.append(
            {"algorithm": algorithm, "iteration": k, "return": records[k]["return"]}
            | {"ess_fraction": records[k]["ess"] / n}
            | cosine_row(used, truth)
            | {"exact_cosine": bias.cosine(counterpart, truth)}
            | {"sampling_cosine": bias.cosine(used, counterpart)}
        )
    return rows


def gradient_used(
    env_config: dict,
    seed: int,
    datasets: Mapping[int, TrajectoryBatch],
    step_sizes: Mapping[str, float],
    path_every: int,
    recorded_returns: Mapping[tuple[str, int], np.ndarray] | None = None,
) -> tuple[list[dict], list[dict]]:
    """(A) and (B) for run seed ``seed``, for every algorithm of ``env_config["algorithms"]`` and
    every dataset of ``datasets`` (N -> the pipeline's dataset of this seed).

    ``step_sizes[a]`` is algorithm a's alpha (every ascent of a uses it). The batch paths are
    recomputed with ``experiment.train`` and, where ``recorded_returns[(a, N)]`` is given (the
    pipeline's curves), checked against it. Returns (gradient rows, final-return rows): the
    first with ``gradients_used``'s columns, the second one row per (N, algorithm, setting) with
    J_0 and J_K (``SETTINGS``; N = 0 for the exact ones).
    """
    domain = GridworldDomain(**experiment.domain_params("gridworld", env_config))
    q, iterations = env_config["q_norm"], env_config["iterations"]
    update = env_config.get("update", "plain")
    names = list(env_config["algorithms"])
    theta_b = domain.behaviour_parameters(experiment.rng(seed, 0))
    pi_b = domain.policy.probs(theta_b)
    every = evaluated_iterations(iterations, path_every)
    gradient_rows: list[dict] = []
    return_rows: list[dict] = []

    def add_returns(n: int, algorithm: str, setting: str, returns: np.ndarray) -> None:
        return_rows.append(
            {"seed": seed, "n_trajectories": n, "algorithm": algorithm, "setting": setting}
            | {"initial_return": float(returns[0]), "final_return": float(returns[-1])}
        )

    true_by_step: dict[float, np.ndarray] = {}
    for name in names:
        alpha = float(step_sizes[name])
        if alpha not in true_by_step:
            true_by_step[alpha] = ascent(
                domain, theta_b, alpha, iterations, true_direction(domain), update
            )
        add_returns(EXACT_N, name, "true", true_by_step[alpha])
        if algorithms.get(name).model_based:
            for setting, behaviour in (("exact_limit", None), ("exact_limit_batch", pi_b)):
                direction = limit_direction(domain, name, q, behaviour)
                limit = ascent(domain, theta_b, alpha, iterations, direction, update)
                add_returns(EXACT_N, name, setting, limit)
        else:  # an unbiased estimator: its limit is the true gradient
            add_returns(EXACT_N, name, "exact_limit", true_by_step[alpha])
            add_returns(EXACT_N, name, "exact_limit_batch", true_by_step[alpha])

    for n, batch in sorted(datasets.items()):
        if not np.array_equal(batch.meta["behaviour_theta"], theta_b):
            raise ValueError(f"dataset N={n} of seed {seed} was not collected by this seed's pi_b")
        for name in names:
            alpha = float(step_sizes[name])
            path: list[np.ndarray] = []
            config = env_config | {"step_size": alpha}
            records = experiment.train("gridworld", config, name, batch, trace=path)
            returns = np.array([r["return"] for r in records])
            if recorded_returns is not None and not np.allclose(
                returns, recorded_returns[name, n], rtol=1e-9, atol=0
            ):
                raise ValueError(
                    f"recomputed {name} path (N={n}, seed {seed}) differs from its run"
                )
            add_returns(n, name, "batch", returns)
            rows = gradients_used(domain, name, batch, path, records, q, every)
            gradient_rows += [{"seed": seed, "n_trajectories": n} | row for row in rows]
            direction = fresh_direction(domain, name, n, q, seed)
            fresh = ascent(domain, theta_b, alpha, iterations, direction, update)
            add_returns(n, name, "fresh", fresh)
        log.info("seed %d, N=%d: gradients used and final returns done", seed, n)
    return gradient_rows, return_rows
