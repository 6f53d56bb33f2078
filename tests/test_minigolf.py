"""Minigolf with two terrains (gamps.domains.minigolf; REPLICATION_SPEC.md, "Minigolf with two
terrains"): the physics, the gymnasium environment, the batch simulator of the domain, its Q values
by Eq. 4 (MonteCarloQDomain.q_values with deterministic toy models) and the linear-Gaussian model
class fitted by the weighted MLE of Eq. 3. The Gaussian policy and its radial basis features are
tested in test_policies.py.

Statistical checks use fixed seeds and 5-standard-error tolerances derived from the sample size, so
that they would hold for (almost) any seed; each states the power it has against a plausible bug.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from fixtures import discounted_sum, sample_std_se
from gymnasium.utils.env_checker import check_env
from scipy.stats import truncnorm

import gamps.envs  # noqa: F401  (registers the environments)
from gamps.data import TrajectoryBatch
from gamps.domains.minigolf import MinigolfDomain
from gamps.domains.minigolf import physics as mg
from gamps.domains.minigolf.model import LinearGaussianModel
from gamps.envs import MINIGOLF_ID

# Hand-computed from the spec's constants (f g 5/7, and (2h - r)^2 g / (2r) / (2d)):
#   track: d = 5/7 * 0.131 * 9.81 = 6.42555 / 7 = 0.917935714...
#   sand:  d = 5/7 * 0.190 * 9.81 = 9.31950 / 7 = 1.331357142...
#   (2h - r)^2 g / (2r) = 0.17865^2 * 9.81 / 0.0427 = 0.313094218725 / 0.0427 = 7.332417300...
#   K_track = 7.3324173 / 1.8358714 = 3.99397103...,  K_sand = 7.3324173 / 2.6627143 = 2.75373792...
# (the last digits below by exact rational arithmetic on the decimal constants)
D_TRACK = 0.9179357142857143
D_SAND = 1.3313571428571428
K_TRACK = 3.9939710299086
K_SAND = 2.7537379206212
BOUNDARY = 40.0 / 3.0

# The noise: N(0, 0.3^2) truncated at +-1 (redrawn), whose std is below 0.3.
TRUNC_NOISE = truncnorm(-1 / 0.3, 1 / 0.3, loc=0.0, scale=0.3)


# ---------------------------------------------------------------------------------------------
# Physics of one putt
# ---------------------------------------------------------------------------------------------


def test_constants_deceleration_and_overshoot_bound_hand_computed():
    np.testing.assert_allclose(mg.deceleration(np.array([0.5, 13.0])), D_TRACK, rtol=1e-12)
    np.testing.assert_allclose(mg.deceleration(np.array([14.0, 20.0])), D_SAND, rtol=1e-12)
    np.testing.assert_allclose(mg.overshoot_bound(np.array([1.0, 10.0])), K_TRACK, rtol=1e-9)
    np.testing.assert_allclose(mg.overshoot_bound(np.array([15.0, 19.9])), K_SAND, rtol=1e-9)
    assert (mg.ACTION_LOW, mg.ACTION_HIGH) == (1e-5, 5.0)


def test_terrain_switch_at_two_thirds_of_the_course():
    below = np.nextafter(BOUNDARY, 0.0)
    x = np.array([0.0, 5.0, below, BOUNDARY, np.nextafter(BOUNDARY, 30.0), 20.0])
    np.testing.assert_array_equal(mg.friction(x), [0.131, 0.131, 0.131, 0.19, 0.19, 0.19])
    # the same shot just below and at the boundary decelerates differently
    a, eps = 3.0, 0.1
    u2 = (a * (1 + eps)) ** 2
    np.testing.assert_allclose(mg.putt(below, a, eps), below - u2 / (2 * D_TRACK), rtol=1e-13)
    np.testing.assert_allclose(mg.putt(BOUNDARY, a, eps), BOUNDARY - u2 / (2 * D_SAND), rtol=1e-13)


def test_friction_where_the_shot_starts_applies_to_the_whole_shot():
    """From x = 14 (sand) a putt of speed 4 ends at 14 - 16 / (2 d_sand) = 7.99 m, well inside the
    track; a piecewise integration (sand up to 40/3, track after) would stop it at ~5.59 m."""
    x, a = 14.0, 4.0
    x_next = float(mg.putt(x, a, 0.0))
    assert x_next == pytest.approx(14.0 - 16.0 / (2 * D_SAND), rel=1e-13)
    assert x_next == pytest.approx(7.9910939, abs=1e-6)
    assert x_next < BOUNDARY  # the ball did cross into the track
    energy_left = 16.0 / 2 - D_SAND * (x - BOUNDARY)
    piecewise = BOUNDARY - energy_left / D_TRACK
    assert abs(x_next - piecewise) > 2.0
    # and a shot from the track that ends far past the hole never switches friction either
    assert float(mg.putt(5.0, 5.0, 0.5)) == pytest.approx(5.0 - 56.25 / (2 * D_TRACK), rel=1e-13)


def test_putt_of_the_exact_speed_is_holed_on_both_terrains():
    """u = sqrt(2 d x) stops the ball at the hole. On the track a = u with eps = 0 (always
    reachable: u <= 4.95 < 5 there); on the sand-like area u > 5 is out of reach of the clipped
    action with eps = 0, so the putt uses a = 5 and the noise eps = u / 5 - 1 in [0.19, 0.69]."""
    track = np.linspace(0.05, np.nextafter(BOUNDARY, 0.0), 2001)
    sand = np.linspace(BOUNDARY, 20.0, 2001)
    u_track = np.sqrt(2 * D_TRACK * track)
    u_sand = np.sqrt(2 * D_SAND * sand)
    assert u_track.max() < 5.0 and u_sand.min() > 5.0
    x = np.concatenate([track, sand])
    a = np.concatenate([u_track, np.full_like(u_sand, 5.0)])
    eps = np.concatenate([np.zeros_like(u_track), u_sand / 5.0 - 1.0])
    assert np.all(np.abs(eps) <= 1.0)
    x_next = mg.putt(x, a, eps)
    np.testing.assert_allclose(x_next, 0.0, atol=1e-12)  # at the hole, up to round-off
    # x' = 0 itself is in the hole (the bound -K <= x' <= 0 is closed on both sides)
    reward, done = mg.reward_and_done(x, np.zeros_like(x))
    assert np.all(done) and np.all(reward == 0.0)
    # a putt a hair faster (speed x (1 + 1e-9): through a on the track, through eps on the sand,
    # where a = 5 is already at the clip) drops
    on_track = x < BOUNDARY
    a_fast = np.where(on_track, a * (1 + 1e-9), a)
    eps_fast = np.where(on_track, eps, (1 + eps) * (1 + 1e-9) - 1)
    reward, done = mg.reward_and_done(x, mg.putt(x, a_fast, eps_fast))
    assert np.all(done) and np.all(reward == mg.REWARD_HOLE)
    # from the sand, eps = 0 cannot hole: the action is clipped to 5 and the ball stays short
    x_clipped = mg.putt(sand, u_sand, 0.0)
    np.testing.assert_allclose(x_clipped, sand - 25.0 / (2 * D_SAND), rtol=1e-12)
    reward, done = mg.reward_and_done(sand, x_clipped)
    assert np.all(reward == mg.REWARD_SHORT) and not np.any(done)


@pytest.mark.parametrize(
    "x, bound", [(2.0, K_TRACK), (12.5, K_TRACK), (14.0, K_SAND), (19.0, K_SAND)]
)
def test_overshoot_bound_edges(x, bound):
    xs = np.full(4, x)
    x_next = np.array([-bound, -bound * (1 - 1e-9), -bound * (1 + 1e-9), -bound - 0.01])
    reward, done = mg.reward_and_done(xs, x_next)
    np.testing.assert_array_equal(reward, [0.0, 0.0, -100.0, -100.0])
    assert np.all(done)
    # the same through the physics: speeds that stop the ball at -K/2 and at -K - 0.05
    d = D_TRACK if x < BOUNDARY else D_SAND
    a = np.sqrt(2 * d * (x + np.array([bound / 2, bound + 0.05]))) / 2.0
    reward, done = mg.reward_and_done(np.full(2, x), mg.putt(np.full(2, x), a, 1.0))
    np.testing.assert_array_equal(reward, [0.0, -100.0])
    assert np.all(done)


def test_rewards_and_termination():
    x = np.array([5.0, 5.0, 5.0, 5.0, 5.0, 15.0, 15.0, 15.0])
    x_next = np.array([4.0, 1e-9, 0.0, -3.9, -4.1, -2.7, -2.8, 0.3])
    reward, done = mg.reward_and_done(x, x_next)
    np.testing.assert_array_equal(reward, [-1, -1, 0, 0, -100, 0, -100, -1])
    np.testing.assert_array_equal(done, [False, False, True, True, True, True, True, False])
    assert reward.dtype == float and done.dtype == bool


def test_action_clipping():
    clipped = mg.clip_action(np.array([-3.0, 0.0, 1e-6, 2.0, 5.0, 7.0]))
    np.testing.assert_array_equal(clipped, [1e-5, 1e-5, 1e-5, 2.0, 5.0, 5.0])
    x = np.array([3.0, 10.0, 14.0, 18.0])
    eps = np.array([0.2, -0.5, 0.0, 0.9])
    np.testing.assert_array_equal(mg.putt(x, 100.0, eps), mg.putt(x, 5.0, eps))
    np.testing.assert_array_equal(mg.putt(x, -2.0, eps), mg.putt(x, 1e-5, eps))
    # a negative action barely moves the ball
    np.testing.assert_allclose(mg.putt(x, -2.0, eps), x, atol=1e-9)
    # from 18 m on the sand a = 10 would overshoot by far; clipped to 5 it stays short at 8.61 m
    assert float(mg.putt(18.0, 10.0, 0.0)) == pytest.approx(18.0 - 25.0 / (2 * D_SAND), rel=1e-13)


def test_noise_is_truncated_normal_with_the_right_moments():
    n = 4_000_000
    eps = mg.sample_noise(np.random.default_rng(2024), n)
    assert eps.shape == (n,)
    assert np.abs(eps).max() <= 1.0
    assert np.mean(np.abs(eps) == 1.0) == 0.0  # redrawn, not clipped: no atoms at +-1
    std = TRUNC_NOISE.std()
    assert std == pytest.approx(0.29845, abs=1e-5)
    assert abs(eps.mean()) <= 5 * std / np.sqrt(n)
    excess_kurtosis = float(TRUNC_NOISE.stats(moments="k"))
    se = sample_std_se(std, excess_kurtosis, n)
    assert abs(eps.std(ddof=1) - std) <= 5 * se
    # power: an untruncated N(0, 0.3^2) would be more than 10 standard errors away
    assert abs(0.3 - std) > 10 * se
    # the tail mass matches the truncated law (clipping instead of redrawing would double it)
    p_tail = 2 * TRUNC_NOISE.sf(0.9)
    freq = np.mean(np.abs(eps) > 0.9)
    assert abs(freq - p_tail) <= 5 * np.sqrt(p_tail * (1 - p_tail) / n)
    # shapes are kept and a seed reproduces the draw
    assert mg.sample_noise(np.random.default_rng(1), (3, 4)).shape == (3, 4)
    np.testing.assert_array_equal(
        mg.sample_noise(np.random.default_rng(1), 50), mg.sample_noise(np.random.default_rng(1), 50)
    )


def test_start_distribution_uniform_on_course():
    n = 200_000
    x0 = mg.sample_start(np.random.default_rng(3), n)
    assert x0.min() >= 0.0 and x0.max() <= 20.0
    assert abs(x0.mean() - 10.0) <= 5 * (20 / np.sqrt(12)) / np.sqrt(n)
    p = np.mean(x0 >= BOUNDARY)  # one third of starts are on the sand-like area
    assert abs(p - 1 / 3) <= 5 * np.sqrt(2 / 9 / n)


# ---------------------------------------------------------------------------------------------
# gymnasium environment
# ---------------------------------------------------------------------------------------------

TOLERATED_WARNINGS = ("render fps", "symmetric and normalized")


@pytest.mark.parametrize("render_mode", [None, "ansi"])
def test_check_env_passes(render_mode):
    env = gym.make(MINIGOLF_ID, render_mode=render_mode).unwrapped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    unexpected = [
        str(w.message) for w in caught if not any(t in str(w.message) for t in TOLERATED_WARNINGS)
    ]
    assert unexpected == []
    assert env.observation_space.shape == (1,) and env.action_space.shape == (1,)
    np.testing.assert_array_equal(env.action_space.low, [1e-5])
    np.testing.assert_array_equal(env.action_space.high, [5.0])


def test_env_truncates_at_the_horizon():
    env = gym.make(MINIGOLF_ID, horizon=7).unwrapped
    obs, _ = env.reset(seed=11)
    assert obs.shape == (1,) and 0.0 <= obs[0] <= 20.0
    for t in range(7):
        obs, reward, terminated, truncated, info = env.step(np.array([1e-5]))
        assert reward == -1.0 and not terminated
        assert truncated == (t == 6)
        assert abs(info["eps"]) <= 1.0
    with pytest.raises(ValueError):
        gym.make(MINIGOLF_ID, horizon=0)


def test_env_terminated_and_truncated_are_kept_apart():
    """With horizon 1 every step is the last: truncated exactly when not terminated, never both."""
    env = gym.make(MINIGOLF_ID, horizon=1).unwrapped
    rng = np.random.default_rng(5)
    outcomes = []
    for seed in range(300):
        obs, _ = env.reset(seed=seed)
        _, reward, terminated, truncated, _ = env.step(np.array([rng.uniform(0.5, 5.0)]))
        assert terminated != truncated
        assert terminated == (reward != mg.REWARD_SHORT)
        outcomes.append(reward)
    assert set(outcomes) == {-1.0, 0.0, -100.0}  # all three outcomes were exercised


def run_env_episodes(n_episodes: int, seed: int):
    """Episodes of the gymnasium env driven by random actions (some outside the action space)."""
    env = gym.make(MINIGOLF_ID).unwrapped
    rng = np.random.default_rng(seed)
    rows = []  # (episode seed, x, a, eps, x', r, terminated, truncated)
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed + episode)
        terminated = truncated = False
        while not (terminated or truncated):
            a = rng.uniform(-1.0, 6.0)
            x = obs[0]
            obs, reward, terminated, truncated, info = env.step(np.array([a]))
            rows.append((seed + episode, x, a, info["eps"], obs[0], reward, terminated, truncated))
    return [np.array(col) for col in zip(*rows, strict=True)]


def test_batch_dynamics_equal_the_env_step_for_step():
    seeds, x, a, eps, x_next, reward, terminated, truncated = run_env_episodes(300, seed=1000)
    assert np.all(np.abs(eps) <= 1.0)
    # Equal up to the last bit or so: the env evaluates putt() on scalars, where numpy's scalar
    # u**2 (a pow call) can differ by one ulp from the array u**2 (a multiplication).
    np.testing.assert_array_max_ulp(mg.putt(x, a, eps), x_next, maxulp=2)
    r, done = mg.reward_and_done(x, x_next)
    np.testing.assert_array_equal(r, reward)
    np.testing.assert_array_equal(done, terminated)
    assert not np.any(terminated & truncated)
    assert {-1.0, 0.0, -100.0} <= set(reward)  # every outcome occurs


def test_env_consumes_the_seeded_generator_like_the_batch_functions():
    """reset(seed=s) then steps draw x_0 ~ U[0, 20] and one eps per step from default_rng(s)."""
    env = gym.make(MINIGOLF_ID).unwrapped
    actions = np.random.default_rng(0).uniform(0.1, 3.0, size=20)
    for seed in (0, 17, 123456):
        rng = np.random.default_rng(seed)
        obs, _ = env.reset(seed=seed)
        x = mg.sample_start(rng, ())
        assert obs[0] == x
        for a in actions:
            obs, reward, terminated, truncated, info = env.step(np.array([a]))
            eps = mg.sample_noise(rng, ())
            assert info["eps"] == eps
            x_next = mg.putt(x, a, eps)
            r, done = mg.reward_and_done(x, x_next)
            assert (obs[0], reward, terminated) == (x_next, r, bool(done))
            x = x_next
            if terminated or truncated:
                break


# ---------------------------------------------------------------------------------------------
# MinigolfDomain.simulate: the batch simulator
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minigolf_domain() -> MinigolfDomain:
    return MinigolfDomain(rollouts=50, evaluation_episodes=2000)


@pytest.fixture(scope="module")
def behaviour_batch(minigolf_domain):
    rng = np.random.default_rng(77)
    theta = minigolf_domain.behaviour_parameters(rng)
    return theta, minigolf_domain.collect(theta, 3000, rng)


def test_simulate_is_consistent_with_the_physics(minigolf_domain, behaviour_batch):
    theta, batch = behaviour_batch
    domain = minigolf_domain
    n, horizon = batch.mask.shape
    assert (n, horizon) == (3000, domain.horizon)
    assert batch.states.shape == (n, horizon + 1, 1) and batch.actions.shape == (n, horizon, 1)
    x, x_next = batch.states[:, :-1, 0], batch.states[:, 1:, 0]
    a = batch.actions[..., 0]
    mask = batch.mask
    assert np.all(mask[:, 0])
    assert np.all((batch.states[:, 0, 0] >= 0) & (batch.states[:, 0, 0] <= 20))

    # every valid step: x' lies between the putts with eps = -1 (no motion) and eps = +1
    reach_max = (2 * mg.clip_action(a)) ** 2 / (2 * mg.deceleration(x))
    tol = 1e-12 * (1 + np.abs(x))
    assert np.all((x_next <= x + tol)[mask])
    assert np.all((x_next >= x - reach_max - tol)[mask])
    # the noise recovered from the stored step is |eps| <= 1 and truncated-normal
    moving = mask & (mg.clip_action(a) > 0.1)
    eps = np.sqrt(2 * mg.deceleration(x) * (x - x_next))[moving] / mg.clip_action(a)[moving] - 1
    assert np.all(np.abs(eps) <= 1 + 1e-9)
    m = eps.size
    assert m > 5000
    std = TRUNC_NOISE.std()
    assert abs(eps.mean()) <= 5 * std / np.sqrt(m)
    assert abs(eps.std() - std) <= 5 * sample_std_se(std, float(TRUNC_NOISE.stats(moments="k")), m)

    # rewards follow reward_and_done; the episode continues exactly while the ball is short
    reward, done = mg.reward_and_done(x, x_next)
    np.testing.assert_array_equal(batch.rewards[mask], reward[mask])
    np.testing.assert_array_equal(mask[:, 1:], mask[:, :-1] & ~done[:, :-1])
    assert {-1.0, 0.0, -100.0} <= set(batch.rewards[mask])
    # padding after termination: states repeat the last state, the rest is 0
    after = ~mask
    assert after.any()
    np.testing.assert_array_equal(x_next[after], x[after])
    assert np.all(batch.actions[after] == 0.0)
    assert np.all(batch.rewards[after] == 0.0)
    assert np.all(batch.behaviour_log_prob[after] == 0.0)
    # terminal states are past or in the hole; states of episodes going on are short of it
    lengths = batch.lengths
    final = batch.states[np.arange(n), lengths, 0]
    ended = done[np.arange(n), lengths - 1]
    assert np.all(final[ended] <= 0) and np.all(final[~ended] > 0)
    assert np.all(x[mask] > 0)
    # the stored log-probabilities are pi_b's
    log_prob = domain.behaviour_policy.log_prob(theta, batch.states[:, :-1], batch.actions)
    np.testing.assert_allclose(batch.behaviour_log_prob[mask], log_prob[mask], rtol=1e-12)


def test_simulate_actions_follow_the_policy(minigolf_domain, behaviour_batch):
    theta, batch = behaviour_batch
    policy = minigolf_domain.behaviour_policy
    z = (batch.actions[..., 0] - policy.mean(theta, batch.states[:, :-1])[..., 0]) / policy.std
    z = z[batch.mask]
    n = z.size
    assert abs(z.mean()) <= 5 / np.sqrt(n)
    assert abs(z.std() - 1.0) <= 5 * sample_std_se(1.0, 0.0, n)


def test_evaluate_reports_return_and_hole_rate(minigolf_domain):
    rng = np.random.default_rng(8)
    theta = minigolf_domain.behaviour_parameters(rng)
    out = minigolf_domain.evaluate(theta, rng)
    gamma, horizon = minigolf_domain.gamma, minigolf_domain.horizon
    assert 0.0 <= out["hole_rate"] <= 1.0
    assert -100 - (1 - gamma**horizon) / (1 - gamma) <= out["return"] <= 0.0
    assert out["return_se"] > 0


# ---------------------------------------------------------------------------------------------
# MinigolfDomain.q_values: Eq. 4 at every valid step with T - t steps left
# ---------------------------------------------------------------------------------------------


class FixedMove:
    """Deterministic minigolf model x' = f(x, a)."""

    def __init__(self, move):
        self.move = move

    def sample(self, states, actions, rng):
        return self.move(np.asarray(states, dtype=float), np.asarray(actions, dtype=float))


