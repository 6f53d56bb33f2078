"""What do the Swimmer's readings do to each algorithm's first gradient? A diagnostic of claim 4.

For each reading (an overlay of the swimmer's config) and seed, ``gradient_check.first_gradients``
(the pipeline's gradient check) compares every algorithm's gradient at pi_b on the seed's dataset
with the PGT estimate from ``--reference`` fresh trajectories of pi_b. The readings: pi_b with
random linear weights (the configured one) or zero weights (exploration by the policy noise
only); the model free or clipping the joint angles to their range; and the model fit this
project used before (300 full-batch Adam steps at 3e-3 on all the data). Also the share of the
dataset's transitions that end within 0.05 rad of a joint stop. Use the tuning seeds (default)
to choose among readings, never the evaluation seeds.

    python benchmarks/swimmer_gradient_check.py [--seeds 1000 ... 1004] [--reference 4000]
"""

import argparse

import numpy as np
import torch
from common import paper_config

from gamps import experiment, gradient_check
from gamps.domains.swimmer import dynamics as sw

OLD_FIT = {
    "model_learning_rate": 3e-3,
    "model_batch_size": 10**9,
    "model_warmup_epochs": 300,
    "model_max_iterations": 0,
    "model_holdout": 0.0,
    "model_joint_limits": False,
}
READINGS = {
    "random pi_b, old fit": {"behaviour_weight_std": 0.1} | OLD_FIT,
    "random pi_b, free model": {"behaviour_weight_std": 0.1, "model_joint_limits": False},
    "random pi_b, clipped model": {"behaviour_weight_std": 0.1, "model_joint_limits": True},
    "zero pi_b, free model": {"behaviour_weight_std": 0.0, "model_joint_limits": False},
    "zero pi_b, clipped model": {"behaviour_weight_std": 0.0, "model_joint_limits": True},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(1000, 1005)))
    parser.add_argument("--reference", type=int, default=4000)
    parser.add_argument("--readings", nargs="+", default=list(READINGS), choices=list(READINGS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    base = paper_config("swimmer")
    n = base["n_trajectories"][0]
    table: dict[str, list[dict]] = {}
    for seed in args.seeds:
        for reading in args.readings:
            config = base | READINGS[reading]
            batch = experiment.collect_dataset("swimmer", config, n, seed)
            angles = np.abs(batch.states[:, 1:, list(sw.JOINTS)])
            contact = float(np.mean((angles > sw.JOINT_LIMIT - 0.05).any(axis=-1)))
            rows = gradient_check.first_gradients("swimmer", config, batch, args.reference)
            table.setdefault(reading, []).extend(rows)
            cells = "  ".join(
                f"{r['algorithm']} {r['cosine']:+.2f} (x{r['norm_ratio']:.1f})" for r in rows
            )
            print(f"seed {seed} | {reading:26s} | at stops {contact:4.0%} | {cells}", flush=True)
    print(f"\nmean ± std over seeds {args.seeds} of the cosine with the reference:")
    for reading, rows in table.items():
        names = dict.fromkeys(r["algorithm"] for r in rows)
        cells = []
        for name in names:
            values = np.array([r["cosine"] for r in rows if r["algorithm"] == name])
            cells.append(f"{name} {values.mean():+.2f} ± {values.std(ddof=1):.2f}")
        print(f"  {reading:26s} " + "  ".join(cells))


if __name__ == "__main__":
    main()
