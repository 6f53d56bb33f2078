"""Throughput of the swimmer's model rollouts (Eq. 4) against this machine's dense matrix-multiply
peak, measured in the same run with the same number of threads.

Q^{pi, p_hat} is estimated for every (s_t, a_t) of one paper-scale dataset (N = 100 trajectories of
horizon 100, M rollouts each) by the pipeline's fused engine (``SwimmerDomain.q_values``, i.e.
``gamps.domains.swimmer.rollouts``) and, for comparison, by the generic engine
``gamps.value.monte_carlo_q`` with the model's own ``sample``. Useful FLOPs are those of the MLP's
matrix products, 2 * (10*32 + 32*32 + 32*20) per model step, plus the policy's mean (2 * 8 * 2);
element-wise work (tanh, noise, the reward) and the products of the fused engine's bias units are
not counted. The peak is the best of torch's and numpy's float32 GEMM on 2048 x 2048 matrices.

python benchmarks/swimmer_rollouts.py [--threads 1] [--rollouts M] [--repeats 3]
"""

import argparse
import copy
import time

import numpy as np
import torch
from common import gamps_model_on_a_dataset
from threadpoolctl import threadpool_limits

from gamps.domains import MonteCarloQDomain
from gamps.domains.swimmer import SwimmerDomain
from gamps.domains.swimmer import dynamics as sw


class GenericEngine(SwimmerDomain):
    """The swimmer with the generic engine ``value.monte_carlo_q``."""

    rollout_q = MonteCarloQDomain.rollout_q


def matmul_peak(size: int = 2048, repeats: int = 10) -> dict[str, float]:
    """Best dense float32 GEMM rate (FLOP/s) of torch and of numpy, ``repeats`` products each."""
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    ta, tout = torch.from_numpy(a), torch.from_numpy(out)
    products = {
        "torch": lambda: torch.mm(ta, ta, out=tout),
        "numpy": lambda: np.matmul(a, a, out=out),
    }
    best = {}
    for name, product in products.items():
        product()
        best[name] = max(_rate(product, 2 * size**3) for _ in range(repeats))
    return best


def _rate(work, flops: float) -> float:
    start = time.perf_counter()
    work()
    return flops / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rollouts", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    domain, batch, theta, counting = gamps_model_on_a_dataset("swimmer", 0, args.rollouts)
    model, m = counting.model, domain.rollouts
    hidden = model.hidden
    n_in, n_out = sw.STATE_DIM - 2 + sw.ACTION_DIM, sw.STATE_DIM
    flops_per_step = 2 * (n_in * hidden + hidden * hidden + hidden * 2 * n_out)
    flops_per_step += 2 * (sw.STATE_DIM - 2) * sw.ACTION_DIM
    steps_left = (batch.horizon - np.nonzero(batch.mask)[1]).sum()
    model_steps = int(m * steps_left)
    generic = copy.copy(domain)
    generic.__class__ = GenericEngine
    engines = {
        "fused (pipeline)": lambda rng: domain.q_values(model, theta, batch, rng),
        "generic": lambda rng: generic.q_values(model, theta, batch, rng),
    }
    peak = matmul_peak()
    best_peak = max(peak.values())
    print(
        f"{int(batch.mask.sum())} pairs x M = {m}: {model_steps:,} model steps, "
        f"threads = {args.threads}; dense matmul peak: "
        + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in peak.items())
    )
    for name, engine in engines.items():
        engine(np.random.default_rng(0))  # warm-up
        seconds = min(_time(engine, np.random.default_rng(1 + r)) for r in range(args.repeats))
        rate = model_steps * flops_per_step / seconds
        print(
            f"{name:17s} {seconds:6.3f} s, {model_steps / seconds / 1e6:5.2f} M steps/s, "
            f"{rate / 1e9:5.1f} GFLOP/s = {rate / best_peak:5.1%} of the peak"
        )


def _time(engine, rng) -> float:
    start = time.perf_counter()
    engine(rng)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
