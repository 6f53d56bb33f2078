"""The domain registry and contract (gamps.domains): every environment declares its config keys
once, satisfies the Domain contract, and a new environment plugs in through the registry alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from gamps import algorithms, exact, experiment
from gamps.data import TrajectoryBatch
from gamps.domains import DOMAIN_KEYS, REGISTRY, Domain, make_domain, register
from gamps.models import TransitionModel, check_weights
from gamps.policies import BoltzmannPolicy, Policy
from gamps.value import finite_horizon_q

ROOT = Path(__file__).resolve().parents[1]
PAPER_CONFIG = yaml.safe_load((ROOT / "config/config.yaml").read_text())
PAPER_DOMAINS = ("gridworld", "minigolf", "swimmer")


@pytest.mark.parametrize("env", PAPER_DOMAINS)
def test_constructor_defaults_are_the_paper_scale_config(env):
    """One declaration: the constructor's keyword defaults are the values of config/config.yaml,
    so a domain built from Python and one built by the pipeline are the same domain."""
    cls = REGISTRY[env]
    assert DOMAIN_KEYS[env] == cls.config_keys()
    assert cls.defaults() == {key: _as_python(PAPER_CONFIG[env][key]) for key in DOMAIN_KEYS[env]}


def _as_python(value):
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize("env", PAPER_DOMAINS)
def test_every_paper_domain_implements_the_contract(env):
    domain = make_domain(env)
    assert isinstance(domain, Domain)
    assert domain.name == env
    assert 0 < domain.gamma < 1 and domain.horizon > 0
    assert isinstance(domain.policy, Policy)
    assert isinstance(domain.make_model(), TransitionModel)


def test_unknown_environment_and_bad_registration_are_rejected():
    with pytest.raises(ValueError, match="unknown environment 'chess'.*gridworld"):
        make_domain("chess")
    with pytest.raises(TypeError, match="not a subclass"):
        register(dict, "chess")
    assert "chess" not in DOMAIN_KEYS


def test_a_domain_missing_a_method_cannot_be_built():
    class Incomplete(Domain):
        name = "incomplete"

        def __init__(self, gamma: float = 0.9):
            self.gamma = gamma

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


# ---------------------------------------------------------------------------------------------
# A new environment through the public registry: a two-state chain
# ---------------------------------------------------------------------------------------------


class TabularModel:
    """p_hat(s' | s, a) by weighted counting (the MLE of Eq. 3 for a tabular class)."""

    def __init__(self, n_states: int, n_actions: int):
        self.p = np.full((n_states, n_actions, n_states), 1.0 / n_states)

    def warm_start(self, previous):
        return self

    def fit(self, states, actions, next_states, weights, groups=None):
        counts = np.zeros_like(self.p)
        np.add.at(counts, (states, actions, next_states), check_weights(weights))
        total = counts.sum(axis=-1, keepdims=True)
        self.p = np.where(total > 0, counts / np.where(total > 0, total, 1.0), self.p)
        return self

    def sample(self, states, actions, rng):
        cdf = np.cumsum(self.p[states, actions], axis=-1)
        return (rng.random(np.shape(states) + (1,)) > cdf).sum(-1)

    def log_prob(self, states, actions, next_states):
        return np.log(self.p[states, actions, next_states])


class ChainDomain(Domain):
    """Two states; action 1 moves to (or stays in) state 1 with probability ``p_move``, where
    every step pays 1; action 0 stays put. The best policy always takes action 1."""

    name = "chain"

    def __init__(self, gamma: float = 0.9, horizon: int = 6, p_move: float = 0.8):
        self.gamma, self.horizon = gamma, horizon
        self.policy = BoltzmannPolicy(2, 2)
        p = np.zeros((2, 2, 2))
        p[:, 0, :] = np.eye(2)
        p[:, 1, 1], p[:, 1, 0] = p_move, 1 - p_move
        reward = np.array([[0.0, 0.0], [1.0, 1.0]])
        self.mdp = exact.FiniteMDP(
            p, reward, np.array([1.0, 0.0]), np.zeros(2, bool), gamma, horizon
        )

    def behaviour_parameters(self, rng):
        return rng.normal(0.0, 0.1, size=self.policy.dim)

    def collect(self, theta, n, rng):
        states = np.zeros((n, self.horizon + 1), dtype=np.int64)
        actions = np.zeros((n, self.horizon), dtype=np.int64)
        for t in range(self.horizon):
            actions[:, t] = self.policy.sample(theta, states[:, t], rng)
            cdf = np.cumsum(self.mdp.transitions[states[:, t], actions[:, t]], axis=-1)
            states[:, t + 1] = (rng.random((n, 1)) > cdf).sum(-1)
        rewards = self.mdp.reward[states[:, :-1], actions]
        log_prob = self.policy.log_prob(theta, states[:, :-1], actions)
        mask = np.ones((n, self.horizon), dtype=bool)
        return TrajectoryBatch(states, actions, rewards, mask, log_prob)

    def make_model(self):
        return TabularModel(2, 2)

    def q_values(self, model, theta, batch, rng=None):
        q = finite_horizon_q(
            model.p,
            self.mdp.reward,
            self.policy.probs(theta),
            self.gamma,
            self.horizon,
            self.mdp.terminal,
        )
        return q[np.arange(batch.horizon)[None, :], batch.states[:, :-1], batch.actions]

    def evaluate(self, theta, rng=None):
        return {"return": exact.performance(self.mdp, self.policy.probs(theta))}


@pytest.fixture
def chain_registered():
    register(ChainDomain)
    yield
    del REGISTRY["chain"]


def test_a_new_environment_runs_algorithm_1_through_the_registry(chain_registered):
    config = {
        **ChainDomain.defaults(),
        "iterations": 15,
        "step_size": 1.0,
        "q_norm": 2.0,
        "baseline": "none",
        "ess_stop_fraction": 0.0,
        "degenerate_ess_fraction": 0.05,
    }
    assert DOMAIN_KEYS["chain"] == ("gamma", "horizon", "p_move")
    batch = experiment.collect_dataset("chain", config, 300, seed=0)
    assert batch.meta["domain"] == ChainDomain.defaults()
    for algorithm in algorithms.ALGORITHMS:
        records = experiment.train("chain", config, algorithm, batch)
        returns = [r["return"] for r in records]
        assert len(records) == 16 and records[0]["algorithm"] == algorithm
        # the state-aware tabular model is well specified: every algorithm learns to move
        assert returns[-1] > returns[0] + 0.5, (algorithm, returns[0], returns[-1])
    # a domain without state values cannot use the state baseline, and says so
    with pytest.raises(NotImplementedError, match="the chain domain gives no state values"):
        experiment.train("chain", config | {"baseline": "state"}, "gamps", batch)