@pytest.fixture(scope="module")
def golf():
    domain = MinigolfDomain(rollouts=6)
    rng = np.random.default_rng(99)
    theta = domain.behaviour_parameters(rng)
    batch = domain.collect(theta, 300, rng)
    return domain, theta, batch


def test_q_values_use_the_remaining_horizon(golf):
    """Model x' = x - 1: the ball is short while x' > 0, then drops (x' in (-1, 0], K > 2.7), so
    Q_t(x) = -sum_{k < min(ceil(x) - 1, T - t)} gamma^k exactly."""
    domain, theta, batch = golf
    q = domain.q_values(FixedMove(lambda s, a: s - 1.0), theta, batch, np.random.default_rng(0))
    assert q.shape == batch.mask.shape
    mask = batch.mask
    np.testing.assert_array_equal(q[~mask], 0.0)
    x = batch.states[:, :-1, 0]
    assert np.all(np.abs(x[mask] - np.round(x[mask])) > 1e-9)  # away from integer round-off
    left = domain.horizon - np.arange(domain.horizon)[None, :]
    n_short = np.minimum(np.ceil(x) - 1, left)
    expected = -(1 - domain.gamma**n_short) / (1 - domain.gamma)
    np.testing.assert_allclose(q[mask], expected[mask], rtol=1e-12, atol=1e-12)
    # both limits are exercised: the horizon cuts some rollouts, the hole ends others
    assert np.any(((np.ceil(x) - 1) > left)[mask]) and np.any(((np.ceil(x) - 1) < left)[mask])


