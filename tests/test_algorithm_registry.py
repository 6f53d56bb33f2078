"""The algorithm registry (gamps.algorithms.REGISTRY): labels, the model-based set, the schema's
list of algorithm names and Algorithm 1's dispatch all derive from it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from gamps import algorithms, experiment, gradients

ROOT = Path(__file__).resolve().parents[1]


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


def test_registry_derivations():
    assert algorithms.ALGORITHMS == ("gamps", "ml", "reinforce", "pgt")
    assert algorithms.MODEL_BASED == ("gamps", "ml")
    assert [algorithms.label(a) for a in algorithms.ALGORITHMS] == [
        "GAMPS",
        "ML",
        "REINFORCE",
        "PGT",
    ]
    assert algorithms.label("other") == "other"
    with pytest.raises(ValueError, match="unknown algorithm 'sac'"):
        algorithms.get("sac")
    with pytest.raises(ValueError, match="learns no model"):
        algorithms.model_weights(None, "pgt", None, None, None, 2.0)


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
