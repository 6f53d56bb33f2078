"""The two-areas gridworld (gamps.domains.gridworld; REPLICATION_SPEC.md, "Two-areas gridworld"):
the dynamics and the gymnasium environment (hand-checked cases), the state-blind action-effect
model, the domain's data collection and Q values, Figure 1's weight maps, and the gradient-bias
experiment of Figure 4 (its rows, its summary table and the fig4 target of the workflow)."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from fixtures import RTOL, run_snakemake
from gymnasium.utils.env_checker import check_env

import gamps.envs  # noqa: F401  (registers the environment)
from gamps import algorithms, bias, data, experiment
from gamps.analysis import render, tables
from gamps.domains.gridworld import GridworldDomain
from gamps.domains.gridworld import dynamics as gw
from gamps.domains.gridworld import gradient_bias as gb
from gamps.domains.gridworld.env import TwoAreasGridworld
from gamps.domains.gridworld.figure1 import lower_area_mass, weight_maps, weights_table
from gamps.domains.gridworld.model import ActionEffectModel
from gamps.envs import GRIDWORLD_ID
from gamps.value import finite_horizon_q

UP, DOWN, LEFT, RIGHT, STAY = range(5)  # actions; STAY is the fifth effect


def s(row: int, col: int) -> int:
    return row * 5 + col


# ---------------------------------------------------------------------------------------------
# Dynamics and the gymnasium environment
# ---------------------------------------------------------------------------------------------


def reference_next_state(row: int, col: int, action: int) -> tuple[int, int]:
    """The spec's dynamics written out independently, one cell at a time."""
    if (row, col) == (0, 0):
        return row, col  # the goal is absorbing
    upper = row <= 1
    if upper:
        action = {UP: DOWN, DOWN: UP, LEFT: RIGHT, RIGHT: LEFT}[action]
    d_row, d_col = {UP: (-1, 0), DOWN: (1, 0), LEFT: (0, -1), RIGHT: (0, 1)}[action]
    new_row, new_col = row + d_row, col + d_col
    if not (0 <= new_row < 5 and 0 <= new_col < 5):
        return row, col  # off the grid: stay
    if not upper and new_row <= 1:
        return row, col  # lower -> upper is blocked
    return new_row, new_col


@pytest.mark.parametrize("render_mode", [None, "ansi"])
def test_check_env_passes(render_mode):
    env = gym.make(GRIDWORLD_ID, render_mode=render_mode).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    # The only tolerated warning is the cosmetic one about metadata["render_fps"] (text rendering).
    unexpected = [str(w.message) for w in caught if "render fps" not in str(w.message)]
    assert unexpected == []
    assert env.observation_space.n == 25
    assert env.action_space.n == 4


def test_next_state_table_matches_independent_reference():
    for row in range(5):
        for col in range(5):
            for a in range(4):
                expected = s(*reference_next_state(row, col, a))
                assert gw.NEXT_STATE[s(row, col), a] == expected, (row, col, gw.ACTIONS[a])


@pytest.mark.parametrize(
    ("state", "action", "expected", "why"),
    [
        # upper area: every effect is reversed
        (s(1, 2), DOWN, s(0, 2), "upper: down moves up"),
        (s(0, 2), UP, s(1, 2), "upper: up moves down"),
        (s(1, 2), LEFT, s(1, 3), "upper: left moves right"),
        (s(1, 2), RIGHT, s(1, 1), "upper: right moves left"),
        (s(0, 1), RIGHT, s(0, 0), "upper: right reaches the goal from (0, 1)"),
        # upper row 1 may move down into the lower area (with action up)
        (s(1, 0), UP, s(2, 0), "upper row 1 -> lower area"),
        (s(1, 4), UP, s(2, 4), "upper row 1 -> lower area"),
        # off-grid moves stay
        (s(0, 3), DOWN, s(0, 3), "upper: reversed up leaves the grid"),
        (s(1, 0), RIGHT, s(1, 0), "upper: reversed left leaves the grid"),
        (s(0, 4), LEFT, s(0, 4), "upper: reversed right leaves the grid"),
        (s(4, 4), DOWN, s(4, 4), "lower: down leaves the grid"),
        (s(4, 4), RIGHT, s(4, 4), "lower: right leaves the grid"),
        (s(3, 0), LEFT, s(3, 0), "lower: left leaves the grid"),
        # lower area: normal actions
        (s(3, 2), UP, s(2, 2), "lower: up"),
        (s(2, 2), DOWN, s(3, 2), "lower: down"),
        (s(2, 1), LEFT, s(2, 0), "lower: left"),
        (s(4, 3), RIGHT, s(4, 4), "lower: right"),
        # lower -> upper blocked
        (s(2, 0), UP, s(2, 0), "lower -> upper blocked"),
        (s(2, 3), UP, s(2, 3), "lower -> upper blocked"),
    ],
)
def test_hand_checked_transitions(state, action, expected, why):
    assert gw.NEXT_STATE[state, action] == expected, why


