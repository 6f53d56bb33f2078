"""The optional state baseline of the gradient estimators (``Settings.baseline``), on the gridworld,
a finite MDP with exact occupancies, values and gradients (gamps.exact):

- Eq. 5 with Q - V has exactly the expectation of Eq. 5 with Q (occupancy-weighted sums over
  every (t, s, a), through the library's Q, V and coefficients), and a much smaller variance on
  sampled batches (a paired test on seeded batches);
- the leave-one-out baselines of REINFORCE and PGT stay unbiased even in batches of 3, where a
  batch mean that includes the trajectory itself is detectably biased (the 1/N bias);
- the Monte Carlo V of Eq. 4's engine agrees with the exact V;
- ``baseline: none`` is the paper's estimator, bit for bit, and leaves the generator where Q
  leaves it; the setting reaches Algorithm 1's loop; bad values fail clearly.

Unbiasedness of every estimator against the exact gradient, with and without the baseline, on
and off policy, is in test_gradients.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from gamps import algorithms, exact, gradients, weights
from gamps.data import TrajectoryBatch
from gamps.domains.gridworld import dynamics as gw
from gamps.domains.gridworld.model import ActionEffectModel
from gamps.value import finite_horizon_q, monte_carlo_v


@pytest.fixture(scope="module")
def wrong_model() -> ActionEffectModel:
    """A fixed model far from either area's dynamics: Q^{pi, p_hat} is not the true Q."""
    model = ActionEffectModel()
    model.effect_probs = np.array(
        [
            [0.5, 0.1, 0.1, 0.1, 0.2],
            [0.1, 0.6, 0.1, 0.1, 0.1],
            [0.2, 0.2, 0.3, 0.2, 0.1],
            [0.05, 0.05, 0.05, 0.8, 0.05],
        ]
    )
    return model


@pytest.fixture(scope="module")
def near_theta(behaviour_theta) -> np.ndarray:
    """An off-policy theta near the paper's pi_b (as in test_algorithms)."""
    return behaviour_theta + np.random.default_rng(5).normal(0.0, 0.3, size=behaviour_theta.size)


@pytest.fixture(scope="module")
def off_target(generic_theta) -> np.ndarray:
    """A target policy near the generic behaviour one (the same as test_gradients' off-policy)."""
    return generic_theta + np.random.default_rng(9).normal(0.0, 0.2, size=generic_theta.shape)


def log_ratios(domain, target, batch):
    return weights.log_importance_ratios(
        domain.policy.log_prob(target, batch.states[:, :-1], batch.actions),
        batch.behaviour_log_prob,
        batch.mask,
    )


def mvg(domain, theta, batch, log_rho, signal):
    """Eq. 5 as Algorithm 1 forms it: the coefficients contracted by the policy, over N."""
    coef = gradients.mvg_coefficients(log_rho, signal, domain.gamma, batch.mask)
    return domain.policy.score_dot(theta, batch.states[:, :-1], batch.actions, coef) / batch.n


# ---------------------------------------------------------------------------------------------
# Eq. 5: exact V, exact expectation, smaller variance
# ---------------------------------------------------------------------------------------------


def test_gridworld_state_values_are_the_policy_average_of_q(domain, batch, generic_theta):
    """V_t(s_t) = sum_a pi(a | s_t) Q_t(s_t, a) of the same DP table, whatever the stored
    actions."""
    model = ActionEffectModel()
    pi = domain.policy.probs(generic_theta)
    q = finite_horizon_q(
        model.transition_tensor(), gw.REWARD, pi, domain.gamma, domain.horizon, gw.TERMINAL
    )
    v = domain.state_values(model, generic_theta, batch)
    t = np.arange(batch.horizon)[None, :]
    np.testing.assert_allclose(v, np.sum(pi * q, axis=-1)[t, batch.states[:, :-1]], rtol=1e-14)
    np.testing.assert_allclose(
        domain.q_values(model, generic_theta, batch), q[t, batch.states[:, :-1], batch.actions]
    )
    other = TrajectoryBatch(
        batch.states,
        (batch.actions + 1) % len(gw.ACTIONS),
        batch.rewards,
        batch.mask,
        batch.behaviour_log_prob,
    )
    np.testing.assert_array_equal(domain.state_values(model, generic_theta, other), v)


