"""Eq. 4 for the swimmer, fused: Q^{pi, p_hat}(s, a) from M rollouts of every (s, a) pair in the
MLP-Gaussian model, with the linear-Gaussian policy and the known reward, in float32; and
V^{pi, p_hat}(s) of the state baseline, from M rollouts whose first action is drawn from pi too.

It computes what ``value.monte_carlo_q`` (and ``value.monte_carlo_v``) computes with
``MLPGaussianModel.sample`` and ``GaussianPolicy.sample`` (tests compare the two), laid out for
speed:

- Structure of arrays: every quantity is a row of length P x M (state features [9, R], hidden
  units [33, R]), so each element-wise operation runs over long contiguous rows and each layer is
  one matrix product W @ X.
- Biases ride in the products: the inputs carry a row of ones, and each hidden layer a unit whose
  pre-activation is 20, so tanh makes it exactly 1.0 for the next layer (no separate bias adds).
- Rollouts are sorted by the steps they have left, so the live ones are always a prefix of the
  columns and nothing is gathered or compacted; the columns are processed in chunks that stay
  in cache, every step of a chunk before the next chunk.
- Products go through torch (threads follow ``torch.set_num_threads``); tanh, exp and the
  Gaussian noise through numpy, whose SIMD tanh measured 7x faster than torch's here. The noise
  is Box-Muller on float32 uniforms of the caller's generator, 3x faster than numpy's float32
  ziggurat; 24-bit uniforms bound it to |z| < 5.8.

Only the features (joint angles and velocities) are tracked: they are all the policy and the
model see, and the reward needs only the change of the tip's x, (x' - x) / dt - c |a|^2.
"""

from __future__ import annotations

import numpy as np
import torch

F32 = np.float32
#: Rollout columns per chunk (the chunk's arrays take about 0.4 KB a column). Not a power of two:
#: a row stride of 2^k floats makes the products' loads collide in the cache (8192 measured 7%
#: slower than 8000 or 12000).
CHUNK = 12_000


