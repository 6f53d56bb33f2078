"""How good is each algorithm's first gradient? Its cosine with an on-policy reference at pi_b.

At iteration 0 every run starts at pi_b, where all importance ratios are 1, so each algorithm's
estimate of grad J(pi_b) from the dataset can be compared with a reference computed from fresh
data: the PGT estimator (the policy gradient theorem, per-decision) on ``reference`` new
trajectories of pi_b, unbiased on-policy. Its own noise shows in the cosine between the estimates
of its two halves. Each algorithm's gradient is the one its run used, saved by the training job
(for GAMPS and ML it includes the model's fit, Eq. 3, and Q by Eq. 4, as the run saw them), so the
check recomputes no fit.
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from typing import TYPE_CHECKING

import numpy as np

from . import algorithms, experiment
from .data import TrajectoryBatch
from .domains import make_domain

if TYPE_CHECKING:
    import pandas as pd

#: The rows' label for the cosine between the two halves of the reference.
REFERENCE_HALVES = "reference_halves"
#: Reference trajectories collected at a time.
REFERENCE_CHUNK = 200


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _on_policy_gradient(
    domain, theta: np.ndarray, n: int, q_norm: float, generator: np.random.Generator
) -> np.ndarray:
    """PGT on ``n`` fresh trajectories of pi_theta, collected ``REFERENCE_CHUNK`` at a time (a
    domain may step one environment per trajectory side by side; this bounds their memory). The
    estimator is a mean over trajectories, so the chunks' means average to the whole's."""
    total = np.zeros_like(theta, dtype=float)
    for size in np.diff(np.r_[0:n:REFERENCE_CHUNK, n]):
        fresh = domain.collect(theta, int(size), generator)
        total += (
            size * algorithms.estimate_gradient(domain, "pgt", theta, fresh, q_norm, generator)[0]
        )
    return total / n


def first_gradients(
    env: str,
    env_config: dict,
    batch: TrajectoryBatch,
    reference: int,
    used: dict[str, np.ndarray],
    diagnostics: dict[str, dict],
    threads: int = 1,
) -> list[dict]:
    """One row per algorithm of ``used`` (its run's first gradient on ``batch``, a pipeline
    dataset): the cosine of that gradient with the reference, the ratio of their norms, and its
    ``diagnostics`` (the domain's ``diagnostic_keys`` of the run's iteration 0: the model that
    gradient used, NaN for the model-free ones); and a row for the reference's two halves."""
    domain = make_domain(env, experiment.domain_params(env, env_config))
    domain.set_threads(threads)
    n, seed = batch.meta["n_trajectories"], batch.meta["seed"]
    theta = np.asarray(batch.meta["behaviour_theta"])
    generator = experiment.rng(seed, 5, n)
    q_norm = env_config["q_norm"]
    halves = [
        _on_policy_gradient(domain, theta, size, q_norm, generator)
        for size in (reference // 2, reference - reference // 2)
    ]
    truth = (halves[0] * (reference // 2) + halves[1] * (reference - reference // 2)) / reference
    ident = {"n_trajectories": n, "seed": seed}
    no_model = dict.fromkeys(domain.diagnostic_keys, np.nan)
    halves_row = {"algorithm": REFERENCE_HALVES, "cosine": cosine(*halves), "norm_ratio": 1.0}
    rows = [ident | halves_row | no_model]
    for name, grad in used.items():
        ratio = float(np.linalg.norm(grad) / np.linalg.norm(truth))
        model = {key: diagnostics[name].get(key, np.nan) for key in domain.diagnostic_keys}
        rows.append(
            ident | {"algorithm": name, "cosine": cosine(grad, truth), "norm_ratio": ratio} | model
        )
    return rows


def run_inputs(runs: Iterable[str | PathLike], gradients: Iterable[str | PathLike], keys):
    """The first gradient (``.npy``) and the iteration-0 ``keys`` of each run (its CSV), by
    algorithm."""
    import pandas as pd

    used, diagnostics = {}, {}
    for run, gradient in zip(runs, gradients, strict=True):
        first = pd.read_csv(run).query("iteration == 0").iloc[0]
        used[first["algorithm"]] = np.load(gradient)
        if not used[first["algorithm"]].size:
            raise ValueError(f"{run}: the run computed no gradient (stopped at theta_0)")
        diagnostics[first["algorithm"]] = {key: float(first[key]) for key in keys}
    return used, diagnostics


def concatenate(paths: Iterable[str | PathLike]) -> pd.DataFrame:
    """The checks of every dataset in one table, by (N, seed), each in its file's row order."""
    import pandas as pd

    table = pd.concat((pd.read_csv(p) for p in paths), ignore_index=True)
    return table.sort_values(["n_trajectories", "seed"], kind="stable").reset_index(drop=True)
