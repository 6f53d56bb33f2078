"""The gridworld's readings of Section 7.1 (config keys ``layout``, ``initial_states`` and
``model_knows_walls``): each changes what it should and nothing else; the defaults are the paper's
reading of REPLICATION_SPEC.md and reproduce the committed runs; the walls-aware model's censored
MLE is the MLE; the ``walled`` layout's eta leaves the lower area; bad values fail validation."""

from __future__ import annotations

import warnings

import gymnasium as gym
import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml
from fixtures import ROOT
from gymnasium.utils.env_checker import check_env
from scipy.optimize import minimize

import gamps.envs  # noqa: F401  (registers the environment)
from gamps import algorithms, bias, data, exact, experiment, settings
from gamps.domains.gridworld import GridworldDomain
from gamps.domains.gridworld import censored as cz
from gamps.domains.gridworld import dynamics as gw
from gamps.domains.gridworld import gradient_bias as gb
from gamps.domains.gridworld.env import TwoAreasGridworld
from gamps.domains.gridworld.figure1 import lower_area_mass, weight_maps
from gamps.domains.gridworld.model import ActionEffectModel, WallAwareEffectModel
from gamps.envs import GRIDWORLD_ID

UP, DOWN, LEFT, RIGHT, STAY = range(5)
READINGS = [(layout, mu) for layout in gw.LAYOUTS for mu in gw.INITIAL_STATES]
CONFIG = settings.load_config(ROOT / "config/config.yaml")["gridworld"]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
NEW_KEYS = ("layout", "initial_states", "model_knows_walls")


def s(row: int, col: int) -> int:
    return row * 5 + col


def reachable(layout: gw.Layout) -> np.ndarray:
    """The states any policy can reach from mu's support."""
    seen = layout.mu > 0
    for _ in range(gw.N_STATES):
        seen = seen | np.isin(np.arange(gw.N_STATES), layout.next_state[seen])
    return seen


# ---------------------------------------------------------------------------------------------
# Defaults: the paper's reading, unchanged
# ---------------------------------------------------------------------------------------------


def test_config_and_domain_defaults_are_the_paper_reading():
    defaults = GridworldDomain.defaults()
    assert {key: defaults[key] for key in NEW_KEYS} == {key: CONFIG[key] for key in NEW_KEYS}
    assert (CONFIG["layout"], CONFIG["initial_states"], CONFIG["model_knows_walls"]) == (
        "paper",
        "rows123",
        False,
    )
    domain = GridworldDomain()
    assert domain.layout is gw.PAPER is gw.make_layout()
    assert type(domain.make_model()) is ActionEffectModel
    np.testing.assert_array_equal(domain.mdp.transitions, gw.transition_tensor())
    for name, array in [("NEXT_STATE", "next_state"), ("REWARD", "reward"), ("MU", "mu")]:
        assert getattr(gw, name) is getattr(gw.PAPER, array)
    assert gw.TERMINAL is gw.PAPER.terminal
    np.testing.assert_array_equal(gw.PAPER.upper, gw.is_upper(np.arange(25)))
    with pytest.raises(ValueError):
        gw.PAPER.next_state[1, 0] = 0  # a layout is a value