def test_q_values_when_the_ball_never_moves(golf):
    domain, theta, batch = golf
    q = domain.q_values(FixedMove(lambda s, a: s.copy()), theta, batch, np.random.default_rng(0))
    left = domain.horizon - np.arange(domain.horizon)[None, :]
    expected = np.broadcast_to(-(1 - domain.gamma**left) / (1 - domain.gamma), q.shape)
    np.testing.assert_allclose(q[batch.mask], expected[batch.mask], rtol=1e-12)
    np.testing.assert_array_equal(q[~batch.mask], 0.0)


def test_q_values_start_with_the_stored_action(golf):
    """Model x' = x - 4 a^2 (a clipped to [1e-5, 5]): where the stored action already ends the
    episode at once (hole or overshoot), Q is exactly 0 or -100 for every rollout; a first action
    drawn from pi_theta instead would average over outcomes."""
    domain, theta, batch = golf
    move = FixedMove(lambda s, a: s - 4.0 * mg.clip_action(a) ** 2)
    q = domain.q_values(move, theta, batch, np.random.default_rng(0))
    mask = batch.mask
    x = batch.states[:, :-1, 0]
    x_next = x - 4.0 * mg.clip_action(batch.actions[..., 0]) ** 2
    reward, done = mg.reward_and_done(x, x_next)
    first = mask & done
    assert np.any(first & (reward == 0.0)) and np.any(first & (reward == -100.0))
    np.testing.assert_array_equal(q[first], reward[first])
    # elsewhere the first reward is -1 and the rest is bounded by the worst outcome
    going = mask & ~done
    assert np.all(q[going] <= -1.0)
    assert np.all(q[going] >= -1.0 - domain.gamma * (100.0 + discounted_sum(20, domain.gamma)))


