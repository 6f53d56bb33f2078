"""Choose the gridworld's shared step size on tuning seeds, never on the evaluation seeds.

Rule (fixed before looking at any result): for each candidate alpha, run every algorithm and
dataset size of config/config.yaml on seeds 1000-1004 (disjoint from the evaluation seeds
0..seeds-1) and average the final exact return over algorithms, N and seeds; pick the best
candidate. One alpha serves all algorithms, so no method gets a tuning advantage.

    python benchmarks/tune_gridworld_step_size.py [alpha ...]
"""

import sys
from pathlib import Path

import numpy as np
import yaml

from gamps import experiment

TUNING_SEEDS = range(1000, 1005)


def main(candidates):
    cfg = yaml.safe_load((Path(__file__).parents[1] / "config/config.yaml").read_text())[
        "gridworld"
    ]
    scores = {}
    for alpha in candidates:
        finals = {}
        for n in cfg["n_trajectories"]:
            for seed in TUNING_SEEDS:
                batch = experiment.collect_dataset("gridworld", cfg, n, seed)
                for algo in cfg["algorithms"]:
                    records = experiment.train("gridworld", cfg | {"step_size": alpha}, algo, batch)
                    finals.setdefault((algo, n), []).append(records[-1]["return"])
        scores[alpha] = np.mean([np.mean(v) for v in finals.values()])
        row = "  ".join(f"{a}/N{n}={np.mean(v):.3f}" for (a, n), v in finals.items())
        print(f"alpha={alpha:g}: mean final J={scores[alpha]:.4f}   {row}", flush=True)
    best = max(scores, key=scores.get)
    print(f"chosen step size: {best:g}")


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]] or [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0])
