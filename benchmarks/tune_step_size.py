"""Choose an environment's shared step size on tuning seeds, never on the evaluation seeds.

Rule (fixed before looking at any result): for each candidate alpha, run every algorithm and
dataset size of config/config.yaml on seeds 1000-1004 (disjoint from the evaluation seeds
0..seeds-1) and average the final return over algorithms, N and seeds; pick the best candidate.
One alpha serves all algorithms, so no method gets a tuning advantage.

    python benchmarks/tune_step_size.py ENV [alpha ...] [--seeds K]
"""

import argparse
from pathlib import Path

import numpy as np
import yaml

from gamps import experiment

TUNING_SEEDS = range(1000, 1005)
DEFAULT_CANDIDATES = {
    "gridworld": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
    "minigolf": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
    "swimmer": [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env", choices=sorted(DEFAULT_CANDIDATES))
    parser.add_argument("alphas", nargs="*", type=float)
    parser.add_argument(
        "--seeds",
        type=int,
        default=len(TUNING_SEEDS),
        help="how many of the tuning seeds 1000-1004 to use",
    )
    args = parser.parse_args()
    config = yaml.safe_load((Path(__file__).parents[1] / "config/config.yaml").read_text())
    cfg = config[args.env]
    scores = {}
    for alpha in args.alphas or DEFAULT_CANDIDATES[args.env]:
        finals = {}
        for n in cfg["n_trajectories"]:
            for seed in TUNING_SEEDS[: args.seeds]:
                batch = experiment.collect_dataset(args.env, cfg, n, seed)
                for algo in cfg["algorithms"]:
                    records = experiment.train(args.env, cfg | {"step_size": alpha}, algo, batch)
                    finals.setdefault((algo, n), []).append(records[-1]["return"])
        scores[alpha] = np.mean([np.mean(v) for v in finals.values()])
        row = "  ".join(f"{a}/N{n}={np.mean(v):.3f}" for (a, n), v in finals.items())
        print(f"alpha={alpha:g}: mean final J={scores[alpha]:.4f}   {row}", flush=True)
    best = max(scores, key=scores.get)
    print(f"chosen step size: {best:g}")


if __name__ == "__main__":
    main()