def test_state_values_by_rollouts_from_the_states_alone(golf):
    """The state baseline's V (MonteCarloQDomain.state_values): with the action-blind model
    x' = x - 1 it is the closed form of Q above, exactly; with x' = x - 4 a^2 it does not depend
    on the stored actions (the same generator gives the same V whatever they are), unlike Q, and
    it is 0 off the mask."""
    domain, theta, batch = golf
    mask = batch.mask
    v = domain.state_values(FixedMove(lambda s, a: s - 1.0), theta, batch, np.random.default_rng(0))
    x = batch.states[:, :-1, 0]
    left = domain.horizon - np.arange(domain.horizon)[None, :]
    n_short = np.minimum(np.ceil(x) - 1, left)
    expected = -(1 - domain.gamma**n_short) / (1 - domain.gamma)
    np.testing.assert_allclose(v[mask], expected[mask], rtol=1e-12, atol=1e-12)
    move = FixedMove(lambda s, a: s - 4.0 * mg.clip_action(a) ** 2)
    other = TrajectoryBatch(
        batch.states, batch.actions + 0.5, batch.rewards, mask, batch.behaviour_log_prob
    )
    v = domain.state_values(move, theta, batch, np.random.default_rng(3))
    np.testing.assert_array_equal(
        v, domain.state_values(move, theta, other, np.random.default_rng(3))
    )
    np.testing.assert_array_equal(v[~mask], 0.0)
    q = domain.q_values(move, theta, batch, np.random.default_rng(3))
    q_other = domain.q_values(move, theta, other, np.random.default_rng(3))
    assert np.mean(q[mask] != q_other[mask]) > 0.5


