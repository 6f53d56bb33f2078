"""One run of the replication, as the pipeline's scripts call it: seeding, collection, training.

Seeding: every random draw of run seed s comes from ``numpy.random.SeedSequence(s)`` through a
fixed spawn key, so a file depends only on its own (env, N, seed, algorithm) and the config,
never on which job ran first or on how many cores ran them.
    behaviour policy      spawn key (0,)       shared by every N of seed s
    dataset of size N     spawn key (1, N)
    training (any algo)   spawn key (2, N)     common random numbers across algorithms
    evaluation at iter k  spawn key (3, N, k)  the same evaluation episodes for every algorithm
    gradient-bias samples spawn key (4, N, r)  repetition r of the diagnostics' datasets
"""

from __future__ import annotations

import logging
from importlib.metadata import version

import numpy as np

from . import algorithms, bias
from .algorithms import Settings, batch_policy_search
from .data import TrajectoryBatch
from .domains import make_domain

SETTINGS_KEYS = (
    "iterations",
    "step_size",
    "q_norm",
    "ess_stop_fraction",
    "degenerate_ess_fraction",
)
log = logging.getLogger(__name__)


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def domain_params(env: str, env_config: dict) -> dict:
    """The part of an environment's config that defines the domain (and so its datasets)."""
    from .domains import DOMAIN_KEYS

    return {key: env_config[key] for key in DOMAIN_KEYS[env]}


def dataset_metadata(env: str, env_config: dict, n: int, seed: int) -> dict:
    """What a dataset must have been built with; a stored file that differs is stale."""
    return {"env": env, "n_trajectories": n, "seed": seed, "domain": domain_params(env, env_config)}


def collect_dataset(env: str, env_config: dict, n: int, seed: int) -> TrajectoryBatch:
    """Draw pi_b from the seed, then N trajectories of it; the metadata records both."""
    domain = make_domain(env, domain_params(env, env_config))
    theta_b = domain.behaviour_parameters(_rng(seed, 0))
    batch = domain.collect(theta_b, n, _rng(seed, 1, n))
    meta = dataset_metadata(env, env_config, n, seed) | {
        "behaviour_theta": theta_b.tolist(),
        "gamps_version": version("gamps"),
    }
    return TrajectoryBatch(
        batch.states, batch.actions, batch.rewards, batch.mask, batch.behaviour_log_prob, meta
    )


def train(
    env: str,
    env_config: dict,
    algorithm: str,
    batch: TrajectoryBatch,
    threads: int = 1,
    trace: list | None = None,
) -> list[dict]:
    """Run ``algorithm`` on a dataset from its behaviour policy (the initial policy of every
    algorithm, so runs of one seed are paired); one record per iteration. ``threads`` bounds the
    intra-op threads of domains that use torch; ``trace`` receives theta_k of every iteration
    (the learning path)."""
    algorithms.get(algorithm)
    domain = make_domain(env, domain_params(env, env_config))
    if hasattr(domain, "set_threads"):
        domain.set_threads(threads)
    settings = Settings(**{key: env_config[key] for key in SETTINGS_KEYS})
    n, seed = batch.meta["n_trajectories"], batch.meta["seed"]
    theta0 = np.asarray(batch.meta["behaviour_theta"])
    records = batch_policy_search(
        domain,
        algorithm,
        batch,
        theta0,
        settings,
        _rng(seed, 2, n),
        evaluation_rng=lambda k: _rng(seed, 3, n, k),
        trace=trace,
    )
    ident = {"algorithm": algorithm, "n_trajectories": n, "seed": seed}
    return [ident | record for record in records]


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
    domain = make_domain("gridworld", domain_params("gridworld", env_config))
    q = env_config["q_norm"]
    theta_b = domain.behaviour_parameters(_rng(seed, 0))
    pi_b = domain.policy.probs(theta_b)
    rows = []

    def add(policy, n, rep, k, new_rows):
        ident = {"policy": policy, "seed": seed, "n_trajectories": n, "repetition": rep}
        rows.extend(ident | {"iteration": k} | row for row in new_rows)

    analysis = bias.BiasAnalysis(domain.mdp, pi_b, q)
    add("behaviour", 0, 0, 0, bias.exact_rows(domain, analysis, pi_b))
    for n in bias_config["n_trajectories"]:
        for rep in range(bias_config["repetitions"]):
            batch = domain.collect(theta_b, n, _rng(seed, 4, n, rep))
            new_rows = bias.sample_rows(domain, analysis, pi_b, theta_b, batch, q)
            add("behaviour", n, rep, 0, new_rows)

    for n, batch in sorted(datasets.items()):
        if not np.array_equal(batch.meta["behaviour_theta"], theta_b):
            raise ValueError(f"dataset N={n} of seed {seed} was not collected by this seed's pi_b")
        path: list[np.ndarray] = []
        records = train("gridworld", env_config, "gamps", batch, trace=path)
        returns = np.array([r["return"] for r in records])
        if not np.allclose(returns, recorded_returns[n], rtol=1e-12, atol=0):
            raise ValueError(f"recomputed GAMPS path (N={n}, seed {seed}) differs from the run's")
        ml_fit = bias.sample_fit(domain, "ml", theta_b, batch, q)  # independent of theta
        last = len(path) - 1
        for k in sorted({*range(0, last + 1, bias_config["path_every"]), last}):
            analysis = bias.BiasAnalysis(domain.mdp, domain.policy.probs(path[k]), q)
            add("gamps_path", n, 0, k, bias.exact_rows(domain, analysis, pi_b))
            new_rows = bias.sample_rows(
                domain, analysis, pi_b, path[k], batch, q, fixed_models={"ml": ml_fit}
            )
            add("gamps_path", n, 0, k, new_rows)
    log.info("seed %d: %d gradient-bias rows", seed, len(rows))
    return rows


def log_to(path) -> None:
    """Send the package's log lines to ``path`` (a rule's ``log:`` file)."""
    logging.basicConfig(
        filename=str(path),
        filemode="w",
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        force=True,
    )
