"""Throughput of batched model rollouts with the swimmer's MLP model, against this machine's
dense matrix-multiply peak measured in the same run and with the same number of torch threads.

Q^{pi, p_hat} (Eq. 4) is estimated for every (s_t, a_t) of one paper-scale dataset (N = 100
trajectories of horizon 100, M rollouts each). Useful FLOPs are those of the MLP's matrix products,
2 * (10*32 + 32*32 + 32*20) per model step, plus the policy's mean (2 * 8 * 2); elementwise work
(tanh, noise, the reward) is not counted.

    python benchmarks/swimmer_rollouts.py [--threads 1] [--rollouts M]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from gamps import algorithms, experiment
from gamps import swimmer as sw
from gamps.domains.swimmer import SwimmerDomain
from gamps.value import monte_carlo_q


def matmul_peak(threads: int, size: int = 2048, repeats: int = 10) -> float:
    """Best dense float32 GEMM rate (FLOP/s) of ``repeats`` products of size x size matrices."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best


class CountingModel:
    def __init__(self, model):
        self.model, self.rows = model, 0

    def sample(self, states, actions, rng):
        self.rows += len(states)
        return self.model.sample(states, actions, rng)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rollouts", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load((Path(__file__).parents[1] / "config/config.yaml").read_text())["swimmer"]
    m = args.rollouts or cfg["rollouts"]
    domain = SwimmerDomain(**experiment.domain_params("swimmer", cfg))
    batch = experiment.collect_dataset("swimmer", cfg, cfg["n_trajectories"][0], 0)
    theta = np.asarray(batch.meta["behaviour_theta"])
    log_rho = algorithms.log_ratios(domain, theta, batch)
    model = CountingModel(algorithms.fit_model(domain, "gamps", theta, batch, log_rho, 2.0))
    hidden = model.model.hidden
    n_in, n_out = sw.STATE_DIM - 2 + sw.ACTION_DIM, sw.STATE_DIM
    flops_per_step = 2 * (n_in * hidden + hidden * hidden + hidden * 2 * n_out)
    flops_per_step += 2 * (sw.STATE_DIM - 2) * sw.ACTION_DIM
    n_idx, t_idx = np.nonzero(batch.mask)
    args_q = (
        model,
        domain.policy,
        theta,
        sw.reward_and_done,
        batch.states[n_idx, t_idx],
        batch.actions[n_idx, t_idx],
        batch.horizon - t_idx,
        domain.gamma,
        m,
    )
    monte_carlo_q(*args_q, np.random.default_rng(0))  # warm-up
    model.rows = 0
    start = time.perf_counter()
    monte_carlo_q(*args_q, np.random.default_rng(1))
    seconds = time.perf_counter() - start
    rate = model.rows * flops_per_step / seconds
    peak = matmul_peak(args.threads)
    print(
        f"{len(n_idx)} pairs x M = {m}: {model.rows} model steps in {seconds:.3f} s "
        f"({model.rows / seconds:,.0f} steps/s), threads = {args.threads}"
    )
    print(
        f"rollout throughput {rate / 1e9:.2f} GFLOP/s; dense matmul peak {peak / 1e9:.2f} "
        f"GFLOP/s; fraction of peak {rate / peak:.1%}"
    )


if __name__ == "__main__":
    main()
