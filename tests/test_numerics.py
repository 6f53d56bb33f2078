"""Numerical robustness of Algorithm 1: degenerate importance weights are reported (a column and
a log warning), and a non-finite return or gradient stops the run instead of becoming NaN."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from gamps import algorithms, weights

N = 100


@pytest.fixture(scope="module")
def batch(domain, behaviour_theta):
    return domain.collect(behaviour_theta, N, np.random.default_rng(1))


def run(domain, batch, theta0, **settings):
    settings = algorithms.Settings(**{"iterations": 2, "step_size": 1.0, **settings})
    return algorithms.batch_policy_search(
        domain, "pgt", batch, theta0, settings, np.random.default_rng(0)
    )


@pytest.mark.parametrize(
    ("ess", "n", "fraction", "expected"),
    [
        (2.0, 100, 0.05, True),
        (5.0, 100, 0.05, False),  # at the threshold: not degenerate
        (80.0, 100, 0.05, False),
        (0.0, 10, 0.05, True),  # every weight underflowed
        (float("nan"), 10, 0.05, True),  # never silently passed as fine
        (0.0, 10, 0.0, False),  # fraction 0 turns the flag off
    ],
)
def test_is_degenerate(ess, n, fraction, expected):
    assert algorithms.is_degenerate(ess, n, fraction) is expected


def test_on_policy_weights_are_not_degenerate(domain, batch, behaviour_theta, caplog):
    with caplog.at_level(logging.WARNING, logger="gamps.algorithms"):
        records = run(domain, batch, behaviour_theta)
    assert records[0]["ess"] == pytest.approx(N)
    assert not records[0]["degenerate"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "k=0" in r.message]


def test_degenerate_weights_are_flagged_and_logged(domain, batch, caplog):
    """The uniform policy is far from pi_b (near-deterministic in the lower area): a couple of
    trajectories carry all the weight."""
    theta = np.zeros(domain.policy.dim)
    ess = weights.effective_sample_size(algorithms.log_ratios(domain, theta, batch)[:, -1])
    assert ess < 0.05 * N
    with caplog.at_level(logging.WARNING, logger="gamps.algorithms"):
        records = run(domain, batch, theta)
    assert [r["degenerate"] for r in records] == [True, True, True]
    assert all(np.isfinite(r["ess"]) and np.isfinite(r["return"]) for r in records)
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert warnings[0].startswith("pgt k=0: degenerate importance weights, ESS 2.")
    assert "0.05 x N = 5" in warnings[0]
    # the same run with the flag turned off: same numbers, no flag
    quiet = run(domain, batch, theta, degenerate_ess_fraction=0.0)
    assert [r["ess"] for r in quiet] == [r["ess"] for r in records]
    assert not any(r["degenerate"] for r in quiet)


def test_effective_sample_size_of_nan_weights_is_nan_and_degenerate():
    ess = weights.effective_sample_size(np.array([0.0, np.nan, -1.0]))
    assert np.isnan(ess)
    assert algorithms.is_degenerate(ess, 3, 0.05)


def test_non_finite_gradient_stops_the_run(domain, batch, behaviour_theta, monkeypatch):
    def overflowing(log_rho, rewards, gamma, mask):
        return np.full(mask.shape, np.inf)

    pgt = dataclasses.replace(algorithms.REGISTRY["pgt"], coefficients=overflowing)
    monkeypatch.setitem(algorithms.REGISTRY, "pgt", pgt)
    with (
        np.errstate(invalid="ignore"),
        pytest.raises(FloatingPointError, match=r"pgt: gradient at theta_0 .*not finite"),
    ):
        run(domain, batch, behaviour_theta)


def test_non_finite_return_stops_the_run(domain, batch, behaviour_theta, monkeypatch):
    monkeypatch.setattr(domain, "evaluate", lambda theta, rng=None: {"return": np.nan})
    with pytest.raises(FloatingPointError, match="evaluation of theta_0: return is not finite"):
        run(domain, batch, behaviour_theta)
