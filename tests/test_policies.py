"""Policies (gamps.policies): the tabular Boltzmann policy and its closed-form score norms, radial
basis features and the linear Gaussian policy. Log-probabilities in closed form, scores against
finite differences of log_prob, score norms and contractions against the explicit scores (the
``score`` methods are the references of ``score_norm`` and ``score_dot``), sampling frequencies.
"""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import sample_std_se

from gamps.policies import GaussianPolicy, RadialBasis

# ---------------------------------------------------------------------------------------------
# BoltzmannPolicy
# ---------------------------------------------------------------------------------------------


def test_probs_and_log_prob(policy, generic_theta):
    probs = policy.probs(generic_theta)
    assert probs.shape == (25, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    table = generic_theta.reshape(25, 4)
    np.testing.assert_allclose(probs[3], np.exp(table[3]) / np.exp(table[3]).sum())
    states = np.array([[0, 7, 24], [13, 13, 1]])
    actions = np.array([[3, 0, 2], [1, 2, 0]])
    np.testing.assert_allclose(
        policy.log_prob(generic_theta, states, actions), np.log(probs)[states, actions]
    )


def test_score_matches_finite_differences_of_log_prob(policy, generic_theta):
    rng = np.random.default_rng(0)
    states = rng.integers(25, size=(3, 4))
    actions = rng.integers(4, size=(3, 4))
    score = policy.score(generic_theta, states, actions)
    assert score.shape == (3, 4, 100)
    eps = 1e-6
    fd = np.zeros_like(score)
    for i in range(100):
        step = np.zeros(100)
        step[i] = eps
        fd[..., i] = (
            policy.log_prob(generic_theta + step, states, actions)
            - policy.log_prob(generic_theta - step, states, actions)
        ) / (2 * eps)
    np.testing.assert_allclose(score, fd, atol=1e-8)
    # the score lives on the row of the visited state only
    rows = np.arange(100) // 4
    assert np.all(score[rows[None, None, :] != states[..., None]] == 0.0)


@pytest.mark.parametrize("q", [1.0, 2.0, np.inf])
def test_score_norm_is_norm_of_score(policy, generic_theta, q):
    rng = np.random.default_rng(1)
    states = rng.integers(25, size=(50, 20))
    actions = rng.integers(4, size=(50, 20))
    expected = np.linalg.norm(policy.score(generic_theta, states, actions), ord=q, axis=-1)
    np.testing.assert_allclose(policy.score_norm(generic_theta, states, actions, q=q), expected)


def test_score_norm_vanishes_for_deterministic_lower_area(policy, behaviour_theta):
    lower = np.arange(10, 25)
    greedy = np.argmax(policy.probs(behaviour_theta)[lower], axis=1)
    assert np.all(policy.score_norm(behaviour_theta, lower, greedy) < 1e-4)
    upper = np.arange(1, 10)
    assert np.all(policy.score_norm(behaviour_theta, upper, np.zeros(9, int)) > 1e-2)


def test_score_dot_is_contraction(policy, generic_theta):
    """score_dot contracts per-sample coefficients with the scores without building them; states
    repeat, so several samples add to the same row."""
    rng = np.random.default_rng(3)
    states = rng.integers(25, size=(6, 7))
    actions = rng.integers(4, size=(6, 7))
    coef = rng.normal(size=(6, 7))
    expected = np.einsum("nt,ntd->d", coef, policy.score(generic_theta, states, actions))
    got = policy.score_dot(generic_theta, states, actions, coef)
    assert got.shape == (100,)
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-12)


def test_sample_frequencies_match_probs(policy, generic_theta):
    n = 20_000
    states = np.repeat(np.arange(25), n)
    actions = policy.sample(generic_theta, states, np.random.default_rng(2))
    assert actions.shape == states.shape
    assert actions.min() >= 0 and actions.max() <= 3
    freq = np.stack([np.bincount(actions[states == s], minlength=4) for s in range(25)]) / n
    p = policy.probs(generic_theta)
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n))  # binomial CLT, 5 SE
    # batched shapes are kept
    assert policy.sample(generic_theta, np.zeros((3, 2), int), np.random.default_rng(0)).shape == (
        3,
        2,
    )