def test_lower_area_is_closed():
    lower = ~gw.is_upper(np.arange(25))
    assert lower.sum() == 15
    assert np.all(~gw.is_upper(gw.NEXT_STATE[lower]))
    # the only way down: row 1 with action up
    crossings = gw.is_upper(np.arange(25))[:, None] & ~gw.is_upper(gw.NEXT_STATE)
    rows, actions = np.nonzero(crossings)
    assert set(gw.cell(rows)[0]) == {1}
    assert set(actions) == {UP}
    assert crossings.sum() == 5


def test_goal_absorbing_and_rewards():
    assert gw.GOAL == 0
    assert np.all(gw.NEXT_STATE[0] == 0)
    assert np.all(gw.REWARD[0] == 0.0)
    assert np.all(gw.REWARD[1:] == -1.0)
    assert gw.TERMINAL.tolist() == [True] + [False] * 24


def test_transition_tensor_is_stochastic_and_one_hot():
    p = gw.transition_tensor()
    assert p.shape == (25, 4, 25)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert np.all(np.argmax(p, axis=-1) == gw.NEXT_STATE)
    assert np.all(np.isin(p, [0.0, 1.0]))
    env = TwoAreasGridworld()
    np.testing.assert_array_equal(env.transition_tensor, p)
    np.testing.assert_array_equal(env.reward_matrix, gw.REWARD)


def test_initial_distribution_uniform_over_rows_1_to_3():
    rows = gw.cell(np.arange(25))[0]
    expected = np.where((rows >= 1) & (rows <= 3), 1 / 15, 0.0)
    np.testing.assert_allclose(gw.MU, expected)
    assert np.sum(gw.MU[gw.is_upper(np.arange(25))] > 0) == 5
    assert np.sum(gw.MU[~gw.is_upper(np.arange(25))] > 0) == 10


def test_reset_samples_mu():
    env = TwoAreasGridworld()
    n = 6000
    obs = np.array([env.reset(seed=i)[0] for i in range(n)])
    counts = np.bincount(obs, minlength=25)
    assert np.all(counts[gw.MU == 0] == 0)
    # each of the 15 cells: binomial(n, 1/15); 5 standard deviations
    sd = np.sqrt(n * (1 / 15) * (14 / 15))
    assert np.all(np.abs(counts[gw.MU > 0] - n / 15) <= 5 * sd)
    # reproducible under a seed
    assert env.reset(seed=3)[0] == env.reset(seed=3)[0]


def _reset_until(env, predicate, max_seeds=1000):
    for seed in range(max_seeds):
        obs, _ = env.reset(seed=seed)
        if predicate(obs):
            return obs
    raise AssertionError("no seed gives the wanted initial state")


def test_termination_at_goal():
    env = TwoAreasGridworld(horizon=20)
    obs = _reset_until(env, lambda o: o == s(1, 0))
    # (1, 0) -down-> (0, 0): reversed, the agent moves up to the goal
    obs, reward, terminated, truncated, _ = env.step(DOWN)
    assert (obs, reward, terminated, truncated) == (0, -1.0, True, False)
    # the goal is absorbing and free
    obs, reward, terminated, _, _ = env.step(LEFT)
    assert (obs, reward, terminated) == (0, 0.0, True)


def test_truncation_at_horizon():
    horizon = 7
    env = TwoAreasGridworld(horizon=horizon)
    start = _reset_until(env, lambda o: not gw.is_upper(o))
    for t in range(1, horizon + 1):
        obs, reward, terminated, truncated, _ = env.step(UP)  # blocked or moving within lower
        assert reward == -1.0
        assert not terminated
        assert truncated == (t == horizon), t
    assert not gw.is_upper(obs)
    assert start >= 10