def occupancy_batch(domain, pi):
    """One pseudo-trajectory per (t, s, a) with d_t(s, a) = Pr_pi(s_t = s, a_t = a) > 0: its only
    step is t, its "log ratio" there is log d_t(s, a). Eq. 5's coefficients on it, contracted by
    the policy, give sum_t gamma^t sum_{s,a} d_t(s, a) score(s, a) signal_t(s, a): the exact
    expectation of Eq. 5 over trajectories of pi_b (the ratios turn pi_b's law into pi's)."""
    d = exact.state_action_occupancy(domain.mdp, pi)
    t, s, a = np.nonzero(d > 0)
    rows, horizon = t.size, domain.horizon
    mask = np.zeros((rows, horizon), dtype=bool)
    mask[np.arange(rows), t] = True
    log_rho = np.zeros((rows, horizon))
    log_rho[np.arange(rows), t] = np.log(d[t, s, a])
    states = np.repeat(s[:, None], horizon + 1, axis=1)
    actions = np.repeat(a[:, None], horizon, axis=1)
    zeros = np.zeros((rows, horizon))
    return TrajectoryBatch(states, actions, zeros, mask, zeros), log_rho


@pytest.mark.parametrize("model_name", ["wrong", "upper area"])
def test_eq5_expectation_is_unchanged_by_the_state_baseline(
    domain, generic_theta, wrong_model, model_name
):
    """The exact expectation of Eq. 5 with Q - V equals that with Q, and both equal the exact MVG
    of Eq. 2 (``exact.boltzmann_gradient`` with the model), to round-off; the baseline changes
    the per-sample coefficients a lot (the identity is not vacuous). Models: a wrong one, and the
    upper area's reversed effects (the model GAMPS aims for)."""
    model = wrong_model
    if model_name == "upper area":
        model = ActionEffectModel()
        reversed_effect = [1, 0, 3, 2]  # up -> down, down -> up, left -> right, right -> left
        model.effect_probs = np.full((4, 5), 0.025) + 0.875 * np.eye(5)[reversed_effect]
    pi = domain.policy.probs(generic_theta)
    pseudo, log_rho = occupancy_batch(domain, pi)
    q = domain.q_values(model, generic_theta, pseudo)
    v = domain.state_values(model, generic_theta, pseudo)
    with_q = mvg(domain, generic_theta, pseudo, log_rho, q) * pseudo.n
    with_advantage = mvg(domain, generic_theta, pseudo, log_rho, q - v) * pseudo.n
    exact_mvg = exact.boltzmann_gradient(
        domain.mdp, pi, model_transitions=model.transition_tensor()
    ).ravel()
    scale = np.abs(exact_mvg).max()
    np.testing.assert_allclose(with_q, exact_mvg, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(with_advantage, exact_mvg, rtol=0, atol=1e-12 * scale)
    step = pseudo.mask
    assert np.abs(v[step]).mean() > 1.0  # V is far from 0 ...
    assert np.abs((q - v)[step]).mean() < 0.5 * np.abs(q[step]).mean()  # ... and near Q


@pytest.mark.parametrize("case", ["paper pi_b, on-policy", "generic pi_b, off-policy"])
def test_eq5_state_baseline_cuts_the_variance(
    domain, behaviour_theta, generic_theta, off_target, wrong_model, case
):
    """K = 300 seeded batches of N = 100 trajectories; each gives Eq. 5 with Q and with Q - V
    (same batch: paired), both unbiased for the exact MVG g. The per-batch squared errors
    e = ||estimate - g||^2 are i.i.d., so the mean paired reduction has a standard error
    sd / sqrt(K): it must exceed 5 of them, and the baseline must at least halve the mean squared
    error (measured: 180x smaller at the paper's pi_b, 1300x off-policy). Off-policy from the
    generic pi_b, the baseline's estimate stays unbiased (5 SE per coordinate; the paper's pi_b
    almost never takes some actions, whose rare contributions a sample mean cannot see)."""
    behaviour, target = (
        (behaviour_theta, behaviour_theta) if case.startswith("paper") else
        (generic_theta, off_target)
    )  # fmt: skip
    pi = domain.policy.probs(target)
    g = exact.boltzmann_gradient(
        domain.mdp, pi, model_transitions=wrong_model.transition_tensor()
    ).ravel()
    rng = np.random.default_rng(31)
    plain, baselined = [], []
    for _ in range(300):
        batch = domain.collect(behaviour, 100, rng)
        log_rho = log_ratios(domain, target, batch)
        q = domain.q_values(wrong_model, target, batch)
        v = domain.state_values(wrong_model, target, batch)
        plain.append(mvg(domain, target, batch, log_rho, q))
        baselined.append(mvg(domain, target, batch, log_rho, q - v))
    plain, baselined = np.array(plain), np.array(baselined)
    e_plain = np.sum((plain - g) ** 2, axis=1)
    e_base = np.sum((baselined - g) ** 2, axis=1)
    reduction = e_plain - e_base
    assert reduction.mean() > 5 * reduction.std(ddof=1) / np.sqrt(reduction.size)
    assert e_base.mean() < 0.5 * e_plain.mean(), (e_base.mean(), e_plain.mean())
    if case.startswith("generic"):  # pi_b's near-deterministic lower area has unseen actions
        se = baselined.std(axis=0, ddof=1) / np.sqrt(len(baselined))
        varying = se > 1e-12
        assert np.all(np.abs(baselined.mean(axis=0) - g)[~varying] < 1e-9)
        assert np.max(np.abs(baselined.mean(axis=0) - g)[varying] / se[varying]) <= 5.0


# ---------------------------------------------------------------------------------------------
# Model-free: the leave-one-out baselines are unbiased at any N
# ---------------------------------------------------------------------------------------------


def mean_including_self(values, present):
    """The batch mean over every present row, the row itself included: a biased baseline."""
    kept = np.where(present, values, 0.0)
    count = present.sum(axis=0)
    mean = np.where(count > 0, kept.sum(axis=0) / np.maximum(count, 1), 0.0)
    return np.broadcast_to(mean, np.shape(values))


@pytest.mark.parametrize("estimator", ["reinforce", "pgt"])
def test_leave_one_out_baselines_are_unbiased_in_small_batches(
    domain, generic_theta, off_target, estimator, monkeypatch
):
    """K = 3000 seeded batches of N = 3 trajectories, off-policy. The leave-one-out estimator's
    mean matches the exact gradient: along the gradient's direction (projection z) and in every
    coordinate, within 5 standard errors (CLT over i.i.d. batch estimates). Power: a baseline
    that is the batch mean including the trajectory itself shrinks the expectation by about
    1 - 1/N (measured: by 35 %) and the same check rejects it by far."""
    coefficients = algorithms.REGISTRY[estimator].baseline_coefficients
    n, k = 3, 3000
    rng = np.random.default_rng(77)
    data = domain.collect(generic_theta, n * k, rng)
    log_rho = log_ratios(domain, off_target, data)
    g = exact.boltzmann_gradient(domain.mdp, domain.policy.probs(off_target)).ravel()
    direction = g / np.linalg.norm(g)

    def batch_estimates():
        out = np.empty((k, g.size))
        for b in range(k):  # a batch at a time: the baseline is computed within each batch
            rows = slice(n * b, n * (b + 1))
            coef = coefficients(log_rho[rows], data.rewards[rows], domain.gamma, data.mask[rows])
            states, actions = data.states[rows, :-1], data.actions[rows]
            out[b] = domain.policy.score_dot(off_target, states, actions, coef) / n
        return out

    def projection_z(estimates):
        x = estimates @ direction
        return (x.mean() - np.linalg.norm(g)) / (x.std(ddof=1) / np.sqrt(k))

    estimates = batch_estimates()
    assert abs(projection_z(estimates)) <= 5.0
    se = estimates.std(axis=0, ddof=1) / np.sqrt(k)
    varying = se > 1e-12
    z = np.abs(estimates.mean(axis=0) - g)[varying] / se[varying]
    assert z.max() <= 5.0, z.max()
    monkeypatch.setattr(gradients, "leave_one_out_mean", mean_including_self)
    assert projection_z(batch_estimates()) < -10.0


# ---------------------------------------------------------------------------------------------
# The Monte Carlo V against the exact V
# ---------------------------------------------------------------------------------------------


def test_monte_carlo_v_matches_the_exact_v(domain, generic_theta, wrong_model):
    """The generic engine's V (first action drawn from pi, the rest as Eq. 4) in the gridworld's
    model, with the known reward and the goal ending the episode, against the DP's exact
    V_t(s) = sum_a pi(a | s) Q_t(s, a) for every non-goal state at several steps left: within 5
    standard errors of M = 4000 rollouts (the per-rollout returns' sd, measured by M = 1 runs).
    Power: Q of a fixed first action differs from V by far more."""
    pi = domain.policy.probs(generic_theta)
    q = finite_horizon_q(
        wrong_model.transition_tensor(), gw.REWARD, pi, domain.gamma, domain.horizon, gw.TERMINAL
    )
    v_exact = np.sum(pi * q, axis=-1)  # [T, S], T - t steps left at t

    def reward_and_done(s, a, s_next):
        return gw.REWARD[s, a], gw.TERMINAL[s_next]

    states = np.flatnonzero(~gw.TERMINAL)
    steps = np.array([1, 3, 20])
    pairs_s = np.repeat(states, steps.size)
    pairs_n = np.tile(steps, states.size)
    m = 4000

    def estimate(rollouts, rep, seed):
        return monte_carlo_v(
            wrong_model,
            domain.policy,
            generic_theta,
            reward_and_done,
            np.repeat(pairs_s, rep),
            np.repeat(pairs_n, rep),
            domain.gamma,
            rollouts,
            np.random.default_rng(seed),
        )

    v = estimate(m, 1, 3)
    single = estimate(1, 400, 4).reshape(-1, 400)
    se = single.std(axis=1, ddof=1) / np.sqrt(m)
    expected = v_exact[domain.horizon - pairs_n, pairs_s]
    z = np.abs(v - expected) / np.maximum(se, 1e-12)
    assert z.max() <= 5.0, z.max()
    q_first = q[domain.horizon - pairs_n, pairs_s, 0]
    assert np.max(np.abs(q_first - expected) / np.maximum(se, 1e-12)) > 20.0


# ---------------------------------------------------------------------------------------------
# The setting in Algorithm 1
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", algorithms.ALGORITHMS)
def test_baseline_none_is_the_paper_estimator_bit_for_bit(domain, batch, near_theta, algorithm):
    """``baseline="none"`` (the default) is Eq. 5 / REINFORCE / PGT exactly as before: the same
    coefficients of the same signal, contracted the same way, and the generator is left where Q
    leaves it (so every later draw of a run is unchanged)."""
    theta = near_theta
    rng = np.random.default_rng(5)
    grad, model = algorithms.estimate_gradient(domain, algorithm, theta, batch, 2.0, rng)
    default, _ = algorithms.estimate_gradient(
        domain, algorithm, theta, batch, 2.0, np.random.default_rng(5), baseline="none"
    )
    np.testing.assert_array_equal(grad, default)
    entry = algorithms.REGISTRY[algorithm]
    log_rho = algorithms.log_ratios(domain, theta, batch)
    mine = np.random.default_rng(5)
    if entry.model_based:
        fitted = algorithms.fit_model(domain, algorithm, theta, batch, log_rho, 2.0)
        signal = domain.q_values(fitted, theta, batch, mine)
    else:
        signal = batch.rewards
    coef = entry.coefficients(log_rho, signal, domain.gamma, batch.mask)
    np.testing.assert_array_equal(grad, domain.score_dot(theta, batch, coef) / batch.n)
    assert rng.random() == mine.random()


@pytest.mark.parametrize("algorithm", algorithms.ALGORITHMS)
def test_state_baseline_in_estimate_gradient(domain, batch, near_theta, algorithm):
    """``baseline="state"``: the model-based algorithms use Q - V of the model they fitted, the
    model-free ones their leave-one-out coefficients; the estimate differs from the plain one."""
    theta = near_theta
    grad, model = algorithms.estimate_gradient(
        domain, algorithm, theta, batch, 2.0, np.random.default_rng(0), baseline="state"
    )
    plain, _ = algorithms.estimate_gradient(
        domain, algorithm, theta, batch, 2.0, np.random.default_rng(0)
    )
    log_rho = algorithms.log_ratios(domain, theta, batch)
    entry = algorithms.REGISTRY[algorithm]
    if entry.model_based:
        signal = domain.q_values(model, theta, batch) - domain.state_values(model, theta, batch)
        coef = gradients.mvg_coefficients(log_rho, signal, domain.gamma, batch.mask)
    else:
        assert entry.baseline_coefficients is not None
        coef = entry.baseline_coefficients(log_rho, batch.rewards, domain.gamma, batch.mask)
    expected = domain.score_dot(theta, batch, coef) / batch.n
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-14)
    assert np.linalg.norm(grad - plain) > 1e-3 * np.linalg.norm(plain)


