"""Line 10 of Algorithm 1 and its readings: plain, normalised and Adam steps in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import ROOT

from gamps import algorithms, experiment, tuning
from gamps.ascent import ADAM_EPS, Ascent
from gamps.domains import make_domain
from gamps.settings import load_config

G1 = np.array([3.0, -4.0, 0.0])
G2 = np.array([1.0, 2.0, -2.0])


def test_plain_step_is_alpha_times_the_gradient():
    theta = np.array([0.5, 0.5, 0.5])
    assert np.array_equal(Ascent("plain", 0.1).step(theta, G1), theta + 0.1 * G1)


def test_normalised_step_has_length_alpha_along_the_gradient():
    ascent = Ascent("normalised", 0.3)
    step = ascent.step(np.zeros(3), G1)
    assert np.linalg.norm(step) == pytest.approx(0.3)
    assert np.allclose(step, 0.3 * G1 / 5.0)
    assert np.array_equal(ascent.step(np.ones(3), np.zeros(3)), np.ones(3))


def test_adam_steps_match_their_closed_form():
    """Kingma and Ba's bias-corrected moments: the first step is alpha g / (|g| + eps); the
    second uses m = 0.1 (0.9 g1 + g2) / 0.19 and v = 0.001 (0.999 g1^2 + g2^2) / 0.001999."""
    ascent = Ascent("adam", 0.01)
    first = ascent.step(np.zeros(3), G1)
    assert np.allclose(first, 0.01 * G1 / (np.abs(G1) + ADAM_EPS))
    second = ascent.step(first, G2) - first
    m_hat = (0.9 * 0.1 * G1 + 0.1 * G2) / (1 - 0.9**2)
    v_hat = (0.999 * 0.001 * G1**2 + 0.001 * G2**2) / (1 - 0.999**2)
    assert np.allclose(second, 0.01 * m_hat / (np.sqrt(v_hat) + ADAM_EPS))


def test_unknown_update_rule_is_rejected():
    with pytest.raises(ValueError, match="unknown update rule 'momentum'"):
        Ascent("momentum", 0.1)


@pytest.mark.parametrize("update", ["plain", "normalised", "adam"])
def test_each_run_takes_its_rule_and_its_algorithms_step(update):
    """Algorithm 1 moves theta by exactly the rule's step of its algorithm's alpha."""
    config = load_config(ROOT / "config/config.yaml", ROOT / "config/smoke.yaml")["gridworld"]
    batch = experiment.collect_dataset("gridworld", config, 10, 3)
    alphas = {"gamps": 0.5, "ml": 0.25, "reinforce": 2.0, "pgt": 1.0}
    domain = make_domain("gridworld", experiment.domain_params("gridworld", config))
    for algorithm, alpha in alphas.items():
        path: list = []
        settings = config | {"update": update, "step_size": alphas, "iterations": 1}
        experiment.train("gridworld", settings, algorithm, batch, trace=path)
        grad, _ = algorithms.estimate_gradient(
            domain, algorithm, path[0], batch, config["q_norm"], experiment.rng(3, 2, 10)
        )
        assert np.allclose(path[1], Ascent(update, alpha).step(path[0], grad))


def test_a_mapping_without_the_algorithm_or_an_unresolved_tuned_fails_clearly():
    with pytest.raises(ValueError, match="no step for 'pgt'"):
        experiment.step_size_of({"gamps": 1.0}, "pgt")
    with pytest.raises(ValueError, match="of an unknown environment"):
        experiment.step_size_of("tuned", "gamps")
    selected = tuning.tuned_step_sizes("gridworld", "adam", ["pgt"])["pgt"]
    assert experiment.step_size_of("tuned", "pgt", "gridworld", "adam") == selected
    assert experiment.step_size_of(3, "gamps") == 3.0