def test_terminated_not_truncated_when_goal_reached_at_horizon():
    env = TwoAreasGridworld(horizon=2)
    _reset_until(env, lambda o: o == s(1, 1))
    _, _, terminated, truncated, _ = env.step(DOWN)  # -> (0, 1)
    assert not terminated and not truncated
    obs, _, terminated, truncated, _ = env.step(RIGHT)  # -> (0, 0) at t = horizon
    assert obs == 0 and terminated and not truncated


def test_invalid_use_raises():
    with pytest.raises(ValueError):
        TwoAreasGridworld(horizon=0)
    env = TwoAreasGridworld()
    with pytest.raises(RuntimeError):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step(4)


def test_gym_make_passes_horizon():
    env = gym.make(GRIDWORLD_ID, horizon=5)
    assert env.unwrapped.horizon == 5


def test_step_agrees_with_tables():
    """Random rollouts through the public API visit every (state, action) pair."""
    env = TwoAreasGridworld(horizon=20)
    rng = np.random.default_rng(0)
    seen = np.zeros((25, 4), dtype=bool)
    for episode in range(400):
        state, _ = env.reset(seed=episode)
        done = False
        while not done:
            a = int(rng.integers(4))
            nxt, reward, terminated, truncated, _ = env.step(a)
            assert nxt == gw.NEXT_STATE[state, a]
            assert reward == gw.REWARD[state, a]
            assert terminated == bool(gw.TERMINAL[nxt])
            seen[state, a] = True
            state, done = nxt, terminated or truncated
    assert seen[1:].all(), "every non-goal (state, action) pair should be visited"