def test_q_values_with_a_fitted_model_are_zero_off_mask_and_bounded(golf):
    domain, theta, batch = golf
    mask = batch.mask
    model = domain.make_model().fit(
        batch.states[:, :-1][mask],
        batch.actions[mask],
        batch.states[:, 1:][mask],
        np.ones(mask.sum()),
    )
    q = domain.q_values(model, theta, batch, np.random.default_rng(1))
    assert q.shape == mask.shape and np.all(np.isfinite(q))
    np.testing.assert_array_equal(q[~mask], 0.0)
    left = domain.horizon - np.arange(domain.horizon)[None, :]
    lowest = -(1 - domain.gamma**left) / (1 - domain.gamma) - 100.0
    assert np.all(q[mask] <= 0.0) and np.all(q[mask] >= np.broadcast_to(lowest, q.shape)[mask])
    # reproducible with the same generator
    np.testing.assert_array_equal(q, domain.q_values(model, theta, batch, np.random.default_rng(1)))


# ---------------------------------------------------------------------------------------------
# LinearGaussianModel: weighted MLE of Eq. 3
# ---------------------------------------------------------------------------------------------

TRUE_BETA = np.array([0.4, -0.08, -1.2, -0.35])
TRUE_KAPPA = np.array([-1.0, 0.03, 0.15, 0.04])


