"""Plain helpers shared by several test files, imported as ``from fixtures import ...`` (tests/ is
on sys.path through the rootdir conftest). Pytest fixtures live in conftest.py.

- Reference gradient estimators, written from the equations on explicit scores [N, T, d] as sums
  over the steps t: the sample MVG of Eq. 5, per-trajectory importance-sampled REINFORCE and
  per-decision importance-sampled PGT, and the last two with their leave-one-out baselines. They
  share no code with gamps.gradients, whose per-step coefficients Algorithm 1 contracts with the
  policy's scores, so tests can check one against the other.
- A tiny random finite MDP, solved by enumerating every trajectory (test_value, test_exact).
- Small numerical helpers and shared tolerances.
- Running the repository's workflow in a temporary folder, and comparing runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from gamps import exact

# ---------------------------------------------------------------------------------------------
# Reference gradient estimators
# ---------------------------------------------------------------------------------------------
# log_rho [N, T] holds log rho_{0:t}; a step that was not taken (mask False) gets weight 0, so
# the (finite) padding of the scores never counts.


def _step_weights(weights_t, taken):
    return np.where(taken, weights_t, 0.0)


def reference_mvg(score, log_rho, q_values, gamma: float, mask) -> np.ndarray:
    """The sample MVG of Eq. 5: 1/N sum_i sum_t gamma^t rho_{0:t} score_t Q(s_t, a_t)."""
    n, horizon = mask.shape
    total = np.zeros(score.shape[-1])
    for t in range(horizon):
        taken = mask[:, t]
        rho = np.exp(np.where(taken, log_rho[:, t], 0.0))
        total += _step_weights(gamma**t * rho * q_values[:, t], taken) @ score[:, t]
    return total / n


def reference_reinforce(score, log_rho, rewards, gamma: float, mask) -> np.ndarray:
    """1/N sum_i rho_{0:T-1} (sum_t score_t) (sum_t gamma^t r_t), the sums over the steps taken
    and rho_{0:T-1} the ratio of the whole trajectory (rho_{0:t} at its last step)."""
    n, horizon = mask.shape
    discounted_return = np.zeros(n)
    log_rho_whole = np.zeros(n)
    for t in range(horizon):
        taken = mask[:, t]
        discounted_return += _step_weights(gamma**t * rewards[:, t], taken)
        log_rho_whole = np.where(taken, log_rho[:, t], log_rho_whole)
    per_trajectory = np.exp(log_rho_whole) * discounted_return
    total = np.zeros(score.shape[-1])
    for t in range(horizon):  # per_trajectory_i sum_t score_t^i
        total += _step_weights(per_trajectory, mask[:, t]) @ score[:, t]
    return total / n


def reference_pgt(score, log_rho, rewards, gamma: float, mask) -> np.ndarray:
    """1/N sum_i sum_t gamma^t rho_{0:t} score_t sum_{t'>=t} gamma^{t'-t} rho_{t+1:t'} r_{t'},
    with rho_{t+1:t'} = rho_{0:t'} / rho_{0:t}."""
    n, horizon = mask.shape
    total = np.zeros(score.shape[-1])
    for t in range(horizon):
        taken = mask[:, t]
        later = taken[:, None] & mask[:, t:]  # the steps t' >= t of trajectories running at t
        log_ratio = np.where(later, log_rho[:, t:] - log_rho[:, t, None], 0.0)  # rho_{t+1:t'}
        discount = gamma ** np.arange(horizon - t)  # gamma^{t'-t}
        to_go = np.sum(_step_weights(discount * np.exp(log_ratio) * rewards[:, t:], later), axis=1)
        rho = np.exp(np.where(taken, log_rho[:, t], 0.0))
        total += _step_weights(gamma**t * rho * to_go, taken) @ score[:, t]
    return total / n


def _trajectory_returns(log_rho, rewards, gamma: float, mask):
    """sum_t gamma^t r_t and log rho_{0:T-1} of every trajectory (explicit loop over steps)."""
    n, horizon = mask.shape
    discounted_return = np.zeros(n)
    log_rho_whole = np.zeros(n)
    for t in range(horizon):
        taken = mask[:, t]
        discounted_return += _step_weights(gamma**t * rewards[:, t], taken)
        log_rho_whole = np.where(taken, log_rho[:, t], log_rho_whole)
    return discounted_return, log_rho_whole


def reference_reinforce_baseline(score, log_rho, rewards, gamma: float, mask) -> np.ndarray:
    """1/N sum_i rho^i_{0:T-1} (sum_t score_t^i) (G^i - b^i), b^i = the mean return G^j of the
    N - 1 other trajectories (0 when there is none), each computed by its own loop over j."""
    n, horizon = mask.shape
    returns, log_rho_whole = _trajectory_returns(log_rho, rewards, gamma, mask)
    total = np.zeros(score.shape[-1])
    for i in range(n):
        others = [returns[j] for j in range(n) if j != i]
        b = sum(others) / len(others) if others else 0.0
        weight = np.exp(log_rho_whole[i]) * (returns[i] - b)
        for t in range(horizon):
            if mask[i, t]:
                total += weight * score[i, t]
    return total / n


def reference_pgt_baseline(score, log_rho, rewards, gamma: float, mask) -> np.ndarray:
    """1/N sum_i sum_t gamma^t rho^i_{0:t} score_t^i (G_t^i - b_t^i), with the reward-to-go
    G_t^i = sum_{t'>=t} gamma^{t'-t} rho_{t+1:t'} r_{t'} and b_t^i the mean of G_t^j over the
    other trajectories j != i with a step at t (0 when there is none)."""
    n, horizon = mask.shape
    to_go = np.zeros((n, horizon))
    for i in range(n):
        for t in range(horizon):
            for u in range(t, horizon):
                if mask[i, u]:
                    ratio = np.exp(log_rho[i, u] - log_rho[i, t])
                    to_go[i, t] += gamma ** (u - t) * ratio * rewards[i, u]
    total = np.zeros(score.shape[-1])
    for i in range(n):
        for t in range(horizon):
            if not mask[i, t]:
                continue
            others = [to_go[j, t] for j in range(n) if j != i and mask[j, t]]
            b = sum(others) / len(others) if others else 0.0
            weight = gamma**t * np.exp(log_rho[i, t]) * (to_go[i, t] - b)
            total += weight * score[i, t]
    return total / n


# ---------------------------------------------------------------------------------------------
# A tiny random MDP, solved by enumerating every trajectory
# ---------------------------------------------------------------------------------------------


def tiny_mdp(seed=0, gamma=0.8, horizon=4):
    rng = np.random.default_rng(seed)
    n_s, n_a = 3, 2
    transitions = rng.dirichlet(np.ones(n_s), size=(n_s, n_a))
    reward = rng.normal(size=(n_s, n_a))
    terminal = np.array([False, False, True])
    mu = np.array([0.5, 0.3, 0.2])  # some mass on the terminal state: that episode is over at once
    return exact.FiniteMDP(transitions, reward, mu, terminal, gamma, horizon)


def random_pi(seed, n_s=3, n_a=2):
    return np.random.default_rng(seed).dirichlet(np.ones(n_a), size=n_s)


def paths(mdp, pi, start=None, transitions=None):
    """Every complete trajectory as (probability, [(s_0, a_0), (s_1, a_1), ...]).

    The episode runs while the state is non-terminal and fewer than T steps were taken. With
    ``start = (t, s, a)`` the enumeration begins by taking a in s at time t (T - t steps left).
    """
    p = mdp.transitions if transitions is None else transitions
    n_s, n_a = mdp.reward.shape
    out = []

    def extend(prob, steps, state, t):
        if t >= mdp.horizon or mdp.terminal[state]:
            out.append((prob, steps))
            return
        for a in range(n_a):
            take(prob * pi[state, a], steps, state, a, t)

    def take(prob, steps, state, a, t):
        steps = [*steps, (state, a)]
        for nxt in range(n_s):
            if p[state, a, nxt] > 0:
                extend(prob * p[state, a, nxt], steps, nxt, t + 1)

    if start is None:
        for s0 in range(n_s):
            extend(mdp.mu[s0], [], s0, 0)
    else:
        t, s0, a0 = start
        take(1.0, [], s0, a0, t)
    return out


def brute_q(mdp, pi, transitions=None):
    n_s, n_a = mdp.reward.shape
    q = np.zeros((mdp.horizon, n_s, n_a))
    for t in range(mdp.horizon):
        for s in range(n_s):
            if mdp.terminal[s]:
                continue
            for a in range(n_a):
                for prob, steps in paths(mdp, pi, start=(t, s, a), transitions=transitions):
                    ret = sum(mdp.gamma**k * mdp.reward[x, y] for k, (x, y) in enumerate(steps))
                    q[t, s, a] += prob * ret
    return q


# ---------------------------------------------------------------------------------------------
# Batches, numerical helpers and tolerances
# ---------------------------------------------------------------------------------------------


def random_log_batch(seed=0, n=6, horizon=5):
    """Log-probabilities with a prefix mask (some trajectories end early, one at once); padded
    entries hold arbitrary finite values, which must be ignored."""
    rng = np.random.default_rng(seed)
    lengths = np.array([horizon, 3, 1, horizon, 2, 0])[:n]
    mask = np.arange(horizon)[None, :] < lengths[:, None]
    target = np.log(rng.uniform(0.05, 1.0, size=(n, horizon)))
    behaviour = np.log(rng.uniform(0.05, 1.0, size=(n, horizon)))
    target[~mask] = rng.normal(0, 5, size=(~mask).sum())
    behaviour[~mask] = rng.normal(0, 5, size=(~mask).sum())
    return target, behaviour, mask


def discounted_sum(n, gamma: float):
    """sum_{k<n} gamma^k, for scalars or arrays of n."""
    return (1 - gamma**n) / (1 - gamma)


def sample_std_se(std: float, excess_kurtosis: float, n: int) -> float:
    """Asymptotic standard error of the sample standard deviation: sd * sqrt((kappa + 2) / (4n))."""
    return std * np.sqrt((excess_kurtosis + 2.0) / (4.0 * n))


#: Rounding slack of the bound checks: every quantity is a sum of at most ~10^4 products of
#: doubles, so a relative 1e-9 is far above round-off and far below any real violation (the
#: tightest realised case, test_bias's two-outcome MDP, is exact to 1e-12).
RTOL = 1e-9


# ---------------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
#: The stamps (gamps.provenance) that a setting of the gridworld's training changes: its rule's,
#: and those of every rule downstream.
AFTER_GRIDWORLD_SETTINGS = {
    "train-gridworld",
    "aggregate-gridworld",
    "tables-gridworld",
    "claims-gridworld",
    "gradient_bias",
    "gradient_bias_summary",
    "gradient_used",
    "gradient_used_summary",
    "figure2",
    "figure4",
    "replication_report",
    "provenance",
    "verdicts",
    "figure6",
}
SMOKE_CONFIG = ROOT / "config/smoke.yaml"


def run_snakemake(workdir, *args: str, configfile=SMOKE_CONFIG) -> subprocess.CompletedProcess:
    """Run the repository's workflow with ``configfile``, its outputs in ``workdir``."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(configfile),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)


def copy_run(run: Path, dest: Path) -> Path:
    """A copy of a finished run, Snakemake's records and file times included."""
    shutil.copytree(run, dest, symlinks=True)
    return dest


def result_csvs(run: Path) -> dict[Path, bytes]:
    """Every ``results/**/*.csv`` of a run, by path relative to the run."""
    return {
        p.relative_to(run): p.read_bytes() for p in sorted((run / "results/_smoke").rglob("*.csv"))
    }