def test_render_ansi():
    env = TwoAreasGridworld(render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    lines = text.splitlines()
    assert len(lines) == 5 and all(len(line) == 5 for line in lines)
    assert lines[0][0] in "GA"
    assert text.count("A") == 1


# ---------------------------------------------------------------------------------------------
# ActionEffectModel
# ---------------------------------------------------------------------------------------------


def test_model_weighted_mle_is_weighted_counting():
    # (state, action, next state, weight); all moves away from the edges, so effects are unambiguous
    data = [
        (s(2, 2), 0, s(1, 2), 2.0),  # action 0, effect up
        (s(3, 3), 0, s(3, 3), 1.0),  # action 0, effect stay
        (s(2, 1), 0, s(3, 1), 0.5),  # action 0, effect down
        (s(1, 2), 0, s(1, 1), 0.0),  # action 0, effect left, zero weight: ignored
        (s(1, 1), 1, s(1, 2), 3.0),  # action 1, effect right
        (s(2, 3), 1, s(2, 2), 1.0),  # action 1, effect left
        (s(3, 2), 3, s(3, 1), 0.0),  # action 3: only zero weight -> stays uniform
    ]
    states, actions, nexts, w = (np.array(col) for col in zip(*data, strict=True))
    model = ActionEffectModel().fit(states, actions, nexts, w)
    # brute-force weighted counting
    counts = np.zeros((4, 5))
    for st, a, nx, weight in data:
        d_row = nx // 5 - st // 5
        d_col = nx % 5 - st % 5
        effect = {(-1, 0): UP, (1, 0): DOWN, (0, -1): LEFT, (0, 1): RIGHT, (0, 0): STAY}[
            (d_row, d_col)
        ]
        counts[a, effect] += weight
    expected = np.full((4, 5), 0.2)
    for a in range(4):
        if counts[a].sum() > 0:
            expected[a] = counts[a] / counts[a].sum()
    np.testing.assert_allclose(model.effect_probs, expected)
    np.testing.assert_allclose(model.effect_probs[0], [2 / 3.5, 0.5 / 3.5, 0, 0, 1 / 3.5])
    np.testing.assert_allclose(model.effect_probs[2], 0.2)  # no data
    np.testing.assert_allclose(model.effect_probs[3], 0.2)  # only zero weight

    # zero-weight samples change nothing
    extra = (np.r_[states, s(2, 2)], np.r_[actions, 1], np.r_[nexts, s(2, 2)], np.r_[w, 0.0])
    np.testing.assert_allclose(ActionEffectModel().fit(*extra).effect_probs, model.effect_probs)

    # it is the weighted MLE: no other categorical has a higher weighted log-likelihood
    def weighted_ll(m):
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = w * m.log_prob(states, actions, nexts)
        return np.sum(np.where(w > 0, terms, 0.0))

    best = weighted_ll(model)
    rng = np.random.default_rng(0)
    for _ in range(200):
        other = ActionEffectModel()
        other.effect_probs = rng.dirichlet(np.ones(5), size=4)
        assert weighted_ll(other) <= best + 1e-12


def test_model_rejects_bad_weights():
    with pytest.raises(ValueError):
        ActionEffectModel().fit([s(2, 2)], [0], [s(1, 2)], [-1.0])
    with pytest.raises(ValueError):
        ActionEffectModel().fit([s(2, 2)], [0], [s(1, 2)], [np.nan])


def test_model_fitted_on_upper_area_reproduces_upper_dynamics():
    """GAMPS' point in the gridworld: the state-blind model class can represent the upper area.

    Training set: every true transition of the grid; weight 1 on the upper-area transitions whose
    effect is observable (not clipped at the grid's edge, which shows up as "stay"), 0 elsewhere
    (in particular 0 on the whole lower area)."""
    states = np.repeat(np.arange(1, 25), 4)  # the goal is terminal: no transitions from it
    actions = np.tile(np.arange(4), 24)
    nexts = gw.NEXT_STATE[states, actions]
    clipped = nexts == states
    w = np.where(gw.is_upper(states) & ~clipped, 1.0, 0.0)
    model = ActionEffectModel().fit(states, actions, nexts, w)
    np.testing.assert_allclose(model.effect_probs, np.eye(5)[gw.REVERSED])
    p_hat = model.transition_tensor()
    p = gw.transition_tensor()
    upper = gw.is_upper(np.arange(25))
    np.testing.assert_array_equal(p_hat[upper], p[upper])
    # ... and is wrong in the lower area, which it knows nothing about
    assert p_hat[s(3, 2), UP, s(4, 2)] == 1.0 and p[s(3, 2), UP, s(2, 2)] == 1.0
    # maximum likelihood on all transitions mixes the two areas: wrong everywhere
    ml = ActionEffectModel().fit(states, actions, nexts, np.ones_like(w))
    assert np.all(ml.effect_probs.max(axis=1) < 0.9)
    assert not np.allclose(ml.transition_tensor()[upper], p[upper], atol=0.1)


def test_model_transition_tensor_is_stochastic_and_consistent():
    model = ActionEffectModel()
    model.effect_probs = np.random.default_rng(3).dirichlet(np.ones(5), size=4)
    p = model.transition_tensor()
    assert p.shape == (25, 4, 25)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert np.all(p[gw.GOAL, :, gw.GOAL] == 1.0)
    # interior cell (2, 2): every effect lands on a distinct neighbour
    for a in range(4):
        for e, target in enumerate([s(1, 2), s(3, 2), s(2, 1), s(2, 3), s(2, 2)]):
            assert p[s(2, 2), a, target] == pytest.approx(model.effect_probs[a, e])
    # corner (4, 4): down, right and stay all stay in place
    np.testing.assert_allclose(
        p[s(4, 4), :, s(4, 4)], model.effect_probs[:, [DOWN, RIGHT, STAY]].sum(axis=1)
    )


def test_model_sample_frequencies_match_transition_tensor():
    model = ActionEffectModel()
    model.effect_probs = np.random.default_rng(4).dirichlet(np.ones(5), size=4)
    p = model.transition_tensor()
    n = 5_000
    states = np.repeat(np.arange(25), 4 * n)
    actions = np.tile(np.repeat(np.arange(4), n), 25)
    nexts = model.sample(states, actions, np.random.default_rng(5))
    counts = np.zeros((25, 4, 25))
    np.add.at(counts, (states, actions, nexts), 1.0)
    freq = counts / n
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12)  # binomial, 5 SE


# ---------------------------------------------------------------------------------------------
# GridworldDomain: collect and q_values
# ---------------------------------------------------------------------------------------------


