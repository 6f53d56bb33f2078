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

import numpy as np
import torch
from common import gamps_model_on_a_dataset

from gamps import swimmer as sw


def matmul_peak(threads: int, size: int = 2048, repeats: int = 10) -> float:
    """Best dense float32 GEMM rate (FLOP/s) of ``repeats`` products of size x size matrices."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rollouts", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    domain, batch, theta, model = gamps_model_on_a_dataset("swimmer", 0, args.rollouts)
    m = domain.rollouts
    hidden = model.model.hidden
    n_in, n_out = sw.STATE_DIM - 2 + sw.ACTION_DIM, sw.STATE_DIM
    flops_per_step = 2 * (n_in * hidden + hidden * hidden + hidden * 2 * n_out)
    flops_per_step += 2 * (sw.STATE_DIM - 2) * sw.ACTION_DIM
    domain.q_values(model, theta, batch, np.random.default_rng(0))  # warm-up
    model.steps = 0
    start = time.perf_counter()
    domain.q_values(model, theta, batch, np.random.default_rng(1))
    seconds = time.perf_counter() - start
    rate = model.steps * flops_per_step / seconds
    peak = matmul_peak(args.threads)
    print(
        f"{int(batch.mask.sum())} pairs x M = {m}: {model.steps} model steps in {seconds:.3f} s "
        f"({model.steps / seconds:,.0f} steps/s), threads = {args.threads}"
    )
    print(
        f"rollout throughput {rate / 1e9:.2f} GFLOP/s; dense matmul peak {peak / 1e9:.2f} "
        f"GFLOP/s; fraction of peak {rate / peak:.1%}"
    )


if __name__ == "__main__":
    main()