@pytest.mark.parametrize(("n", "algorithm"), [(100, "gamps"), (100, "ml"), (10, "pgt")])
def test_default_config_reproduces_the_committed_runs(n, algorithm):
    """The committed curves were computed before the readings existed; numpy's reductions may
    differ in the last bits across machines (tests/test_replication.py), hence rtol = 1e-12."""
    curves = pd.read_csv(ROOT / "results/gridworld/curves.csv")
    committed = curves[
        (curves["algorithm"] == algorithm) & (curves["n_trajectories"] == n) & (curves["seed"] == 0)
    ].sort_values("iteration")
    batch = experiment.collect_dataset("gridworld", CONFIG, n, 0)
    records = pd.DataFrame(experiment.train("gridworld", CONFIG, algorithm, batch))
    assert len(records) == len(committed) == CONFIG["iterations"] + 1
    for column in ("return", "ess"):
        np.testing.assert_allclose(records[column], committed[column], rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------------------------
# Layouts and mu
# ---------------------------------------------------------------------------------------------


def test_walled_layout_closes_the_boundary_and_changes_nothing_else():
    paper, walled = gw.make_layout("paper"), gw.make_layout("walled")
    changed = paper.next_state != walled.next_state
    # exactly the falls of the paper's layout: row 1, action up (reversed: down) -> row 2
    assert set(zip(*np.nonzero(changed), strict=True)) == {(s(1, c), UP) for c in range(5)}
    assert np.all(walled.next_state[changed] == np.nonzero(changed)[0])  # now it stays
    assert np.all(~paper.upper[paper.next_state[changed]])
    for name in ("upper", "reward", "terminal", "mu"):
        np.testing.assert_array_equal(getattr(paper, name), getattr(walled, name))
    assert walled.goal == paper.goal == gw.GOAL
    # the one-way boundary still holds, and now the areas do not communicate at all
    for layout in (paper, walled):
        assert np.all(~layout.upper[layout.next_state[~layout.upper]])
    assert np.all(walled.upper[walled.next_state[walled.upper]])


def test_upper_initial_states_change_mu_only():
    rows123, upper = gw.make_layout("paper", "rows123"), gw.make_layout("paper", "upper")
    expected = np.where(gw.PAPER.upper & (np.arange(25) != gw.GOAL), 1 / 9, 0.0)
    np.testing.assert_allclose(upper.mu, expected, rtol=1e-15)
    np.testing.assert_allclose(
        rows123.mu, np.where(np.isin(np.arange(25) // 5, (1, 2, 3)), 1 / 15, 0.0), rtol=1e-15
    )
    for name in ("upper", "moves", "next_state", "reward", "terminal"):
        np.testing.assert_array_equal(getattr(rows123, name), getattr(upper, name))


def test_unknown_readings_are_rejected():
    with pytest.raises(ValueError, match="unknown layout"):
        gw.make_layout("figure1a")
    with pytest.raises(ValueError, match="unknown initial_states"):
        gw.make_layout("paper", "rows12")
    with pytest.raises(ValueError):
        GridworldDomain(layout="open")
    with pytest.raises(ValueError, match="upper area"):
        gw.build_layout(gw.Geometry(goal=(3, 0)))


@pytest.mark.parametrize(("layout", "initial_states"), READINGS)
def test_env_steps_as_the_exact_transition_tensor(layout, initial_states):
    """Through the public API, random episodes of the gymnasium environment visit every reachable
    (state, action) pair, and each step is the exact MDP's (the domain's) transition."""
    domain = GridworldDomain(layout=layout, initial_states=initial_states)
    env = gym.make(GRIDWORLD_ID, layout=layout, initial_states=initial_states).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cosmetic render-fps warning (test_gridworld)
        check_env(env)
    np.testing.assert_array_equal(env.transition_tensor, domain.mdp.transitions)
    np.testing.assert_array_equal(env.initial_distribution, domain.mdp.mu)
    rng = np.random.default_rng(0)
    seen = np.zeros((25, 4), dtype=bool)
    for episode in range(400):
        state, _ = env.reset(seed=episode)
        assert domain.mdp.mu[state] > 0
        done = False
        while not done:
            a = int(rng.integers(4))
            nxt, reward, terminated, truncated, _ = env.step(a)
            assert domain.mdp.transitions[state, a, nxt] == 1.0
            assert reward == domain.mdp.reward[state, a]
            assert terminated == bool(domain.mdp.terminal[nxt])
            seen[state, a] = True
            state, done = nxt, terminated or truncated
    expected = reachable(domain.layout) & ~domain.layout.terminal
    np.testing.assert_array_equal(seen.all(axis=1), expected)
    text = TwoAreasGridworld(render_mode="ansi", layout=layout).render()
    assert text.splitlines()[0][0] == "G" and text.count("~") == 9


@pytest.mark.parametrize(("layout", "initial_states"), READINGS)
def test_collected_data_follow_the_layout(layout, initial_states):
    domain = GridworldDomain(layout=layout, initial_states=initial_states)
    theta = domain.behaviour_parameters(np.random.default_rng(1))
    batch = domain.collect(theta, 200, np.random.default_rng(2))
    m = batch.mask
    assert np.all(domain.layout.mu[batch.states[:, 0]] > 0)
    nxt = domain.layout.next_state[batch.states[:, :-1][m], batch.actions[m]]
    np.testing.assert_array_equal(batch.states[:, 1:][m], nxt)
    if initial_states == "upper":
        assert domain.layout.upper[batch.states[:, 0]].all()
    if layout == "walled":  # whoever starts above stays above
        starts_up = domain.layout.upper[batch.states[:, 0]]
        assert domain.layout.upper[batch.states[starts_up]].all()


def test_layout_reading_changes_the_data_mu_reading_the_starts_model_reading_nothing():
    seed, n = 3, 50
    base = experiment.collect_dataset("gridworld", CONFIG, n, seed)
    for key, value in [("model_knows_walls", True), ("layout", "walled")]:
        other = experiment.collect_dataset("gridworld", CONFIG | {key: value}, n, seed)
        assert other.meta["behaviour_theta"] == base.meta["behaviour_theta"]
        same = [np.array_equal(getattr(base, a), getattr(other, a)) for a in data.ARRAYS]
        assert all(same) == (key == "model_knows_walls")
    upper = experiment.collect_dataset("gridworld", CONFIG | {"initial_states": "upper"}, n, seed)
    assert gw.PAPER.upper[upper.states[:, 0]].all() and not gw.PAPER.upper[base.states[:, 0]].all()


def test_model_reading_changes_only_the_model_based_algorithms():
    batch = experiment.collect_dataset("gridworld", CONFIG | {"iterations": 3}, 100, 0)
    for algorithm in algorithms.ALGORITHMS:
        runs = [
            pd.DataFrame(
                experiment.train(
                    "gridworld",
                    CONFIG | {"iterations": 3, "model_knows_walls": walls},
                    algorithm,
                    batch,
                )
            )
            for walls in (False, True)
        ]
        same = runs[0]["return"].equals(runs[1]["return"])
        assert same != algorithms.get(algorithm).model_based, algorithm


# ---------------------------------------------------------------------------------------------
# The walls-aware model and its censored MLE
# ---------------------------------------------------------------------------------------------


def test_walls_aware_model_simulates_with_walls_and_barrier():
    model = WallAwareEffectModel(gw.make_layout("walled"))
    model.effect_probs = np.random.default_rng(3).dirichlet(np.ones(5), size=4)
    p = model.transition_tensor()
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert np.all(p[gw.GOAL, :, gw.GOAL] == 1.0)
    probs = model.effect_probs
    # lower row 2: the effect up is blocked by the one-way boundary
    np.testing.assert_allclose(p[s(2, 2), :, s(2, 2)], probs[:, UP] + probs[:, STAY])
    assert np.all(p[s(2, 2), :, s(1, 2)] == 0.0)
    # upper row 1 of the walled layout: the effect down is blocked by the wall
    np.testing.assert_allclose(p[s(1, 2), :, s(1, 2)], probs[:, DOWN] + probs[:, STAY])
    # corner (4, 4): down, right and stay all stay, as for the edge-clipped model
    np.testing.assert_allclose(p[s(4, 4), :, s(4, 4)], probs[:, [DOWN, RIGHT, STAY]].sum(axis=1))
    # the edge-clipped model moves across both
    clipped = ActionEffectModel(gw.make_layout("walled"))
    clipped.effect_probs = probs
    np.testing.assert_allclose(clipped.transition_tensor()[s(2, 2), :, s(1, 2)], probs[:, UP])
    # log_prob is log p_hat(s' | s, a) of the tensor, for every pair the model can produce
    states, actions, nexts = np.nonzero(p > 0)
    np.testing.assert_allclose(
        np.exp(model.log_prob(states, actions, nexts)), p[states, actions, nexts], rtol=1e-12
    )
    # sampling follows the tensor (binomial, 5 standard errors)
    n = 4000
    states, actions = np.repeat(np.arange(25), 4 * n), np.tile(np.repeat(np.arange(4), n), 25)
    counts = np.zeros((25, 4, 25))
    np.add.at(counts, (states, actions, model.sample(states, actions, np.random.default_rng(4))), 1)
    assert np.all(np.abs(counts / n - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


def test_censored_mle_without_ambiguity_is_weighted_counting_bit_for_bit():
    """Moves away from every wall and barrier are unambiguous: the two models fit the same."""
    rng = np.random.default_rng(5)
    interior = np.array([s(3, 1), s(3, 2), s(3, 3), s(1, 1), s(1, 2), s(1, 3)])  # paper layout
    states = rng.choice(interior, 400)
    actions = rng.integers(4, size=400)
    actions[actions == 3] = 2  # action 3 gets no data: uniform
    effects = rng.integers(5, size=400)
    nexts = gw.clipped_move(states, effects)
    w = rng.exponential(size=400) * (rng.random(400) < 0.8)
    walls = WallAwareEffectModel(gw.PAPER).fit(states, actions, nexts, w)
    counting = ActionEffectModel(gw.PAPER).fit(states, actions, nexts, w)
    np.testing.assert_array_equal(walls.effect_probs, counting.effect_probs)
    np.testing.assert_array_equal(walls.effect_probs[3], 0.2)


def test_censored_mle_closed_forms():
    """Action up next to the one-way boundary: its "stay" is ambiguous with the blocked up."""
    model = WallAwareEffectModel(gw.PAPER)
    data = [
        (s(3, 2), UP, s(2, 2), 2.0),  # effect up, unambiguous
        (s(3, 2), UP, s(4, 2), 1.0),  # effect down, unambiguous
        (s(2, 2), UP, s(2, 2), 3.0),  # stay at the boundary: effect up or stay
    ]
    states, actions, nexts, w = (np.array(col) for col in zip(*data, strict=True))
    model.fit(states, actions, nexts, w)
    # the stay is explained by the blocked up: p(up) = (2 + 3) / 6, p(down) = 1 / 6, p(stay) = 0
    np.testing.assert_allclose(model.effect_probs[UP], [5 / 6, 1 / 6, 0, 0, 0], atol=1e-9)
    # add an unambiguous stay (the middle of the lower area: "stay" only, in this data set)
    data.append((s(3, 2), UP, s(3, 2), 1.0))
    states, actions, nexts, w = (np.array(col) for col in zip(*data, strict=True))
    model.fit(states, actions, nexts, w)
    # sets {up}: 2, {down}: 1, {up, stay}: 3, {stay}: 1 of total 7. p(down) = 1/7 (1/p = 7); given
    # p(up) + p(stay) = 6/7 the {up, stay} term is constant, so up and stay split it 2 : 1
    np.testing.assert_allclose(model.effect_probs[UP], [4 / 7, 1 / 7, 0, 0, 2 / 7], atol=1e-9)


def _scipy_mle(weights: np.ndarray, sets: np.ndarray) -> np.ndarray:
    """Direct maximisation of sum_j w_j log (C p)_j on the simplex (SLSQP), from two starts."""

    def negative(p):
        return -np.sum(weights * np.log(sets.astype(float) @ p + 1e-300)) / weights.sum()

    simplex = {"type": "eq", "fun": lambda p: p.sum() - 1.0}
    results = [
        minimize(
            negative,
            x0,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * 5,
            constraints=simplex,
            options={"ftol": 1e-15, "maxiter": 1000},
        )
        for x0 in (np.full(5, 0.2), np.arange(1.0, 6.0) / 15)
    ]
    p = np.clip(min(results, key=lambda result: result.fun).x, 0.0, None)
    return p / p.sum()


def _log_likelihood(weights: np.ndarray, sets: np.ndarray, p: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = weights * np.log(sets.astype(float) @ p)
    return float(np.sum(np.where(weights > 0, terms, 0.0)))


def test_censored_mle_is_the_mle():
    """On random small problems (sets of effects as the walls make them, weights over 25 orders
    of magnitude) no direct maximisation beats it, and its duality gap certifies the maximum."""
    rng = np.random.default_rng(6)
    all_sets = ((np.arange(32)[:, None] >> np.arange(5)) & 1).astype(bool)
    for trial in range(20):
        weights = np.zeros((3, 32))
        for k in range(3):
            chosen = rng.choice(np.arange(1, 32), rng.integers(1, 6), replace=False)
            scale = 10.0 ** rng.choice([0, -3, -25], chosen.size) if trial % 2 else 1.0
            weights[k, chosen] = rng.exponential(size=chosen.size) * scale
        probs = cz.censored_categorical_mle(weights, all_sets)
        assert np.all(probs >= 0)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
        assert np.all(cz.duality_gap(weights, all_sets, probs) < cz.TOLERANCE)
        for k in range(3):
            ours = _log_likelihood(weights[k], all_sets, probs[k])
            theirs = _log_likelihood(weights[k], all_sets, _scipy_mle(weights[k], all_sets))
            assert ours >= theirs - 1e-9 * weights[k].sum(), (trial, k)
            if trial % 2 == 0:  # comparable weights: the direct maximisation gets there too
                assert theirs >= ours - 1e-9 * weights[k].sum(), (trial, k)
            # and no random categorical does better
            for other in rng.dirichlet(np.ones(5), size=50):
                assert _log_likelihood(weights[k], all_sets, other) <= ours + 1e-12


def test_censored_mle_rejects_impossible_data():
    model = WallAwareEffectModel(gw.PAPER)
    with pytest.raises(ValueError, match="consistent with no"):
        model.fit([s(2, 2)], [UP], [s(4, 4)], [1.0])  # no effect jumps two cells
    model.fit([s(2, 2)], [UP], [s(4, 4)], [0.0])  # without weight it is ignored
    with pytest.raises(ValueError):
        model.fit([s(2, 2)], [UP], [s(3, 2)], [-1.0])


# ---------------------------------------------------------------------------------------------
# The exact analysis: eta's lower-area mass and the MVG's cosine
# ---------------------------------------------------------------------------------------------


def _at_behaviour(domain: GridworldDomain, seed: int) -> tuple[np.ndarray, bias.BiasAnalysis]:
    pi_b = domain.policy.probs(domain.behaviour_parameters(experiment.rng(seed, 0)))
    return pi_b, bias.BiasAnalysis(domain.mdp, pi_b, CONFIG["q_norm"])


def test_walled_layout_eta_leaves_the_lower_area():
    """Claim 1 as Figure 1c suggests it: below 0.1 on the walled layout (mean over the behaviour
    policies of seeds 0-19, exactly), against about 0.42 on the paper's layout."""
    masses = {}
    for layout in gw.LAYOUTS:
        domain = GridworldDomain(layout=layout)
        masses[layout] = np.array(
            [
                lower_area_mass(_at_behaviour(domain, seed)[1].eta, domain.layout)
                for seed in range(20)
            ]
        )
    assert masses["walled"].mean() < 0.1 and masses["walled"].max() < 0.01
    assert masses["paper"].mean() > 0.3
    # the sample version of Figure 1 (rule lower_area_mass) agrees
    domain = GridworldDomain(layout="walled")
    batch = experiment.collect_dataset("gridworld", CONFIG | {"layout": "walled"}, 1000, 0)
    theta = domain.policy.table(batch.meta["behaviour_theta"])
    delta, eta = weight_maps(domain, theta, batch, CONFIG["q_norm"])
    assert lower_area_mass(eta, domain.layout) < 0.01 < 0.5 < lower_area_mass(delta, domain.layout)


def test_exact_analysis_uses_the_configured_model():
    """bias / gradient_bias fit the model the config selects; on the walled layout the
    walls-aware model fitted on eta reproduces the upper area, so the exact-limit GAMPS MVG is the
    true gradient's direction."""
    for seed in range(3):
        cosines = {}
        for walls in (False, True):
            domain = GridworldDomain(layout="walled", model_knows_walls=walls)
            pi_b, analysis = _at_behaviour(domain, seed)
            limit = bias.exact_weights(analysis, "gamps", pi_b)
            model = bias.fit_on_distribution(domain.make_model(), domain.mdp, limit)
            assert type(model) is (WallAwareEffectModel if walls else ActionEffectModel)
            rows = {row["model"]: row for row in gb.exact_rows(domain, analysis, pi_b)}
            assert rows["gamps"]["cosine"] == analysis.evaluate(model.transition_tensor()).cosine
            cosines[walls] = rows["gamps"]["cosine"]
        assert cosines[True] > 0.999 and cosines[True] > cosines[False]
    batch = experiment.collect_dataset("gridworld", CONFIG, 30, 0)
    domain = GridworldDomain(model_knows_walls=True)
    theta = np.asarray(batch.meta["behaviour_theta"])
    log_rho = algorithms.log_ratios(domain, theta, batch)
    fitted = algorithms.fit_model(domain, "gamps", theta, batch, log_rho, 2.0)
    assert type(fitted) is WallAwareEffectModel


def test_upper_initial_states_leave_only_the_falls_below():
    """With mu on the upper area, delta's lower mass comes from falls alone: none when walled."""
    masses = {}
    for layout in gw.LAYOUTS:
        domain = GridworldDomain(layout=layout, initial_states="upper")
        pi_b, _ = _at_behaviour(domain, 0)
        masses[layout] = domain.layout.lower_mass(exact.discounted_occupancy(domain.mdp, pi_b))
    assert masses["walled"] == 0.0 < 0.1 < masses["paper"]


# ---------------------------------------------------------------------------------------------
# The config schema
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("layout", "figure1a"),
        ("layout", 2),
        ("initial_states", "rows12"),
        ("initial_states", ["upper"]),
        ("model_knows_walls", "yes"),
        ("model_knows_walls", 1),
    ],
)
def test_schema_rejects_bad_readings(key, value):
    config = settings.load_config(ROOT / "config/config.yaml")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    validator.validate(config)
    config["gridworld"][key] = value
    errors = list(validator.iter_errors(config))
    assert errors and any(key in error.json_path for error in errors), errors
    del config["gridworld"][key]
    assert any(key in error.message for error in validator.iter_errors(config))


@pytest.mark.parametrize(("layout", "initial_states"), READINGS)
def test_schema_accepts_every_reading(layout, initial_states):
    config = settings.load_config(ROOT / "config/config.yaml")
    for walls in (False, True):
        config["gridworld"] |= {
            "layout": layout,
            "initial_states": initial_states,
            "model_knows_walls": walls,
        }
        jsonschema.Draft202012Validator(SCHEMA).validate(config)