def test_collected_batch_follows_the_dynamics(domain, behaviour_theta, batch):
    n, horizon = 300, domain.horizon
    assert batch.states.shape == (n, horizon + 1)
    assert batch.actions.shape == batch.rewards.shape == batch.mask.shape == (n, horizon)
    assert batch.n == n and batch.horizon == horizon
    s, a, m = batch.states[:, :-1], batch.actions, batch.mask
    # initial states in the support of mu
    assert np.all(gw.MU[batch.states[:, 0]] > 0)
    # the mask is a prefix: once an episode ends it stays ended
    assert np.all(m[:, 1:] <= m[:, :-1])
    # real transitions follow NEXT_STATE, real rewards follow REWARD
    np.testing.assert_array_equal(batch.states[:, 1:][m], gw.NEXT_STATE[s[m], a[m]])
    np.testing.assert_array_equal(batch.rewards[m], gw.REWARD[s[m], a[m]])
    np.testing.assert_allclose(
        batch.behaviour_log_prob[m], domain.policy.log_prob(behaviour_theta, s[m], a[m])
    )
    # an episode stops early only at the goal; running episodes never sit on it
    ended = batch.lengths < horizon
    assert 0 < ended.sum() < n  # both kinds of episodes are present
    assert np.all(batch.states[np.arange(n), batch.lengths][ended] == gw.GOAL)
    assert np.all(s[m] != gw.GOAL)
    # padding: states repeat the last one, everything else is 0
    for i in np.nonzero(ended)[0]:
        length = batch.lengths[i]
        assert np.all(batch.states[i, length:] == batch.states[i, length])
        assert np.all(batch.actions[i, length:] == 0)
        assert np.all(batch.rewards[i, length:] == 0.0)
        assert np.all(batch.behaviour_log_prob[i, length:] == 0.0)
    # returns
    np.testing.assert_allclose(
        batch.discounted_returns(0.9), -(1 - 0.9**batch.lengths) / (1 - 0.9), rtol=1e-12
    )


def test_collect_is_reproducible(domain, behaviour_theta):
    a = domain.collect(behaviour_theta, 50, np.random.default_rng(0))
    b = domain.collect(behaviour_theta, 50, np.random.default_rng(0))
    for name in data.ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_q_values_are_the_exact_q_of_the_model_at_every_step(domain, behaviour_theta, batch):
    """Q_t^{pi, p_hat}(s_t, a_t) read from finite_horizon_q of the model's transition tensor, at
    the step's own t (T - t steps left); at t = T - 1 the reward alone, whatever the model."""
    model = ActionEffectModel()
    model.effect_probs = np.random.default_rng(2).dirichlet(np.ones(5), size=4)
    q = domain.q_values(model, behaviour_theta, batch, np.random.default_rng(0))
    assert q.shape == batch.mask.shape
    table = finite_horizon_q(
        model.transition_tensor(),
        gw.REWARD,
        domain.policy.probs(behaviour_theta),
        domain.gamma,
        domain.horizon,
        gw.TERMINAL,
    )
    for i, t in zip(*np.nonzero(batch.mask), strict=True):
        assert q[i, t] == table[t, batch.states[i, t], batch.actions[i, t]]
    assert batch.mask[:, -1].any() and np.all(q[batch.mask[:, -1], -1] == -1.0)
    # Q depends on the model: the true one gives other values
    true_model = ActionEffectModel()
    true_model.effect_probs = np.eye(5)[:4]  # the lower area's dynamics
    assert not np.allclose(
        domain.q_values(true_model, behaviour_theta, batch)[batch.mask], q[batch.mask]
    )


# ---------------------------------------------------------------------------------------------
# Figure 1: the maps of delta and eta, their lower-area mass and their table
# ---------------------------------------------------------------------------------------------