# ---------------------------------------------------------------------------------------------
# RadialBasis and GaussianPolicy
# ---------------------------------------------------------------------------------------------


CENTRES = (0, 4, 8, 12, 16, 20)


def test_radial_basis_values_and_shapes():
    rbf = RadialBasis(CENTRES, 4.0)
    assert rbf.dim == 6
    phi = rbf(np.array([[4.0], [6.0]]))
    assert phi.shape == (2, 6)
    assert phi[0, 1] == 1.0 and phi[0, 2] == pytest.approx(np.exp(-0.5))
    np.testing.assert_allclose(phi[1], np.exp(-((6.0 - np.array(CENTRES)) ** 2) / 32.0))
    # a trailing feature axis of size 1 and a bare scalar state give the same features
    x = np.random.default_rng(0).uniform(0, 20, size=(3, 5))
    np.testing.assert_array_equal(rbf(x[..., None]), rbf(x))
    assert rbf(x[..., None]).shape == (3, 5, 6)


@pytest.fixture(params=[1, 2], ids=["1d-action", "2d-action"])
def gaussian_setup(request):
    action_dim = request.param
    policy = GaussianPolicy(RadialBasis(CENTRES, 4.0), action_dim, std=0.7)
    rng = np.random.default_rng(10 + action_dim)
    theta = rng.normal(size=policy.dim)
    states = rng.uniform(0, 20, size=(4, 5, 1))
    actions = rng.normal(1.0, 2.0, size=(4, 5, action_dim))
    return policy, theta, states, actions


def test_gaussian_log_prob_closed_form(gaussian_setup):
    policy, theta, states, actions = gaussian_setup
    mean = np.einsum("...f,fa->...a", RadialBasis(CENTRES, 4.0)(states), theta.reshape(6, -1))
    expected = np.sum(
        -0.5 * ((actions - mean) / 0.7) ** 2 - np.log(0.7 * np.sqrt(2 * np.pi)), axis=-1
    )
    np.testing.assert_allclose(policy.log_prob(theta, states, actions), expected, rtol=1e-12)


def test_gaussian_score_matches_finite_differences(gaussian_setup):
    policy, theta, states, actions = gaussian_setup
    score = policy.score(theta, states, actions)
    assert score.shape == (4, 5, policy.dim)
    h = 1e-6
    fd = np.zeros_like(score)
    for i in range(policy.dim):
        step = np.zeros(policy.dim)
        step[i] = h
        fd[..., i] = (
            policy.log_prob(theta + step, states, actions)
            - policy.log_prob(theta - step, states, actions)
        ) / (2 * h)
    np.testing.assert_allclose(score, fd, atol=1e-6)


@pytest.mark.parametrize("q", [1.0, 2.0, np.inf])
def test_gaussian_score_norm_is_norm_of_score(gaussian_setup, q):
    policy, theta, states, actions = gaussian_setup
    expected = np.linalg.norm(policy.score(theta, states, actions), ord=q, axis=-1)
    got = policy.score_norm(theta, states, actions, q=q)
    assert got.shape == (4, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_gaussian_score_dot_is_contraction(gaussian_setup):
    policy, theta, states, actions = gaussian_setup
    coef = np.random.default_rng(3).normal(size=(4, 5))
    expected = np.einsum("nt,ntd->d", coef, policy.score(theta, states, actions))
    np.testing.assert_allclose(policy.score_dot(theta, states, actions, coef), expected, rtol=1e-11)


def test_gaussian_sample_moments(gaussian_setup):
    policy, theta, states, _ = gaussian_setup
    n = 20_000
    s = np.broadcast_to(np.array([[1.0], [9.5], [17.0]])[:, None, :], (3, n, 1))
    samples = policy.sample(theta, s, np.random.default_rng(4))
    assert samples.shape == (3, n, policy.action_dim)
    mean = policy.mean(theta, s[:, :1])  # [3, 1, da]
    assert np.all(np.abs(samples.mean(axis=1) - mean[:, 0]) <= 5 * 0.7 / np.sqrt(n))
    assert np.all(np.abs(samples.std(axis=1) - 0.7) <= 5 * sample_std_se(0.7, 0.0, n))