def model_data(n: int, seed: int):
    """Transitions drawn from the model class itself at (TRUE_BETA, TRUE_KAPPA)."""
    rng = np.random.default_rng(seed)
    states = rng.uniform(0.0, 20.0, size=(n, 1))
    actions = rng.uniform(0.2, 4.8, size=(n, 1))
    truth = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH)
    truth.beta, truth.kappa = TRUE_BETA.copy(), TRUE_KAPPA.copy()
    return states, actions, truth.sample(states, actions, rng), truth


def weighted_ll(model, states, actions, next_states, w) -> float:
    return float(np.sum(w * model.log_prob(states, actions, next_states)))


def with_params(beta, kappa, **kwargs) -> LinearGaussianModel:
    model = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH, **kwargs)
    model.beta, model.kappa = np.array(beta, dtype=float), np.array(kappa, dtype=float)
    return model


def test_model_weighted_mle_recovers_the_true_parameters():
    """Tolerance: 5 asymptotic standard errors of the weighted MLE. With weights w the estimating
    equations sum_i w_i s_i = 0 give the sandwich covariance A^-1 B A^-1, A = sum w_i I_i,
    B = sum w_i^2 I_i, where the Fisher information of one transition is block diagonal:
    psi psi^T / sigma^2 for beta and 2 psi psi^T for kappa."""
    n = 40_000
    states, actions, nexts, truth = model_data(n, seed=21)
    w = np.random.default_rng(22).uniform(0.1, 1.0, size=n)
    model = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH).fit(states, actions, nexts, w)
    psi = truth.features(states, actions)
    _, sigma = truth.mean_std(states, actions)

    def sandwich_se(info_weight):
        a = psi.T @ (psi * (w * info_weight)[:, None])
        b = psi.T @ (psi * (w**2 * info_weight)[:, None])
        a_inv = np.linalg.inv(a)
        return np.sqrt(np.diag(a_inv @ b @ a_inv))

    se_beta = sandwich_se(1 / sigma**2)
    se_kappa = sandwich_se(np.full(n, 2.0))
    assert np.all(np.abs(model.beta - TRUE_BETA) <= 5 * se_beta), (model.beta, se_beta)
    assert np.all(np.abs(model.kappa - TRUE_KAPPA) <= 5 * se_kappa), (model.kappa, se_kappa)
    # the tolerance is meaningful: a few percent of each parameter
    assert np.all(5 * se_beta < 0.2 * np.abs(TRUE_BETA))
    assert np.all(5 * se_kappa < 0.5 * np.abs(TRUE_KAPPA))


