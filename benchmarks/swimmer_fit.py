"""What a converged Swimmer model fit costs, and how good it is.

On each seed's paper-scale dataset (N = 100 trajectories of T = 100 steps), with the weights of ML
and of GAMPS at pi_b, the configured fit (config/config.yaml) runs on one thread: its held-out
weighted NLL per transition (nats), CPU seconds, Adam epochs and L-BFGS iterations. Then a warm
refit, as Algorithm 1 makes it: GAMPS's weights after one step of GAMPS with its tuned step size,
fitted from the first model. ``--before REV`` adds the held-out NLL that the gradient check of
commit REV recorded for the same fits (results/swimmer/gradient_check.csv) and the difference.

    python benchmarks/swimmer_fit.py [--seeds 0 ... 9] [--before REV] [--long]

``--long`` also runs the reference fit of tests/test_swimmer_fit.py (five times the cap of
L-BFGS iterations, no early stop) and prints its held-out NLL and nMSE next to the configured
fit's: the NLL gap, and the mean predictions' relative excess that the test bounds.
"""

import argparse
import io
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import paper_config
from threadpoolctl import threadpool_limits

from gamps import algorithms, experiment, tuning
from gamps.domains import make_domain

ROOT = Path(__file__).resolve().parents[1]


def before_nll(rev: str) -> pd.Series:
    text = subprocess.run(
        ["git", "show", f"{rev}:results/swimmer/gradient_check.csv"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    table = pd.read_csv(io.StringIO(text))
    return table.set_index(["seed", "algorithm"])["model_nll"]


def timed(fit):
    start = time.process_time()
    model = fit()
    return model, time.process_time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--before", help="a commit whose gradient check recorded the old fits")
    parser.add_argument("--long", action="store_true", help="also a long reference fit (slow)")
    args = parser.parse_args()
    config = paper_config("swimmer")
    domain = make_domain("swimmer", experiment.domain_params("swimmer", config))
    settings = dict(domain.model_settings)
    long = settings | {"patience": 10**9, "max_iterations": 5 * settings["max_iterations"]}
    before = before_nll(args.before) if args.before else None
    alpha = tuning.tuned_step_sizes("swimmer", config["update"], ["gamps"])["gamps"]
    print(
        f"{'seed':>4} {'weights':7} {'NLL':>7} {'before':>7} {'diff':>6} {'CPU s':>6} "
        f"{'epochs':>6} {'iters':>5} | {'refit s':>7} {'iters':>5}"
        + (f" | {'long NLL':>8} {'gap':>5} {'nMSE +%':>7}" if args.long else "")
    )
    rows = []
    with threadpool_limits(1):
        for seed in args.seeds:
            batch = experiment.collect_dataset("swimmer", config, 100, seed)
            theta = np.asarray(batch.meta["behaviour_theta"])
            log_rho = algorithms.log_ratios(domain, theta, batch)
            for name in ("ml", "gamps"):
                w = algorithms.model_weights(domain, name, theta, batch, log_rho, 2.0)
                domain.model_settings = settings
                model, cpu = timed(lambda b=batch, w=w: algorithms.fit_weighted(domain, b, w))
                d = model.diagnostics
                row = {"seed": seed, "weights": name, "nll": d["model_nll"], "cpu": cpu}
                row |= {"epochs": d["model_epochs"], "iterations": d["model_iterations"]}
                old = before.get((seed, name), np.nan) if before is not None else np.nan
                line = (
                    f"{seed:4d} {name:7} {d['model_nll']:7.2f} {old:7.2f} "
                    f"{d['model_nll'] - old:+6.2f} {cpu:6.2f} {d['model_epochs']:6.0f} "
                    f"{d['model_iterations']:5.0f}"
                )
                if name == "gamps":
                    rng = experiment.rng(seed, 2, 100)
                    grad, _ = algorithms.estimate_gradient(
                        domain, "gamps", theta, batch, 2.0, rng, log_rho, model
                    )
                    theta1 = theta + alpha * grad
                    log_rho1 = algorithms.log_ratios(domain, theta1, batch)
                    w1 = algorithms.model_weights(domain, "gamps", theta1, batch, log_rho1, 2.0)
                    refit, refit_cpu = timed(
                        lambda b=batch, w1=w1, m=model: algorithms.fit_weighted(domain, b, w1, m)
                    )
                    row |= {"refit_cpu": refit_cpu}
                    line += f" | {refit_cpu:7.2f} {refit.diagnostics['model_iterations']:5.0f}"
                else:
                    line += f" | {'':7} {'':5}"
                if args.long:
                    domain.model_settings = long
                    reference = algorithms.fit_weighted(domain, batch, w).diagnostics
                    line += f" | {reference['model_nll']:8.2f} "
                    line += f"{d['model_nll'] - reference['model_nll']:5.2f} "
                    line += f"{100 * (d['model_nmse'] / reference['model_nmse'] - 1):+7.1f}"
                print(line, flush=True)
                rows.append(row)
    domain.model_settings = settings
    table = pd.DataFrame(rows)
    print(
        f"first fits: CPU s max {table['cpu'].max():.2f}, mean {table['cpu'].mean():.2f}; "
        f"warm refits: CPU s max {table['refit_cpu'].max():.2f}, "
        f"mean {table['refit_cpu'].mean():.2f}"
    )


if __name__ == "__main__":
    main()
