"""One run of the replication, as the pipeline's scripts call it: seeding, collection, training.

Seeding: every random draw of run seed s comes from ``numpy.random.SeedSequence(s)`` through a
fixed spawn key, so a file depends only on its own (env, N, seed, algorithm) and the config,
never on which job ran first or on how many cores ran them.
    behaviour policy      spawn key (0,)       shared by every N of seed s
    dataset of size N     spawn key (1, N)
    training (any algo)   spawn key (2, N)     common random numbers across algorithms
    evaluation at iter k  spawn key (3, N, k)  the same evaluation episodes for every algorithm
    gradient-bias samples spawn key (4, N, r)  repetition r of the diagnostics' datasets
    gradient-check data   spawn key (5, N)     the reference's fresh on-policy trajectories
    fresh on-policy data  spawn key (6, N, k)  iteration k's new trajectories (gradient_used)
"""

from __future__ import annotations

import dataclasses
import logging
import os
from importlib.metadata import version

import numpy as np

from . import algorithms
from .algorithms import Settings, batch_policy_search
from .data import TrajectoryBatch
from .domains import make_domain

#: The config keys of Algorithm 1's settings: the fields of ``Settings``, declared there once.
SETTINGS_KEYS = tuple(field.name for field in dataclasses.fields(Settings))
log = logging.getLogger(__name__)


def rng(seed: int, *key: int) -> np.random.Generator:
    """The generator of spawn key ``key`` of run seed ``seed`` (the table above)."""
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
    theta_b = domain.behaviour_parameters(rng(seed, 0))
    batch = domain.collect(theta_b, n, rng(seed, 1, n))
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
    gradient_trace: list | None = None,
    first_fits: str | None = None,
) -> list[dict]:
    """Run ``algorithm`` on a dataset from its behaviour policy (the initial policy of every
    algorithm, so runs of one seed are paired); one record per iteration. ``threads`` bounds the
    intra-op threads of domains that use torch; ``trace`` receives theta_k of every iteration
    (the learning path), ``gradient_trace`` the gradient estimate of every iteration.
    ``first_fits``: a folder where the domain's models keep their first fits (``set_first_fits``),
    which runs on the same data and weights read instead of refitting; the records are the same
    either way."""
    algorithms.get(algorithm)
    domain = make_domain(env, domain_params(env, env_config))
    domain.set_threads(threads)
    domain.set_first_fits(first_fits)
    settings = Settings(
        **{key: env_config[key] for key in SETTINGS_KEYS if key in env_config}
        | {
            "step_size": step_size_of(
                env_config["step_size"], algorithm, env, env_config.get("update", "plain")
            )
        }
    )
    n, seed = batch.meta["n_trajectories"], batch.meta["seed"]
    theta0 = np.asarray(batch.meta["behaviour_theta"])
    records = batch_policy_search(
        domain,
        algorithm,
        batch,
        theta0,
        settings,
        rng(seed, 2, n),
        evaluation_rng=lambda k: rng(seed, 3, n, k),
        trace=trace,
        gradient_trace=gradient_trace,
    )
    ident = {"algorithm": algorithm, "n_trajectories": n, "seed": seed}
    return [ident | record for record in records]


def step_size_of(
    step_size: float | dict | str, algorithm: str, env: str | None = None, update: str = "plain"
) -> float:
    """An algorithm's alpha from a config's ``step_size``: the shared number, its entry of a
    per-algorithm mapping, or, for ``tuned``, its selected alpha for ``update`` in ``env``'s
    committed tuning table (``gamps.tuning``; the pipeline resolves it once, in the params)."""
    if isinstance(step_size, dict):
        if algorithm not in step_size:
            raise ValueError(f"step_size names no step for {algorithm!r}: {step_size}")
        return float(step_size[algorithm])
    if step_size == "tuned" and env is not None:
        from .tuning import tuned_step_sizes

        return tuned_step_sizes(env, update, [algorithm])[algorithm]
    if isinstance(step_size, str):
        raise ValueError(f"step_size {step_size!r} of an unknown environment: give a number")
    return float(step_size)


def log_to(path: str | os.PathLike[str]) -> None:
    """Send the package's log lines to ``path`` (a rule's ``log:`` file)."""
    logging.basicConfig(
        filename=str(path),
        filemode="w",
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        force=True,
    )