def standard_normal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """[rows, cols] float32 standard normals by the Box-Muller transform."""
    u = rng.random((2, (rows * cols + 1) // 2), dtype=F32)
    radius = np.log1p(-u[0])  # log(1 - u) with 1 - u in (0, 1]: finite
    radius *= -2.0
    np.sqrt(radius, out=radius)
    angle = u[1]
    angle *= F32(2 * np.pi)
    z = np.empty((2, radius.size), dtype=F32)
    np.cos(angle, out=z[0])
    np.sin(angle, out=z[1])
    z *= radius
    return z.reshape(-1)[: rows * cols].reshape(rows, cols)


def _mm(weight: torch.Tensor, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    torch.mm(weight, torch.from_numpy(x), out=torch.from_numpy(out))
    return out


def monte_carlo_q(
    model,
    policy_weights,
    policy_std: float,
    states,
    actions,
    steps,
    gamma: float,
    rollouts: int,
    rng: np.random.Generator,
    feature_slice: slice,
    velocity_index: int,
    dt: float,
    control_cost: float,
    action_bounds: tuple[float, float],
    limits: tuple[np.ndarray, float] | None = None,
    stats: dict[str, float] | None = None,
) -> np.ndarray:
    """Q(s, a) by Eq. 4 for P pairs (states [P, ds], actions [P, da], ``steps`` [P] left before
    the horizon): the mean over M rollouts of sum_k gamma^k r_k, where a rollout takes a in s,
    then a_k ~ N(phi(s_k)^T W, std^2) (``policy_weights`` W [n_features, da]); with ``actions``
    None, a_0 is drawn from the policy as well and the mean estimates V(s). The model gives
    s_{k+1} = s_k + Delta, Delta ~ N(mu(s_k, clip(a_k)), sigma^2), and the known reward
    r_k = Delta[velocity_index] / dt - control_cost |a_k|^2 (on the action as drawn). The
    episode never ends early. Coordinates the model bounds (``model.bounds``, by state index)
    are clipped to their range after every step. ``limits`` (feature rows, bound) names the
    coordinates whose |value| beyond the bound is off the data's support; ``stats`` then
    receives ``off_support``, the fraction of model steps that end there (before any clipping).
    Returns float64 [P]; 0 where no step is left."""
    w1, w2, w3, log_std_bounds, log_y_scale = model.rollout_layers()
    w_pi = torch.as_tensor(np.asarray(policy_weights, dtype=F32).T.copy())
    n_features = w1.shape[1] - 1 - w_pi.shape[0]
    n_out = w3.shape[0] // 2
    draw_first = actions is None
    low, high = action_bounds
    offset = feature_slice.start or 0
    clipped = [(i - offset, lo_hi) for i, lo_hi in getattr(model, "bounds", {}).items()]
    limit_rows, bound = limits if limits is not None else (np.zeros(0, dtype=int), np.inf)
    outside = total = 0

    left = np.repeat(np.asarray(steps, dtype=np.int64), rollouts)
    order = np.argsort(-left, kind="stable")
    left = left[order]
    pair = order // rollouts
    ret = np.zeros(left.size)
    for lo in range(0, np.count_nonzero(left), CHUNK):
        cols = slice(lo, min(lo + CHUNK, left.size))
        chunk_left = -left[cols]  # ascending: the live columns at step k are the first
        width = chunk_left.size
        x = np.empty((w1.shape[1], width), dtype=F32)
        x[:n_features] = np.asarray(states)[pair[cols]][:, feature_slice].T
        x[-1] = 1.0
        a_all = np.empty((w_pi.shape[0], width), dtype=F32)
        if not draw_first:
            a_all[:] = np.asarray(actions)[pair[cols]].T
        h1 = np.empty((w1.shape[0], width), dtype=F32)
        h2 = np.empty((w2.shape[0], width), dtype=F32)
        out = np.empty((w3.shape[0], width), dtype=F32)
        discount = 1.0
        for k in range(-int(chunk_left[0])):
            n = int(np.searchsorted(chunk_left, -k))
            a = a_all[:, :n]  # at k = 0, the pair's own action (unless drawn from pi)
            if k > 0 or draw_first:
                noise = standard_normal(rng, len(a) + n_out, n)
                _mm(w_pi, x[:n_features, :n], a)
                a += F32(policy_std) * noise[: len(a)]
                noise = noise[len(a) :]
            else:
                noise = standard_normal(rng, n_out, n)
            np.clip(a, low, high, out=x[n_features:-1, :n])
            h = _mm(w1, x[:, :n], h1[:, :n])
            np.tanh(h, out=h)
            h = _mm(w2, h, h2[:, :n])
            np.tanh(h, out=h)
            o = _mm(w3, h, out[:, :n])
            mean, std = o[:n_out], o[n_out:]
            np.clip(std, *log_std_bounds, out=std)
            std += log_y_scale
            np.exp(std, out=std)
            std *= noise
            mean += std  # now Delta, the sampled change of every coordinate
            reward = mean[velocity_index] * F32(1.0 / dt)
            a *= a
            reward -= F32(control_cost) * a.sum(axis=0)
            ret[lo : lo + n] += discount * reward
            x[:n_features, :n] += mean[feature_slice]
            if len(limit_rows):
                beyond = np.abs(x[limit_rows, :n]) > bound
                outside += int(np.count_nonzero(beyond.any(axis=0)))
                total += n
            for row, (lo_bound, hi_bound) in clipped:
                np.clip(x[row, :n], lo_bound, hi_bound, out=x[row, :n])
            discount *= gamma
    if stats is not None:
        stats["off_support"] = float(outside / total) if total else np.nan
    q = np.empty_like(ret)
    q[order] = ret
    return q.reshape(-1, rollouts).mean(axis=1)
