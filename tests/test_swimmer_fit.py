"""What the Swimmer's configured model fit converges to. On a paper-scale dataset of the
pipeline (seed 0, N = 100), for the weights of ML and of GAMPS at pi_b, against a reference fit
with five times the configured cap of L-BFGS iterations and no early stopping:

- the mean predictions have converged: the configured fit's held-out normalised MSE is within
  ``NMSE_TOLERANCE`` of the reference's, while the fixed budget the project used before (300
  full-batch Adam steps) is not;
- the held-out weighted NLL has not: the reference is lower by a few nats per transition. The
  Swimmer's positions follow from its velocities almost deterministically, so the NLL keeps
  falling as the predicted standard deviations of those coordinates shrink towards the model's
  floor, long after the means have stopped moving. The test records how far (``NLL_GAP``), so
  that a change of the fit that moves it is seen.

``benchmarks/swimmer_fit.py --long`` prints the same comparison for more seeds."""

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
import torch
from fixtures import ROOT

from gamps import algorithms, experiment
from gamps.domains import make_domain
from gamps.settings import load_config

pytestmark = pytest.mark.convergence

#: Relative excess of held-out nMSE over the reference's that still counts as converged.
NMSE_TOLERANCE = 0.10
#: Nats per transition (10 coordinates) that the reference's held-out NLL may lie below the
#: configured fit's: measured 2.9 (ML) and 5.4 (GAMPS) on this dataset.
NLL_GAP = 8.0
LONG = {"patience": 10**9, "max_iterations": 10_000}
OLD = {"learning_rate": 3e-3, "batch_size": 10**9, "warmup_epochs": 300, "max_iterations": 0}
FITS = {"long": LONG, "configured": {}, "old": OLD}


def held_out(batch, weights: str, overlay: dict) -> dict[str, float]:
    """The held-out NLL and nMSE of one fit (one thread) on ``batch``: ``weights``' transition
    weights at pi_b, the configured model settings with ``overlay``."""
    config = load_config(ROOT / "config/config.yaml")["swimmer"]
    domain = make_domain("swimmer", experiment.domain_params("swimmer", config))
    torch.set_num_threads(1)
    theta = np.asarray(batch.meta["behaviour_theta"])
    log_rho = algorithms.log_ratios(domain, theta, batch)
    w = algorithms.model_weights(domain, weights, theta, batch, log_rho, config["q_norm"])
    domain.model_settings = dict(domain.model_settings) | overlay
    d = algorithms.fit_weighted(domain, batch, w).diagnostics
    return {"nll": d["model_nll"], "nmse": d["model_nmse"]}


@pytest.fixture(scope="module")
def scores():
    """Every fit of both weightings, two at a time (the long ones first)."""
    config = load_config(ROOT / "config/config.yaml")["swimmer"]
    batch = experiment.collect_dataset("swimmer", config, config["n_trajectories"][0], seed=0)
    keys = [(weights, fit) for fit in FITS for weights in ("ml", "gamps")]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = {key: pool.submit(held_out, batch, key[0], FITS[key[1]]) for key in keys}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("weights", ["ml", "gamps"])
def test_the_mean_predictions_converge_within_the_tolerance(scores, weights):
    nmse = {fit: scores[weights, fit]["nmse"] for fit in FITS}
    assert nmse["configured"] <= (1 + NMSE_TOLERANCE) * nmse["long"], nmse
    assert nmse["old"] > (1 + NMSE_TOLERANCE) * nmse["long"], nmse  # power


@pytest.mark.parametrize("weights", ["ml", "gamps"])
def test_the_held_out_nll_is_between_the_old_budget_and_the_long_fit(scores, weights):
    nll = {fit: scores[weights, fit]["nll"] for fit in FITS}
    assert nll["long"] <= nll["configured"] <= nll["long"] + NLL_GAP, nll
    assert nll["configured"] < nll["old"], nll
