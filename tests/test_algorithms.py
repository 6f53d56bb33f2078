"""Algorithm 1 (gamps.algorithms): the registry, the model fit and one gradient estimate on the
gridworld, and the loop's numerical robustness: degenerate importance weights are reported (a
column and a log warning), and a non-finite return or gradient stops the run instead of becoming
NaN."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml
from fixtures import reference_mvg, reference_pgt, reference_reinforce

from gamps import algorithms, experiment, gradient_check, gradients, io, weights
from gamps.domains.gridworld.model import ActionEffectModel

ROOT = Path(__file__).resolve().parents[1]

N = 100


@pytest.fixture(scope="module")
def batch(domain, behaviour_theta):
    return domain.collect(behaviour_theta, N, np.random.default_rng(1))


def run(domain, batch, theta0, **settings):
    settings = algorithms.Settings(**{"iterations": 2, "step_size": 1.0, **settings})
    return algorithms.batch_policy_search(
        domain, "pgt", batch, theta0, settings, np.random.default_rng(0)
    )


# ---------------------------------------------------------------------------------------------
# The registry, the model fit and one gradient estimate
# ---------------------------------------------------------------------------------------------


def test_registry_order_labels_and_unknown_names():
    assert algorithms.ALGORITHMS == ("gamps", "ml", "reinforce", "pgt")
    assert algorithms.MODEL_BASED == ("gamps", "ml")
    assert [algorithms.label(a) for a in algorithms.ALGORITHMS] == [
        "GAMPS",
        "ML",
        "REINFORCE",
        "PGT",
    ]
    assert algorithms.label("other") == "other"
    with pytest.raises(ValueError, match="unknown algorithm 'sgd'"):
        algorithms.get("sgd")
    with pytest.raises(ValueError, match="learns no model"):
        algorithms.model_weights(None, "pgt", None, None, None, 2.0)


def _enums(node):
    """Every ``enum`` list of a JSON schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum":
                yield value
            else:
                yield from _enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _enums(value)


def test_the_schema_accepts_exactly_the_registered_algorithms():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    lists = [e for e in _enums(schema) if "gamps" in e]
    assert lists, "the schema has no enum of algorithm names"
    assert all(list(e) == list(algorithms.ALGORITHMS) for e in lists)


def test_a_fifth_algorithm_is_one_registry_entry(domain, monkeypatch):
    """A per-decision estimator without importance ratios, added by one entry, runs Algorithm 1
    through the pipeline's own entry point and differs from PGT off-policy."""

    def no_ratios(log_rho, rewards, gamma, mask):
        return gradients.pgt_coefficients(np.zeros_like(log_rho), rewards, gamma, mask)

    entry = algorithms.Algorithm("pgt_noratio", "PGT (no ratios)", no_ratios)
    monkeypatch.setitem(algorithms.REGISTRY, entry.name, entry)
    config = {
        **domain.defaults(),
        "iterations": 3,
        "step_size": 1.0,
        "q_norm": 2.0,
        "baseline": "none",
        "ess_stop_fraction": 0.0,
        "degenerate_ess_fraction": 0.05,
    }
    batch = experiment.collect_dataset("gridworld", config, 50, seed=0)
    new = experiment.train("gridworld", config, "pgt_noratio", batch)
    pgt = experiment.train("gridworld", config, "pgt", batch)
    assert [r["algorithm"] for r in new] == ["pgt_noratio"] * 4
    assert new[0]["return"] == pgt[0]["return"]  # the same start, pi_b
    assert new[1]["return"] == pgt[1]["return"]  # on-policy first step: every ratio is 1
    assert new[2]["return"] != pgt[2]["return"]
    assert algorithms.label("pgt_noratio") == "PGT (no ratios)"
    assert not dataclasses.replace(entry).model_based


