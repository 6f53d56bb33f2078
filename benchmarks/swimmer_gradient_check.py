"""How good is each algorithm's first gradient on the Swimmer? A diagnostic of claim 4.

At pi_b (iteration 0 of every run: all importance ratios are 1), each estimator's gradient on the
run's dataset of N = 100 trajectories is compared with a reference gradient: the on-policy PGT
estimate from ``--reference`` fresh trajectories of pi_b (unbiased; its own noise is shown by the
cosine between its two halves). For GAMPS and ML the MVG is computed with the pipeline's M and
with ``--more-rollouts``, to separate the Monte Carlo noise of Q from the model's bias.

    python benchmarks/swimmer_gradient_check.py [--seeds 0 1 2 3 4] [--reference 4000]
"""

import argparse

import numpy as np
import torch
from common import paper_config

from gamps import algorithms, experiment
from gamps.data import TrajectoryBatch
from gamps.domains import make_domain


def half(batch, which: int) -> TrajectoryBatch:
    """The first (0) or second (1) half of a batch's trajectories."""
    rows = slice(None, batch.n // 2) if which == 0 else slice(batch.n // 2, None)
    arrays = ("states", "actions", "rewards", "mask", "behaviour_log_prob")
    return TrajectoryBatch(*(getattr(batch, name)[rows] for name in arrays))


def cosine(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--reference", type=int, default=4000)
    parser.add_argument("--more-rollouts", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = paper_config("swimmer")
    domain = make_domain("swimmer", experiment.domain_params("swimmer", config))
    n, q_norm = config["n_trajectories"][0], config["q_norm"]
    rows = []
    for seed in args.seeds:
        batch = experiment.collect_dataset("swimmer", config, n, seed)
        theta = np.asarray(batch.meta["behaviour_theta"])
        rng = np.random.default_rng([seed, 99])
        fresh = domain.collect(theta, args.reference, rng)
        halves = [
            algorithms.estimate_gradient(domain, "pgt", theta, half(fresh, i), q_norm, rng)[0]
            for i in (0, 1)
        ]
        reference = (halves[0] + halves[1]) / 2
        row = {"seed": seed, "reference halves": cosine(*halves)}
        for algorithm in algorithms.ALGORITHMS:
            for m in (config["rollouts"], args.more_rollouts):
                if m != config["rollouts"] and algorithm not in algorithms.MODEL_BASED:
                    continue
                domain.rollouts = m
                grad = algorithms.estimate_gradient(domain, algorithm, theta, batch, q_norm, rng)[0]
                label = algorithm if m == config["rollouts"] else f"{algorithm}, M = {m}"
                row[label] = cosine(grad, reference)
                row[f"{label} |g|/|ref|"] = float(np.linalg.norm(grad) / np.linalg.norm(reference))
            domain.rollouts = config["rollouts"]
        rows.append(row)
        print(", ".join(f"{k}: {v:.3f}" if k != "seed" else f"seed {v}" for k, v in row.items()))
    labels = [k for k in rows[0] if k != "seed"]
    print(f"\nat pi_b, against the on-policy reference gradient ({len(rows)} seeds):")
    for label in labels:
        values = np.array([r[label] for r in rows])
        spread = f" ± {values.std(ddof=1):.3f}" if len(values) > 1 else ""
        print(f"  {label:32s} {values.mean():+.3f}{spread}")


if __name__ == "__main__":
    main()
