"""The two-areas gridworld (REPLICATION_SPEC.md, "Two-areas gridworld"): hand-checked cases."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import gamps.envs  # noqa: F401  (registers the environment)
from gamps.domains.gridworld import dynamics as gw
from gamps.domains.gridworld.env import TwoAreasGridworld
from gamps.envs import GRIDWORLD_ID

UP, DOWN, LEFT, RIGHT = range(4)


def s(row: int, col: int) -> int:
    return row * 5 + col


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
