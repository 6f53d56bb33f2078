"""Importance ratios, the GAMPS weights of Eq. 3, the effective sample size and the per-(s, a)
weight maps (gamps.weights), against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import random_log_batch

from gamps import weights


def test_log_importance_ratios_brute_force():
    target, behaviour, mask = random_log_batch()
    n, horizon = mask.shape
    brute = np.ones((n, horizon))
    for i in range(n):
        for t in range(horizon):
            prod = 1.0
            for step in range(t + 1):
                if mask[i, step]:
                    prod *= np.exp(target[i, step]) / np.exp(behaviour[i, step])
            brute[i, t] = prod
    got = weights.log_importance_ratios(target, behaviour, mask)
    assert got.shape == (n, horizon)
    np.testing.assert_allclose(np.exp(got), brute, rtol=1e-12)
    # the last column is the whole-trajectory ratio
    whole = [np.prod(np.exp(target[i] - behaviour[i])[mask[i]]) for i in range(n)]
    np.testing.assert_allclose(np.exp(got[:, -1]), whole, rtol=1e-12)
    # an empty trajectory has ratio 1
    assert got[5, -1] == 0.0


def test_gamps_weights_brute_force():
    target, behaviour, mask = random_log_batch(seed=3)
    norms = np.random.default_rng(4).uniform(0.0, 1.5, size=mask.shape)
    gamma = 0.7
    log_rho = weights.log_importance_ratios(target, behaviour, mask)
    n, horizon = mask.shape
    brute = np.zeros((n, horizon))
    for i in range(n):
        for t in range(horizon):
            if not mask[i, t]:
                continue
            rho = np.prod([np.exp(target[i, k] - behaviour[i, k]) for k in range(t + 1)])
            brute[i, t] = gamma**t * rho * sum(norms[i, k] for k in range(t + 1))
    log_w = weights.log_gamps_weights(log_rho, norms, gamma, mask)
    np.testing.assert_allclose(np.exp(log_w), brute, rtol=1e-12)
    assert np.all(np.isneginf(log_w[~mask]))
    w = weights.gamps_weights(log_rho, norms, gamma, mask)
    np.testing.assert_allclose(w, brute / brute.max(), rtol=1e-12)
    assert w.max() == 1.0


def test_gamps_weights_finite_for_extreme_ratios():
    mask = np.ones((3, 4), dtype=bool)
    log_rho = np.array([[800.0] * 4, [700.0] * 4, [-900.0] * 4])
    norms = np.ones((3, 4))
    w = weights.gamps_weights(log_rho, norms, 0.9, mask)
    assert np.all(np.isfinite(w)) and w.max() == 1.0
    assert np.all(w[1:] < 1e-40)
    # nothing observed: all zero, no NaN
    empty = weights.gamps_weights(log_rho, norms, 0.9, np.zeros((3, 4), dtype=bool))
    np.testing.assert_array_equal(empty, 0.0)


def test_effective_sample_size():
    assert weights.effective_sample_size(np.zeros(50)) == pytest.approx(50.0)
    assert weights.effective_sample_size(np.array([0.0, -800.0, -900.0])) == pytest.approx(1.0)
    log_w = np.log(np.array([1.0, 2.0, 3.0, 4.0]))
    assert weights.effective_sample_size(log_w) == pytest.approx(100 / 30)
    assert weights.effective_sample_size(np.array([-np.inf, -np.inf])) == 0.0


def test_state_action_map_brute_force():
    rng = np.random.default_rng(6)
    _, _, mask = random_log_batch(seed=6)
    states = rng.integers(3, size=mask.shape)
    actions = rng.integers(2, size=mask.shape)
    step_weights = rng.uniform(0.0, 2.0, size=mask.shape)
    brute = np.zeros((3, 2))
    for i, t in zip(*np.nonzero(mask), strict=True):
        brute[states[i, t], actions[i, t]] += step_weights[i, t]
    got = weights.state_action_map(states, actions, step_weights, mask, (3, 2))
    np.testing.assert_allclose(got, brute / brute.sum(), rtol=1e-12)
    # padded steps never count, and no weight at all gives zeros (not NaN)
    garbage = np.where(mask, step_weights, 1e6)
    np.testing.assert_allclose(
        weights.state_action_map(states, actions, garbage, mask, (3, 2)), got
    )
    empty = weights.state_action_map(states, actions, np.zeros(mask.shape), mask, (3, 2))
    np.testing.assert_array_equal(empty, 0.0)