def test_figure1_maps_lower_area_mass_and_table(domain, behaviour_theta, batch):
    """weight_maps against their convergence to delta and eta (test_exact); here the bookkeeping:
    normalised maps that weigh only visited pairs, claim 1's lower-area mass, the tidy table."""
    delta, eta = weight_maps(domain, behaviour_theta, batch, 2.0)
    visited = np.zeros((25, 4), dtype=bool)
    visited[batch.states[:, :-1][batch.mask], batch.actions[batch.mask]] = True
    for weight_map in (delta, eta):
        assert weight_map.shape == (25, 4) and np.all(weight_map >= 0)
        assert weight_map.sum() == pytest.approx(1.0)
        assert np.all(weight_map[~visited] == 0.0)
    lower = ~gw.is_upper(np.arange(25))
    assert lower_area_mass(delta) == pytest.approx(delta[lower].sum(), rel=1e-12)
    assert lower_area_mass(np.full((25, 4), 1 / 100)) == pytest.approx(15 / 25)
    # pi_b is (almost) deterministic in the lower area, so eta puts less mass there than delta
    assert lower_area_mass(eta) < lower_area_mass(delta)
    table = weights_table(delta, eta)
    assert list(table.columns) == ["row", "col", "action", "delta", "eta"] and len(table) == 100
    entry = table.iloc[4 * 7 + 2]  # state 7 = (1, 2), action "left"
    assert (entry["row"], entry["col"], entry["action"]) == (1, 2, "left")
    assert (entry["delta"], entry["eta"]) == (delta[7, 2], eta[7, 2])


# ---------------------------------------------------------------------------------------------
# The gradient-bias experiment (Figure 4)
# ---------------------------------------------------------------------------------------------


def test_sample_fit_is_the_fit_of_algorithm_1(domain, behaviour_theta):
    batch = domain.collect(behaviour_theta, 300, np.random.default_rng(8))
    theta = behaviour_theta + np.random.default_rng(9).normal(0, 0.3, size=100)
    log_rho = algorithms.log_ratios(domain, theta, batch)
    for algorithm in ("ml", "gamps"):
        model, wmap = gb.sample_fit(domain, algorithm, theta, batch, 2.0)
        reference = algorithms.fit_model(domain, algorithm, theta, batch, log_rho, 2.0)
        np.testing.assert_array_equal(model.effect_probs, reference.effect_probs)
        assert wmap.sum() == pytest.approx(1.0) and (wmap >= 0).all()


def test_bound_holds_on_pipeline_cases():
    """The pipeline's own cases at small scale: pi_b of three seeds, models fitted on the exact
    distributions and on samples, and every iterate of short GAMPS paths."""
    cfg = GridworldDomain.defaults() | {
        "n_trajectories": [20, 200],
        "iterations": 6,
        "step_size": 1.0,
        "q_norm": 2.0,
        "baseline": "none",
        "ess_stop_fraction": 0.0,
        "degenerate_ess_fraction": 0.05,
    }
    bias_config = {"n_trajectories": [10, 100, 1000], "repetitions": 2, "path_every": 1}
    rows = []
    for seed in range(3):
        datasets = {n: experiment.collect_dataset("gridworld", cfg, n, seed) for n in (20, 200)}
        returns = {
            n: [r["return"] for r in experiment.train("gridworld", cfg, "gamps", batch)]
            for n, batch in datasets.items()
        }
        rows += gb.gradient_bias(cfg, bias_config, seed, datasets, returns)
    table = pd.DataFrame(rows)
    assert len(table) == 3 * (2 + 3 * 2 * 2 + 2 * 7 * 4)
    numbers = table.select_dtypes("number")
    assert not numbers.isna().any().any()
    assert np.isfinite(table.drop(columns=["expected_kl", "bound"]).select_dtypes("number")).all(
        axis=None
    )
    assert (table["bias"] <= table["bound_l1"] * (1 + RTOL)).all()
    assert (table["bound_l1"] <= table["bound"] * (1 + RTOL)).all()
    assert np.isinf(table["bound"]).any()  # small samples miss effects: infinite KL, handled
    exact_rows = table[table["weights"] == "exact"]
    assert np.isfinite(exact_rows["bound"]).all()  # the exact fits give every effect mass
    assert (exact_rows["weight_l1"] == 0).all()
    # along a path, iteration 0 is pi_b: same exact-fit diagnostics as the behaviour rows
    behaviour = exact_rows[exact_rows["policy"] == "behaviour"].set_index(["seed", "model"])
    start = exact_rows[(exact_rows["policy"] == "gamps_path") & (exact_rows["iteration"] == 0)]
    for row in start.itertuples():
        assert row.bias == pytest.approx(behaviour.loc[(row.seed, row.model), "bias"], rel=1e-12)