def test_model_fit_is_the_weighted_maximiser():
    n = 5_000
    states, actions, nexts, truth = model_data(n, seed=31)
    rng = np.random.default_rng(32)
    w = rng.uniform(0.0, 1.0, size=n) ** 3
    model = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH).fit(states, actions, nexts, w)
    best = weighted_ll(model, states, actions, nexts, w)
    assert best >= weighted_ll(truth, states, actions, nexts, w)
    for scale in (1e-1, 1e-2, 1e-3):
        for _ in range(20):
            other = with_params(
                model.beta + scale * rng.normal(size=4), model.kappa + scale * rng.normal(size=4)
            )
            assert weighted_ll(other, states, actions, nexts, w) <= best + 1e-9 * abs(best)
    assert_stationary(model, states, actions, nexts, w)


def assert_stationary(model, states, actions, nexts, w):
    """The gradient of the weighted log-likelihood vanishes at the fit (relative to its scale)."""
    psi = model.features(states, actions)
    mean, std = model.mean_std(states, actions)
    z = ((nexts - states)[:, 0] - mean) / std
    grad_beta = psi.T @ (w * z / std)
    grad_kappa = psi.T @ (w * (z**2 - 1))
    scale_beta = np.abs(psi).T @ (w * np.abs(z) / std)
    scale_kappa = np.abs(psi).T @ (w * (z**2 + 1))
    assert np.all(np.abs(grad_beta) <= 1e-5 * scale_beta), grad_beta / scale_beta
    assert np.all(np.abs(grad_kappa) <= 1e-5 * scale_kappa), grad_kappa / scale_kappa


def test_model_fit_on_minigolf_data_is_the_weighted_maximiser(minigolf_domain, behaviour_batch):
    """The misspecified case Algorithm 1 meets: real two-terrain transitions, uneven weights."""
    _, batch = behaviour_batch
    mask = batch.mask
    states, actions, nexts = (
        batch.states[:, :-1][mask],
        batch.actions[mask],
        batch.states[:, 1:][mask],
    )
    w = np.random.default_rng(41).exponential(size=states.shape[0]) ** 2
    model = minigolf_domain.make_model().fit(states, actions, nexts, w)
    best = weighted_ll(model, states, actions, nexts, w)
    rng = np.random.default_rng(42)
    for scale in (1e-1, 1e-2, 1e-3):
        for _ in range(20):
            other = with_params(
                model.beta + scale * rng.normal(size=4),
                model.kappa + scale * rng.normal(size=4),
                state_high=mg.COURSE_LENGTH,
            )
            assert weighted_ll(other, states, actions, nexts, w) <= best + 1e-9 * abs(best)
    assert_stationary(model, states, actions, nexts, w)


def test_model_fit_is_the_maximiser_when_the_log_std_floor_is_reached():
    """Putts with a negative action (clipped to 1e-5) barely move the ball: Delta ~ 1e-11, which a
    Gaussian can fit with an arbitrarily small std, so when they carry most of the weight the
    log-std reaches its floor ``min_log_std`` = -12 on some rows. The fit must still (nearly)
    maximise the floored weighted log-likelihood that ``log_prob`` defines. The maximiser sits on
    the floor's kink, where block coordinate ascent converges only sublinearly, so here no single
    coordinate move of kappa may improve it by more than 1e-3 (relative); a Newton step that
    ignored the floor left 2.7% on the table. Away from the floor the exact test above applies."""
    rng = np.random.default_rng(0)
    n = 2000
    x = mg.sample_start(rng, n)
    a = np.where(rng.random(n) < 0.05, -1.0, rng.uniform(0.5, 3.0, n))
    x_next = mg.putt(x, a, mg.sample_noise(rng, n))
    w = np.where(a <= 0, 1.0, 1e-2)
    states, actions, nexts = x[:, None], a[:, None], x_next[:, None]
    model = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH, mg.COURSE_LENGTH).fit(
        states, actions, nexts, w
    )
    psi = model.features(states, actions)
    assert np.any(psi @ model.kappa < model.min_log_std)  # the regime this test is about
    best = weighted_ll(model, states, actions, nexts, w)
    gains = {}
    for i in range(4):
        for step in (1e-2, -1e-2, 1e-4, -1e-4):
            kappa = model.kappa.copy()
            kappa[i] += step
            other = with_params(model.beta, kappa, state_high=mg.COURSE_LENGTH)
            gains[(i, step)] = (weighted_ll(other, states, actions, nexts, w) - best) / abs(best)
    worst = max(gains, key=gains.get)
    assert gains[worst] <= 1e-3, (
        f"kappa[{worst[0]}] += {worst[1]} improves it by {gains[worst]:.3g}"
    )


