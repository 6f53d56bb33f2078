"""What does the state baseline do to each algorithm's gradient? Variance, bias and MSE at pi_b.

For each seed, pi_b is the seed's behaviour policy (also every algorithm's start); ``--datasets``
independent datasets of N trajectories of pi_b are drawn and every algorithm's gradient at pi_b
(lines 2-9 of Algorithm 1, the model fitted on each dataset) is computed with
``baseline: none`` and ``baseline: state`` from the same dataset and the same generator (paired:
Q is the same in both, the baseline's V comes after it). Against the true gradient g:

    var   trace of the covariance of the estimates over the R datasets (mean over seeds)
    bias2 ||mean estimate - g||^2 - var / R, an unbiased estimate of the squared bias (mean over
          seeds; the model-based algorithms' includes the bias of their model)
    mse   mean ||estimate - g||^2, and rel = mse / ||g||^2
    ms    mean wall time of one gradient estimate, model fit included
    var/mse ratio   state baseline over none

g is exact on the gridworld (``exact.boltzmann_gradient``); on the minigolf it is the mean of
on-policy PGT estimates (with the baseline: unbiased either way) on ``--reference`` fresh
trajectories of pi_theta, whose own error is printed. Tuning seeds by default, never the
evaluation seeds.

    python benchmarks/baseline_variance.py [--envs gridworld minigolf] [--seeds 1000 1001 1002]
"""

import argparse
import time

import numpy as np
from common import paper_config

from gamps import algorithms, exact, experiment
from gamps.domains import make_domain

BASELINES = ("none", "state")


def reference_gradient(domain, theta, n, rng, chunk=20_000):
    """Mean of on-policy PGT (with its baseline) over chunks of fresh trajectories of pi_theta,
    and the squared standard error of that mean (trace)."""
    estimates = []
    for _ in range(max(n // chunk, 2)):
        fresh = domain.simulate(domain.policy, theta, chunk, rng)
        grad, _ = algorithms.estimate_gradient(
            domain, "pgt", theta, fresh, 2.0, rng, baseline="state"
        )
        estimates.append(grad)
    estimates = np.array(estimates)
    se2 = float(np.sum(estimates.var(axis=0, ddof=1)) / len(estimates))
    return estimates.mean(axis=0), se2


def measure(env, n, seeds, datasets, reference):
    config = paper_config(env)
    domain = make_domain(env, experiment.domain_params(env, config))
    rows = {}
    for seed in seeds:
        theta = domain.behaviour_parameters(experiment.rng(seed, 0))
        if env == "gridworld":
            truth, ref_se2 = exact.boltzmann_gradient(domain.mdp, domain.policy.probs(theta)), 0.0
            truth = truth.ravel()
        else:
            truth, ref_se2 = reference_gradient(domain, theta, reference, experiment.rng(seed, 6))
        data_rng = experiment.rng(seed, 7, n)
        estimates = {}
        for _ in range(datasets):
            batch = domain.collect(theta, n, data_rng)
            stream = int(data_rng.integers(2**32))
            for name in config["algorithms"]:
                for baseline in BASELINES:
                    start = time.perf_counter()
                    grad, _ = algorithms.estimate_gradient(
                        domain,
                        name,
                        theta,
                        batch,
                        config["q_norm"],
                        np.random.default_rng(stream),
                        baseline=baseline,
                    )
                    spent = time.perf_counter() - start
                    estimates.setdefault((name, baseline), []).append((grad, spent))
        norm2 = float(truth @ truth)
        for key, values in estimates.items():
            grads = np.array([g for g, _ in values])
            row = rows.setdefault(key, {"var": [], "bias2": [], "mse": [], "rel": [], "ms": []})
            mse = float(np.mean(np.sum((grads - truth) ** 2, axis=1)))
            var = float(np.sum(grads.var(axis=0, ddof=1)))
            row["var"].append(var)
            row["bias2"].append(float(np.sum((grads.mean(axis=0) - truth) ** 2)) - var / datasets)
            row["mse"].append(mse)
            row["rel"].append(mse / norm2)
            row["ms"].append(1e3 * float(np.mean([s for _, s in values])))
        print(f"  {env} N={n} seed {seed}: ||g||^2 = {norm2:.4g}, reference SE^2 = {ref_se2:.3g}")
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["gridworld", "minigolf"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000, 1001, 1002])
    parser.add_argument("--datasets", type=int, default=50, help="datasets per seed and N")
    parser.add_argument("--reference", type=int, default=200_000, help="minigolf reference size")
    args = parser.parse_args()
    sizes = {"gridworld": [10, 100, 1000], "minigolf": [50]}
    header = f"{'env':9} {'N':>5} {'algorithm':9} {'baseline':8} "
    header += f"{'var':>10} {'bias2':>10} {'mse':>10} {'rel':>8} {'ms':>8} {'var/mse ratio':>14}"
    lines = []
    for env in args.envs:
        for n in sizes[env]:
            rows = measure(env, n, args.seeds, args.datasets, args.reference)
            for (name, baseline), row in rows.items():
                mean = {k: float(np.mean(v)) for k, v in row.items()}
                ratios = [mean[k] / np.mean(rows[(name, "none")][k]) for k in ("var", "mse")]
                lines.append(
                    f"{env:9} {n:>5} {name:9} {baseline:8} {mean['var']:10.4g} "
                    f"{mean['bias2']:10.3g} {mean['mse']:10.4g} {mean['rel']:8.3g} "
                    f"{mean['ms']:8.2f} {ratios[0]:6.3f} {ratios[1]:7.3f}"
                )
    print(f"\n{len(args.seeds)} seeds x {args.datasets} datasets each, at pi_b")
    print(header)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