def test_recomputed_path_must_match_the_recorded_run():
    cfg = GridworldDomain.defaults() | {
        "iterations": 3,
        "step_size": 1.0,
        "q_norm": 2.0,
        "baseline": "none",
        "ess_stop_fraction": 0.0,
        "degenerate_ess_fraction": 0.05,
    }
    batch = experiment.collect_dataset("gridworld", cfg, 30, 0)
    returns = [r["return"] for r in experiment.train("gridworld", cfg, "gamps", batch)]
    bias_config = {"n_trajectories": [10], "repetitions": 1, "path_every": 2}
    rows = gb.gradient_bias(cfg, bias_config, 0, {30: batch}, {30: returns})
    path_iterations = sorted({r["iteration"] for r in rows if r["policy"] == "gamps_path"})
    assert path_iterations == [0, 2, 3]  # every second iteration and the last
    wrong = {30: np.array(returns) + 1e-6}
    with pytest.raises(ValueError, match="differs from the run's"):
        gb.gradient_bias(cfg, bias_config, 0, {30: batch}, wrong)
    with pytest.raises(ValueError, match="not collected by this seed"):
        gb.gradient_bias(cfg, bias_config, 1, {30: batch}, {30: returns})


def test_exact_limits_at_every_seed_are_finite_and_gamps_is_better_on_average(domain):
    """With exact weights every effect an action can have gets positive mass, so KL and the bound
    are finite; and on average over the paper's behaviour policies the gradient-aware model gives
    the MVG closer in direction to the true gradient (the mechanism of Theorem 3.2)."""
    cosines = {"ml": [], "gamps": []}
    for seed in range(20):
        theta_b = domain.behaviour_parameters(experiment.rng(seed, 0))
        pi_b = domain.policy.probs(theta_b)
        analysis = bias.BiasAnalysis(domain.mdp, pi_b)
        for row in gb.exact_rows(domain, analysis, pi_b):
            assert np.isfinite(row["bound"]) and row["bias"] <= row["bound_l1"]
            cosines[row["model"]].append(row["cosine"])
    assert np.mean(cosines["gamps"]) > np.mean(cosines["ml"])


def test_summary_has_no_nan_even_for_degenerate_cases():
    base = {"policy": "behaviour", "n_trajectories": 0, "repetition": 0, "iteration": 0}
    rows = [
        base
        | {"seed": 0, "model": "ml", "weights": "exact", "grad_norm": 1.0, "bias": 0.5}
        | {"cosine": 0.3, "expected_kl": 1.0, "bound_l1": 2.0, "bound": 3.0, "weight_l1": 0.0}
        | {"weighted_q_error": 1.0},
        base
        | {"seed": 0, "model": "gamps", "weights": "exact", "grad_norm": 0.0, "bias": 0.0}
        | {"cosine": 0.0, "expected_kl": 0.0, "bound_l1": 0.0, "bound": 0.0, "weight_l1": 0.0}
        | {"weighted_q_error": 0.0},
        base
        | {"seed": 1, "model": "ml", "weights": "exact", "grad_norm": 1.0, "bias": 0.1}
        | {"cosine": 0.9, "expected_kl": np.inf, "bound_l1": 2.0, "bound": np.inf}
        | {"weight_l1": 0.0, "weighted_q_error": 0.5},
    ]
    table = pd.DataFrame(rows)
    summary = tables.bias_summary(table)
    assert not summary.isna().any().any()
    ml = summary[summary["model"] == "ml"].iloc[0]
    assert ml["cases"] == 2 and ml["infinite_bounds"] == 1 and ml["violations"] == 0
    assert ml["bound_ratio_min"] == pytest.approx(6.0)  # over the finite bounds only
    gamps = summary[summary["model"] == "gamps"].iloc[0]
    assert gamps["cosine_std"] == 0.0 and gamps["bound_ratio_min"] == np.inf
    text = render.gradient_bias_markdown(summary, tables.bias_findings(table))
    assert "bound ≥ realised bias in 3 of 3 evaluated cases; 1 bounds are infinite" in text
    assert "nan" not in text.lower()


def test_fig4_target_needs_only_the_gamps_runs(tmp_path):
    result = run_snakemake(tmp_path, "--cores", "1", "--dry-run", "fig4")
    assert result.returncode == 0, result.stderr[-2000:]
    plan = result.stdout + result.stderr
    assert "rule gradient_bias:" in plan and "rule figure4:" in plan
    assert "runs/gamps/" in plan
    for other in ("ml", "reinforce", "pgt"):
        assert f"runs/{other}/" not in plan