def test_model_ignores_zero_weight_rows():
    n = 2_000
    states, actions, nexts, _ = model_data(n, seed=51)
    w = np.random.default_rng(52).uniform(0.1, 1.0, size=n)
    ref = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH).fit(states, actions, nexts, w)
    garbage = 7
    g_states = np.vstack([states, np.full((garbage, 1), 1e6)])
    g_actions = np.vstack([actions, np.full((garbage, 1), -3e5)])
    g_nexts = np.vstack([nexts, np.full((garbage, 1), -1e8)])
    g_w = np.concatenate([w, np.zeros(garbage)])
    perm = np.random.default_rng(53).permutation(n + garbage)
    got = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH).fit(
        g_states[perm], g_actions[perm], g_nexts[perm], g_w[perm]
    )
    np.testing.assert_allclose(got.beta, ref.beta, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got.kappa, ref.kappa, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError):
        LinearGaussianModel().fit(states, actions, nexts, np.zeros(n))
    with pytest.raises(ValueError):
        LinearGaussianModel().fit(states, actions, nexts, -w)


def test_model_fit_invariant_to_scaling_the_weights():
    n = 2_000
    states, actions, nexts, _ = model_data(n, seed=61)
    w = np.random.default_rng(62).uniform(0.0, 1.0, size=n)
    ref = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH).fit(states, actions, nexts, w)
    for c in (1e-30, 3.7, 1e25):
        got = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH).fit(states, actions, nexts, c * w)
        np.testing.assert_allclose(got.beta, ref.beta, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(got.kappa, ref.kappa, rtol=1e-7, atol=1e-9)
    # and the weights do matter: uniform weights give a different fit
    other = LinearGaussianModel(mg.ACTION_LOW, mg.ACTION_HIGH).fit(
        states, actions, nexts, np.ones(n)
    )
    assert not np.allclose(other.beta, ref.beta, rtol=1e-4)


def test_model_clips_actions_in_features_and_states_at_state_high():
    model = with_params(TRUE_BETA, TRUE_KAPPA, state_high=20.0)
    states = np.array([[3.0], [3.0], [3.0], [3.0]])
    psi = model.features(states, np.array([[9.0], [5.0], [-2.0], [1e-5]]))
    np.testing.assert_array_equal(psi[0], psi[1])
    np.testing.assert_array_equal(psi[2], psi[3])
    np.testing.assert_array_equal(psi[1], [1.0, 3.0, 5.0, 25.0])
    # an imagined putt away from the hole is stopped at the tee (x <= 20)
    far = with_params([30.0, 0, 0, 0], [np.log(0.1), 0, 0, 0], state_high=20.0)
    out = far.sample(np.full((1000, 1), 5.0), np.ones((1000, 1)), np.random.default_rng(0))
    assert out.shape == (1000, 1)
    assert np.all(out == 20.0)
    # below state_high nothing is clipped
    near = with_params([-2.0, 0, 0, 0], [np.log(0.1), 0, 0, 0], state_high=20.0)
    out = near.sample(np.full((1000, 1), 5.0), np.ones((1000, 1)), np.random.default_rng(0))
    assert np.all(out < 20.0) and np.unique(out).size == 1000


def test_model_sample_moments_match_mean_std():
    model = with_params(TRUE_BETA, TRUE_KAPPA)
    n = 40_000
    states = np.repeat(np.array([[2.0], [10.0], [18.0]]), n, axis=0)
    actions = np.repeat(np.array([[0.5], [2.5], [4.5]]), n, axis=0)
    nexts = model.sample(states, actions, np.random.default_rng(71))
    assert nexts.shape == states.shape
    mean, std = model.mean_std(states[::n], actions[::n])
    delta = (nexts - states)[:, 0].reshape(3, n)
    assert np.all(np.abs(delta.mean(axis=1) - mean) <= 5 * std / np.sqrt(n))
    assert np.all(np.abs(delta.std(axis=1) - std) <= 5 * sample_std_se(std, 0.0, n))
    # log_prob is the Gaussian density of Delta
    x_next = states[::n] + np.array([[0.3], [-1.0], [0.0]])
    expected = -0.5 * ((x_next - states[::n])[:, 0] - mean) ** 2 / std**2 - np.log(
        std * np.sqrt(2 * np.pi)
    )
    np.testing.assert_allclose(model.log_prob(states[::n], actions[::n], x_next), expected)
