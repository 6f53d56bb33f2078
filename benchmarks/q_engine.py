"""Throughput of the Monte Carlo Q engine (Eq. 4) against per-(s, a) loops, side by side.

At the paper's minigolf scale (a dataset of N = 50 trajectories of pi_b, M rollouts per pair,
horizon 20), Q^{pi, p_hat} is estimated for every (s_t, a_t) of the dataset three ways:
  batched      gamps.value.monte_carlo_q: all pairs x M rollouts advance together;
  per-pair     a loop over pairs, each pair's M rollouts vectorised (the same engine, P calls);
  per-rollout  the straightforward loop: for each pair, for each rollout, step by step.
Each prints model steps per second (steps actually simulated, counted by the model).

    python benchmarks/q_engine.py [--rollouts 100] [--seed 0]
"""

import argparse
import time

import numpy as np
from common import gamps_model_on_a_dataset

from gamps.value import monte_carlo_q


def per_rollout_loop(
    model, policy, theta, reward_and_done, states, actions, steps, gamma, rollouts, rng
):
    """The straightforward estimator: one imagined trajectory at a time, one step at a time."""
    q = np.zeros(len(states))
    for i in range(len(states)):
        total = 0.0
        for _ in range(rollouts):
            s, a, discount = states[i : i + 1], actions[i : i + 1], 1.0
            for k in range(steps[i]):
                if k > 0:
                    a = policy.sample(theta, s, rng)
                s_next = model.sample(s, a, rng)
                reward, done = reward_and_done(s, a, s_next)
                total += discount * float(reward[0])
                if done[0]:
                    break
                s, discount = s_next, discount * gamma
        q[i] = total / rollouts
    return q


def timed(name, fn, model, reference=None):
    model.steps = 0
    start = time.perf_counter()
    q = fn()
    seconds = time.perf_counter() - start
    rate = model.steps / seconds
    print(
        f"{name:>12}: {seconds:8.3f} s, {model.steps:9d} model steps, {rate:12.0f} steps/s"
        + ("" if reference is None else f", {seconds / reference:6.1f}x the batched time")
    )
    return q, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=None, help="M (default: the config's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    domain, batch, theta, model = gamps_model_on_a_dataset("minigolf", args.seed, args.rollouts)
    m = domain.rollouts
    n_idx, t_idx = np.nonzero(batch.mask)
    states, actions = batch.states[n_idx, t_idx], batch.actions[n_idx, t_idx]
    steps = batch.horizon - t_idx
    common = (domain.policy, theta, domain.reward_and_done)
    print(f"{len(states)} (s, a) pairs of {batch.n} trajectories, M = {m} rollouts each")

    def batched():
        return domain.q_values(model, theta, batch, np.random.default_rng(1))[n_idx, t_idx]

    def per_pair():
        rng = np.random.default_rng(1)
        return np.concatenate(
            [
                monte_carlo_q(
                    model,
                    *common,
                    states[i : i + 1],
                    actions[i : i + 1],
                    steps[i : i + 1],
                    domain.gamma,
                    m,
                    rng,
                )
                for i in range(len(states))
            ]
        )

    def per_rollout():
        rng = np.random.default_rng(1)
        return per_rollout_loop(model, *common, states, actions, steps, domain.gamma, m, rng)

    q_batched, reference = timed("batched", batched, model)
    q_pair, _ = timed("per-pair", per_pair, model, reference)
    q_rollout, _ = timed("per-rollout", per_rollout, model, reference)
    # The three estimate the same Q with independent noise: their gap is Monte Carlo error.
    print(
        f"mean |Q_batched - Q_per_pair| = {np.abs(q_batched - q_pair).mean():.3f}, "
        f"mean |Q_batched - Q_per_rollout| = {np.abs(q_batched - q_rollout).mean():.3f}, "
        f"mean |Q| = {np.abs(q_batched).mean():.3f}"
    )


if __name__ == "__main__":
    main()
