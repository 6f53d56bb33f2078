"""Does the Swimmer model's fit converge? Its held-out NLL against a long reference fit.

On each seed's paper-scale dataset (N = 100 trajectories of T = 100 steps), with the weights of ML
and of GAMPS at pi_b, the model is fitted three ways: the configured fit (config/config.yaml), a
long reference (up to 10,000 epochs, patience 500, 300 L-BFGS rounds) and the fixed budget the
project used before (300 full-batch Adam steps at 3e-3, no early stopping, on 80% of the data
here). Each holds out the same trajectories (every 5th); the table gives wall time on one thread,
epochs and L-BFGS rounds, the weighted held-out NLL per transition (nats) and normalised MSE, and
the gap to the reference.

    python benchmarks/swimmer_fit.py [--seeds 1000 ... 1004] [--weights ml gamps] [--no-reference]
"""

import argparse
import time

import numpy as np
import torch
from common import paper_config

from gamps import algorithms, experiment
from gamps.domains import make_domain

OLD_BUDGET = {
    "learning_rate": 3e-3,
    "batch_size": 10**9,
    "max_epochs": 300,
    "patience": 10**9,
    "polish": 0,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000, 1001, 1002, 1003, 1004])
    parser.add_argument("--weights", nargs="+", default=["ml", "gamps"])
    parser.add_argument("--no-reference", action="store_true", help="skip the long fit (slow)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = paper_config("swimmer")
    domain = make_domain("swimmer", experiment.domain_params("swimmer", config))
    settings = domain.model_settings
    long = settings | {"max_epochs": 10_000, "patience": 500, "polish": 300}
    fits = {"configured": settings, "reference": long, "old 300 steps": settings | OLD_BUDGET}
    if args.no_reference:
        del fits["reference"]
    print(
        f"{'seed':>5} {'weights':8} {'fit':14} {'time s':>7} {'epochs':>6} {'lbfgs':>5} "
        f"{'NLL':>8} {'nMSE':>7} {'gap':>6}"
    )
    for seed in args.seeds:
        batch = experiment.collect_dataset("swimmer", config, config["n_trajectories"][0], seed)
        theta = np.asarray(batch.meta["behaviour_theta"])
        log_rho = algorithms.log_ratios(domain, theta, batch)
        for weights in args.weights:
            w = algorithms.model_weights(domain, weights, theta, batch, log_rho, config["q_norm"])
            results = {}
            for name, model_settings in fits.items():
                domain.model_settings = model_settings
                start = time.perf_counter()
                model = algorithms.fit_weighted(domain, batch, w)
                results[name] = (time.perf_counter() - start, model.diagnostics)
            reference = results["reference"][1]["model_nll"] if "reference" in results else np.nan
            for name, (seconds, d) in results.items():
                print(
                    f"{seed:5d} {weights:8} {name:14} {seconds:7.1f} {d['model_epochs']:6.0f} "
                    f"{d['model_lbfgs_rounds']:5.0f} {d['model_nll']:8.2f} {d['model_nmse']:7.4f} "
                    f"{d['model_nll'] - reference:6.2f}",
                    flush=True,
                )
    domain.model_settings = settings


if __name__ == "__main__":
    main()