def test_settings_baseline_reaches_the_loop(domain, batch, behaviour_theta):
    """Algorithm 1 with ``Settings(baseline="state")`` steps along the baselined gradient."""
    settings = algorithms.Settings(iterations=1, step_size=1.0, baseline="state")
    assert algorithms.Settings(iterations=1, step_size=1.0).baseline == "none"
    for algorithm in ("gamps", "pgt"):
        trace: list = []
        algorithms.batch_policy_search(
            domain, algorithm, batch, behaviour_theta, settings, np.random.default_rng(0),
            trace=trace,
        )  # fmt: skip
        grad, _ = algorithms.estimate_gradient(
            domain, algorithm, behaviour_theta, batch, 2.0, np.random.default_rng(1),
            baseline="state",
        )  # fmt: skip
        np.testing.assert_allclose(trace[1], behaviour_theta + grad, rtol=1e-12, atol=1e-12)


def test_bad_baselines_fail_clearly(domain, batch, behaviour_theta, monkeypatch):
    with pytest.raises(ValueError, match="unknown baseline 'mean'"):
        algorithms.estimate_gradient(
            domain, "pgt", behaviour_theta, batch, 2.0, np.random.default_rng(0), baseline="mean"
        )
    bare = algorithms.Algorithm("plain_pgt", "PGT", gradients.pgt_coefficients)
    monkeypatch.setitem(algorithms.REGISTRY, bare.name, bare)
    with pytest.raises(ValueError, match="'plain_pgt' has no estimator with a state baseline"):
        algorithms.estimate_gradient(
            domain, "plain_pgt", behaviour_theta, batch, 2.0, np.random.default_rng(0),
            baseline="state",
        )  # fmt: skip
