"""Closed-form quantities of a finite MDP (gamps.exact): occupancies delta and eta, J, the exact
gradient and the exact MVG, against enumeration of every trajectory, finite differences and
samples; and Lemma 4.1, the sample GAMPS weights converging to eta. finite_horizon_q (gamps.value)
is tested in test_value.py."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import brute_q, paths, random_pi, tiny_mdp
from scipy import sparse

from gamps import exact, weights
from gamps.domains.gridworld import dynamics as gw
from gamps.domains.gridworld.figure1 import weight_maps
from gamps.value import expected_return, finite_horizon_q

# ---------------------------------------------------------------------------------------------
# Occupancies and J against enumeration (tiny_mdp and paths: fixtures.py)
# ---------------------------------------------------------------------------------------------


def brute_occupancies(mdp, pi, score_norm):
    """d_t(s, a), J, delta (normalised), eta (normalised) and survival Pr(episode runs at t)."""
    d = np.zeros((mdp.horizon, *mdp.reward.shape))
    eta = np.zeros(mdp.reward.shape)
    survival = np.zeros(mdp.horizon)
    j = 0.0
    all_paths = paths(mdp, pi)
    np.testing.assert_allclose(sum(p for p, _ in all_paths), 1.0)
    for prob, steps in all_paths:
        cumulative = 0.0
        for t, (s, a) in enumerate(steps):
            d[t, s, a] += prob
            survival[t] += prob
            cumulative += score_norm[s, a]
            eta[s, a] += prob * mdp.gamma**t * cumulative
            j += prob * mdp.gamma**t * mdp.reward[s, a]
    delta = np.einsum("t,tsa->sa", mdp.gamma ** np.arange(mdp.horizon), d)
    return d, j, delta / delta.sum(), eta / eta.sum(), survival


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_occupancies_and_performance_match_enumeration(seed):
    mdp = tiny_mdp(seed)
    pi = random_pi(seed + 20)
    score_norm = np.random.default_rng(seed).uniform(0.1, 2.0, size=(3, 2))
    d_bf, j_bf, delta_bf, eta_bf, survival = brute_occupancies(mdp, pi, score_norm)

    d = exact.state_action_occupancy(mdp, pi)
    np.testing.assert_allclose(d, d_bf, atol=1e-12)
    # the occupancy at time t sums to the probability that the episode is still running
    np.testing.assert_allclose(d.sum(axis=(1, 2)), survival, atol=1e-12)
    assert survival[0] == pytest.approx(1 - mdp.mu[mdp.terminal].sum())
    np.testing.assert_allclose(exact.discounted_occupancy(mdp, pi), delta_bf, atol=1e-12)
    np.testing.assert_allclose(
        exact.gradient_aware_occupancy(mdp, pi, score_norm), eta_bf, atol=1e-12
    )
    assert exact.performance(mdp, pi) == pytest.approx(j_bf, abs=1e-12)
    q = finite_horizon_q(mdp.transitions, mdp.reward, pi, mdp.gamma, mdp.horizon, mdp.terminal)
    assert expected_return(q[0], pi, mdp.mu) == pytest.approx(j_bf, abs=1e-12)


@pytest.mark.parametrize("which", ["behaviour", "generic"])
def test_gridworld_occupancy_sums_to_empirical_survival(
    domain, behaviour_theta, generic_theta, rng, which
):
    theta = behaviour_theta if which == "behaviour" else generic_theta
    d = exact.state_action_occupancy(domain.mdp, domain.policy.probs(theta))
    survival = d.sum(axis=(1, 2))
    assert survival[0] == pytest.approx(1.0)
    assert np.all(np.diff(survival) <= 1e-15)
    assert survival[-1] < 1.0  # some episodes reach the goal: the check below is not trivial
    n = 50_000
    batch = domain.collect(theta, n, rng)
    running = batch.mask.mean(axis=0)
    se = np.sqrt(survival * (1 - survival) / n)
    assert np.all(np.abs(running - survival) <= 5 * se + 1e-12)  # binomial CLT, 5 SE
    if which == "generic":
        # per-(s, a) frequencies at t = 0 and t = 5; only with the generic policy, whose cells
        # all have expected counts large enough for the normal approximation (pi_b has cells
        # with expected counts ~ 0.02, where one observation is a 7-SE event)
        for t in (0, 5):
            running_t = batch.mask[:, t]
            idx = batch.states[running_t, t] * 4 + batch.actions[running_t, t]
            freq = np.bincount(idx, minlength=100) / n
            p = d[t].ravel()
            assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


# ---------------------------------------------------------------------------------------------
# Exact gradient and exact MVG
# ---------------------------------------------------------------------------------------------


def finite_difference_gradient(mdp, policy, theta, eps=1e-6):
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        j_plus = exact.performance(mdp, policy.probs(theta + step))
        j_minus = exact.performance(mdp, policy.probs(theta - step))
        grad[i] = (j_plus - j_minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("which", ["generic", "behaviour"])
def test_exact_gradient_matches_finite_differences(domain, generic_theta, behaviour_theta, which):
    theta = generic_theta if which == "generic" else behaviour_theta
    mdp, policy = domain.mdp, domain.policy
    pi = policy.probs(theta)
    fd = finite_difference_gradient(mdp, policy, theta)
    grad = exact.boltzmann_gradient(mdp, pi)
    assert grad.shape == (25, 4)
    # central differences: O(eps^2) truncation + O(1e-16 |J| / eps) round-off, both << 1e-7
    np.testing.assert_allclose(grad.ravel(), fd, atol=1e-7)
    assert np.abs(fd).max() > 1e-2  # the comparison is not between two zero vectors
    # the MVG with the true model is the policy gradient
    mvg_true = exact.boltzmann_gradient(mdp, pi, model_transitions=gw.transition_tensor())
    np.testing.assert_allclose(mvg_true.ravel(), fd, atol=1e-7)


def test_exact_gradient_tiny_mdp_finite_differences():
    from gamps.policies import BoltzmannPolicy

    mdp = tiny_mdp(3)
    policy = BoltzmannPolicy(3, 2)
    theta = np.random.default_rng(1).normal(size=6)
    fd = finite_difference_gradient(mdp, policy, theta)
    np.testing.assert_allclose(exact.boltzmann_gradient(mdp, policy.probs(theta)).ravel(), fd, 1e-7)


def test_exact_mvg_with_model_matches_eq2_enumeration():
    """Eq. 2 (finite horizon): sum_t gamma^t sum_{s,a} d_t(s, a) score(s, a) Q_t^{pi, p_hat}(s, a),
    with d_t from the true MDP and Q from the model, both by enumeration."""
    mdp = tiny_mdp(4)
    pi = random_pi(9)
    p_hat = np.random.default_rng(11).dirichlet(np.ones(3), size=(3, 2))
    d, *_ = brute_occupancies(mdp, pi, np.ones((3, 2)))
    q_hat = brute_q(mdp, pi, transitions=p_hat)
    expected = np.zeros((3, 2))
    for t in range(mdp.horizon):
        for s in range(3):
            for a in range(2):
                score = -pi[s].copy()
                score[a] += 1.0
                expected[s] += mdp.gamma**t * d[t, s, a] * score * q_hat[t, s, a]
    got = exact.boltzmann_gradient(mdp, pi, model_transitions=p_hat)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    # a wrong model gives a different direction from the true gradient
    assert not np.allclose(got, exact.boltzmann_gradient(mdp, pi), atol=1e-3)


# ---------------------------------------------------------------------------------------------
# Lemma 4.1: sample GAMPS weights converge to eta, the sample discounted frequencies to delta
# ---------------------------------------------------------------------------------------------


def ratio_estimate(batch, step_weights):
    """Normalised per-(s, a) accumulation of per-step weights, and its standard errors.

    The estimate is a ratio of means, sum_i X_i / sum_i W_i, with X_i in R^100 the weights of
    trajectory i accumulated per (s, a) and W_i = sum_j X_ij. The delta method gives the
    standard error of coordinate j: std_i(X_ij - est_j W_i) / (sqrt(N) mean_i W_i).
    """
    n, horizon = batch.mask.shape
    keep = batch.mask
    cells = (batch.states[:, :-1] * 4 + batch.actions)[keep]
    traj = np.broadcast_to(np.arange(n)[:, None], (n, horizon))[keep]
    x = sparse.csr_matrix((step_weights[keep], (traj, cells)), shape=(n, 100))
    w = np.asarray(x.sum(axis=1)).ravel()
    est = np.asarray(x.sum(axis=0)).ravel() / w.sum()
    # mean of (X_j - est_j W)^2 over trajectories, without densifying X
    second = (
        np.asarray(x.multiply(x).sum(axis=0)).ravel() - 2 * est * (x.T @ w) + est**2 * np.sum(w**2)
    ) / n
    se = np.sqrt(np.maximum(second, 0.0) / n) / w.mean()
    return est, se


def l1_tolerance(se):
    """E|Z_j| = 0.8 SE_j and sd|Z_j| <= 0.6 SE_j, so even for fully correlated coordinates the L1
    error exceeds 4 sum_j SE_j (more than 5 of its own standard deviations above its mean) with
    negligible probability; the bound scales as C / sqrt(N)."""
    return 4.0 * se.sum()


def gamps_sample_weights(domain, theta, batch, log_rho):
    norms = domain.policy.score_norm(theta, batch.states[:, :-1], batch.actions, q=2)
    return weights.gamps_weights(log_rho, norms, domain.gamma, batch.mask)


def score_norm_table(policy, theta):
    s, a = np.divmod(np.arange(100), 4)
    return policy.score_norm(theta, s, a, q=2).reshape(25, 4)


def test_lemma_4_1_on_policy_weights_converge_to_eta(domain, behaviour_theta):
    mdp, policy = domain.mdp, domain.policy
    pi = policy.probs(behaviour_theta)
    eta = exact.gradient_aware_occupancy(mdp, pi, score_norm_table(policy, behaviour_theta))
    delta = exact.discounted_occupancy(mdp, pi)
    assert eta.sum() == pytest.approx(1.0) and delta.sum() == pytest.approx(1.0)
    rng = np.random.default_rng(41)
    errors_eta, errors_delta = [], []
    for n in (1_000, 10_000, 100_000):
        batch = domain.collect(behaviour_theta, n, rng)
        on_policy = np.zeros(batch.mask.shape)  # rho = 1
        est_eta, se_eta = ratio_estimate(
            batch, gamps_sample_weights(domain, behaviour_theta, batch, on_policy)
        )
        discount = np.where(batch.mask, domain.gamma ** np.arange(domain.horizon), 0.0)
        est_delta, se_delta = ratio_estimate(batch, discount)
        # the pipeline's Figure 1 maps are exactly these normalised accumulations
        delta_map, eta_map = weight_maps(domain, behaviour_theta, batch, 2.0)
        np.testing.assert_allclose(delta_map.ravel(), est_delta, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(eta_map.ravel(), est_eta, rtol=1e-9, atol=1e-15)
        errors_eta.append(np.abs(est_eta - eta.ravel()).sum())
        errors_delta.append(np.abs(est_delta - delta.ravel()).sum())
        assert errors_eta[-1] <= l1_tolerance(se_eta), (n, errors_eta[-1], l1_tolerance(se_eta))
        assert errors_delta[-1] <= l1_tolerance(se_delta), (n, errors_delta[-1])
    # the error shrinks with N, roughly as 1 / sqrt(N) (a factor 10 for 100x more data)
    for errors in (errors_eta, errors_delta):
        assert errors[0] > errors[1] > errors[2]
        assert errors[2] < errors[0] / 4
    # the test can tell eta from delta: they are far apart compared with the sampling error
    assert np.abs(eta - delta).sum() > 20 * errors_eta[-1]
    # the qualitative effect of Figure 1: eta moves mass away from the lower area, where pi_b is
    # (almost) deterministic and its score (almost) zero
    lower = ~gw.is_upper(np.arange(25))
    assert eta[lower].sum() < delta[lower].sum()


def test_lemma_4_1_off_policy_weights_converge_to_target_eta(domain, behaviour_theta):
    mdp, policy = domain.mdp, domain.policy
    # target: pi_b with perturbed upper-area logits (identical in the lower area, so the
    # importance ratios stay bounded)
    perturb = np.random.default_rng(5).normal(0.0, 0.5, size=(25, 4))
    perturb[~gw.is_upper(np.arange(25))] = 0.0
    target = behaviour_theta + perturb.ravel()
    pi = policy.probs(target)
    eta_target = exact.gradient_aware_occupancy(mdp, pi, score_norm_table(policy, target))
    eta_behaviour = exact.gradient_aware_occupancy(
        mdp, policy.probs(behaviour_theta), score_norm_table(policy, behaviour_theta)
    )
    batch = domain.collect(behaviour_theta, 100_000, np.random.default_rng(43))
    log_rho = weights.log_importance_ratios(
        policy.log_prob(target, batch.states[:, :-1], batch.actions),
        batch.behaviour_log_prob,
        batch.mask,
    )
    est, se = ratio_estimate(batch, gamps_sample_weights(domain, target, batch, log_rho))
    error = np.abs(est - eta_target.ravel()).sum()
    assert error <= l1_tolerance(se), (error, l1_tolerance(se))
    # without the importance ratios the estimate is biased towards another distribution
    est_no_is, _ = ratio_estimate(
        batch, gamps_sample_weights(domain, target, batch, np.zeros(batch.mask.shape))
    )
    assert np.abs(est_no_is - eta_target.ravel()).sum() > l1_tolerance(se)
    assert np.abs(eta_target - eta_behaviour).sum() > l1_tolerance(se)