def test_fit_model_is_the_weighted_fit_on_every_valid_transition(domain, batch, behaviour_theta):
    """Line 4 of Algorithm 1: ML weighs every observed transition 1 (whatever theta), GAMPS by
    Eq. 3; a model-free algorithm has no model weights."""
    theta = behaviour_theta + np.random.default_rng(4).normal(0.0, 0.3, size=behaviour_theta.size)
    log_rho = algorithms.log_ratios(domain, theta, batch)
    keep = batch.mask
    s, a, s_next = batch.states[:, :-1][keep], batch.actions[keep], batch.states[:, 1:][keep]
    ml = algorithms.fit_model(domain, "ml", theta, batch, log_rho, 2.0)
    np.testing.assert_array_equal(
        ml.effect_probs, ActionEffectModel().fit(s, a, s_next, np.ones(s.size)).effect_probs
    )
    omega = weights.gamps_weights(
        log_rho, domain.score_norms(theta, batch, 2.0), domain.gamma, batch.mask
    )
    np.testing.assert_array_equal(
        algorithms.model_weights(domain, "gamps", theta, batch, log_rho, 2.0), omega
    )
    gamps = algorithms.fit_model(domain, "gamps", theta, batch, log_rho, 2.0)
    np.testing.assert_allclose(
        gamps.effect_probs, ActionEffectModel().fit(s, a, s_next, omega[keep]).effect_probs
    )
    assert not np.allclose(gamps.effect_probs, ml.effect_probs)
    with pytest.raises(ValueError, match="learns no model"):
        algorithms.model_weights(domain, "pgt", theta, batch, log_rho, 2.0)


@pytest.mark.parametrize("algorithm", algorithms.ALGORITHMS)
def test_estimate_gradient_is_the_reference_estimator(domain, batch, behaviour_theta, algorithm):
    """Lines 2-9 of Algorithm 1 at an off-policy theta: the coefficient form contracted by the
    policy is the reference estimator on the explicit scores, with Q^{pi, p_hat} of the model it
    fitted for the model-based algorithms."""
    theta = behaviour_theta + np.random.default_rng(5).normal(0.0, 0.3, size=behaviour_theta.size)
    grad, model = algorithms.estimate_gradient(
        domain, algorithm, theta, batch, 2.0, np.random.default_rng(0)
    )
    states, actions = batch.states[:, :-1], batch.actions
    score = domain.policy.score(theta, states, actions)
    log_rho = weights.log_importance_ratios(
        domain.policy.log_prob(theta, states, actions), batch.behaviour_log_prob, batch.mask
    )
    if algorithm in algorithms.MODEL_BASED:
        fitted = algorithms.fit_model(domain, algorithm, theta, batch, log_rho, 2.0)
        np.testing.assert_array_equal(model.effect_probs, fitted.effect_probs)
        q = domain.q_values(model, theta, batch)
        expected = reference_mvg(score, log_rho, q, domain.gamma, batch.mask)
    else:
        assert model is None
        reference = {"reinforce": reference_reinforce, "pgt": reference_pgt}[algorithm]
        expected = reference(score, log_rho, batch.rewards, domain.gamma, batch.mask)
    assert np.abs(expected).max() > 1e-3
    np.testing.assert_allclose(grad, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())


# ---------------------------------------------------------------------------------------------
# Degenerate importance weights and non-finite values
# ---------------------------------------------------------------------------------------------


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


def test_footnote_5_can_stop_a_run_at_theta_0_and_the_run_then_has_no_gradient(domain, tmp_path):
    """The rule stops as soon as the trajectory ESS is below the fraction of N, at k = 0 too (as
    on minigolf, whose pi_b is wider than pi_theta_0, so that its ESS starts below N): the run
    keeps theta_0 for every iteration and computes no gradient, which the check refuses."""
    config = {
        **domain.defaults(),
        "iterations": 3,
        "step_size": 1.0,
        "q_norm": 2.0,
        "baseline": "none",
        "ess_stop_fraction": 1.5,  # on-policy ESS is N < 1.5 N: stop at once
        "degenerate_ess_fraction": 0.05,
    }
    batch = experiment.collect_dataset("gridworld", config, 20, seed=0)
    path: list = []
    trace: list = []
    records = experiment.train(
        "gridworld", config, "gamps", batch, trace=path, gradient_trace=trace
    )
    assert trace == [] and [r["stopped"] for r in records] == [True] * 4
    assert len({r["return"] for r in records}) == 1
    assert all(np.array_equal(theta, path[0]) for theta in path)
    moving = experiment.train("gridworld", config | {"ess_stop_fraction": 0.0}, "gamps", batch)
    assert moving[-1]["return"] != records[-1]["return"]
    io.write_records(records, tmp_path / "run.csv")
    io.save_array([], tmp_path / "gradient0.npy")  # what the train rule writes then
    with pytest.raises(ValueError, match="computed no gradient"):
        gradient_check.run_inputs([tmp_path / "run.csv"], [tmp_path / "gradient0.npy"], [])
