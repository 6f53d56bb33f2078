"""Action values Q^{pi, p} (gamps.value): finite_horizon_q against enumeration and Monte Carlo,
and the generic Monte Carlo Q engine of Eq. 4 (monte_carlo_q) and its state values
(monte_carlo_v, the state baseline) against closed forms.

Stochastic checks of the engine compare the estimate with the exact Q within 5 standard errors,
where the standard error sqrt(Var(G) / M) uses the exact variance of one rollout's return G,
computed in closed form for each toy model: a correct engine fails with probability ~6e-7 per
comparison.
"""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import brute_q, discounted_sum, random_pi, tiny_mdp

from gamps.domains.minigolf.model import LinearGaussianModel
from gamps.policies import GaussianPolicy, Identity
from gamps.value import finite_horizon_q, monte_carlo_q, monte_carlo_v

# ---------------------------------------------------------------------------------------------
# finite_horizon_q: backward induction against enumeration and samples
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finite_horizon_q_matches_enumeration(seed):
    mdp = tiny_mdp(seed)
    pi = random_pi(seed + 10)
    q = finite_horizon_q(mdp.transitions, mdp.reward, pi, mdp.gamma, mdp.horizon, mdp.terminal)
    assert q.shape == (mdp.horizon, 3, 2)
    np.testing.assert_allclose(q, brute_q(mdp, pi), atol=1e-12)
    assert np.all(q[:, mdp.terminal] == 0.0)
    # the last step only collects the immediate reward
    np.testing.assert_allclose(q[-1, ~mdp.terminal], mdp.reward[~mdp.terminal])


def test_finite_horizon_q_matches_monte_carlo():
    mdp = tiny_mdp(5, gamma=0.9, horizon=6)
    pi = random_pi(6)
    q = finite_horizon_q(mdp.transitions, mdp.reward, pi, mdp.gamma, mdp.horizon, mdp.terminal)
    rng = np.random.default_rng(0)
    n, t0, s0, a0 = 100_000, 1, 0, 1
    state = np.full(n, s0)
    action = np.full(n, a0)
    ret = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    for k in range(mdp.horizon - t0):
        ret += np.where(alive, mdp.gamma**k * mdp.reward[state, action], 0.0)
        cdf = np.cumsum(mdp.transitions[state, action], axis=-1)
        state = np.minimum((rng.random((n, 1)) > cdf).sum(-1), 2)
        alive &= ~mdp.terminal[state]
        cdf = np.cumsum(pi[state], axis=-1)
        action = np.minimum((rng.random((n, 1)) > cdf).sum(-1), 1)
    se = ret.std() / np.sqrt(n)
    assert abs(ret.mean() - q[t0, s0, a0]) <= 5 * se  # CLT: 5 standard errors


# ---------------------------------------------------------------------------------------------
# monte_carlo_q: toy models, policies and rewards
# ---------------------------------------------------------------------------------------------


GAMMA = 0.9


class ConstantFeature:
    """phi(s) = 1: a Gaussian policy on it has the same mean theta in every state."""

    dim = 1

    def __call__(self, states) -> np.ndarray:
        return np.ones(np.shape(states)[:-1] + (1,))


class Shift:
    """Deterministic model s' = s + delta (the action is ignored); records the calls it gets."""

    def __init__(self, delta, max_calls: int | None = None):
        self.delta = np.asarray(delta, dtype=float)
        self.max_calls = max_calls
        self.shapes = []

    def sample(self, states, actions, rng):
        self.shapes.append((np.shape(states), np.shape(actions)))
        if self.max_calls is not None:
            assert len(self.shapes) <= self.max_calls, "the rollouts looked past the horizon"
        return np.asarray(states, dtype=float) + self.delta


class GeometricEnd:
    """States (position, coin): each step moves one forward and draws a fresh coin ~ U(0, 1); the
    reward function ends the episode when the coin falls below p."""

    def sample(self, states, actions, rng):
        out = np.array(states, dtype=float)
        out[:, 0] += 1.0
        out[:, 1] = rng.random(out.shape[0])
        return out


def constant_reward(value):
    def reward_and_done(s, a, s_next):
        return np.full(s.shape[0], value), np.zeros(s.shape[0], dtype=bool)

    return reward_and_done


def next_position_reward(s, a, s_next):
    return s_next[:, 0].copy(), np.zeros(s.shape[0], dtype=bool)


def action_reward(s, a, s_next):
    return a[:, 0].copy(), np.zeros(s.shape[0], dtype=bool)


def dummy_policy():
    return GaussianPolicy(ConstantFeature(), 1, 1.0), np.array([0.0])


# ---------------------------------------------------------------------------------------------
# (a) deterministic model
# ---------------------------------------------------------------------------------------------


def test_deterministic_model_constant_reward_is_the_discounted_count():
    steps = np.array([1, 2, 5, 20, 37, 3])
    p = steps.size
    states = np.random.default_rng(0).normal(size=(p, 1))
    policy, theta = dummy_policy()
    q = monte_carlo_q(
        Shift(0.5),
        policy,
        theta,
        constant_reward(1.5),
        states,
        np.zeros((p, 1)),
        steps,
        GAMMA,
        rollouts=3,
        rng=np.random.default_rng(1),
    )
    assert q.shape == (p,)
    np.testing.assert_allclose(q, 1.5 * discounted_sum(steps, GAMMA), rtol=1e-13)
    np.testing.assert_allclose(q[0], 1.5, rtol=0)  # one step: the immediate reward alone


def test_deterministic_model_state_dependent_reward_is_discounted_in_order():
    """r_k = s_{k+1} = s_0 + (k + 1) delta, so Q = sum_{k<n} gamma^k (s_0 + (k + 1) delta): a
    discount applied one step late, or the pairs mixed up, would show."""
    steps = np.array([4, 1, 9, 6])
    states = np.array([[2.0], [-1.0], [0.5], [10.0]])
    policy, theta = dummy_policy()
    q = monte_carlo_q(
        Shift(0.25),
        policy,
        theta,
        next_position_reward,
        states,
        np.zeros((4, 1)),
        steps,
        GAMMA,
        rollouts=2,
        rng=np.random.default_rng(2),
    )
    expected = [
        sum(GAMMA**k * (s0 + (k + 1) * 0.25) for k in range(n))
        for s0, n in zip(states[:, 0], steps, strict=True)
    ]
    np.testing.assert_allclose(q, expected, rtol=1e-13)


# ---------------------------------------------------------------------------------------------
# (b) termination at a geometric random time
# ---------------------------------------------------------------------------------------------


def geometric_return_law(n, p, r_step, r_end, gamma=GAMMA):
    """Values and probabilities of G: the episode ends at step k < n with probability
    (1 - p)^k p (rewards r_step before, r_end at k), or survives all n steps."""
    values = [r_step * discounted_sum(k, gamma) + gamma**k * r_end for k in range(n)]
    probs = [(1 - p) ** k * p for k in range(n)]
    values.append(r_step * discounted_sum(n, gamma))
    probs.append((1 - p) ** n)
    return np.array(values), np.array(probs)


def test_geometric_termination_matches_closed_form():
    p, r_step, r_end = 0.15, 1.0, -20.0
    steps = np.array([1, 2, 5, 12, 60])
    m = 20_000

    def reward_and_done(s, a, s_next):
        done = s_next[:, 1] < p
        return np.where(done, r_end, r_step), done

    states = np.column_stack([np.arange(steps.size, dtype=float), np.full(steps.size, 0.5)])
    policy, theta = dummy_policy()
    q = monte_carlo_q(
        GeometricEnd(),
        policy,
        theta,
        reward_and_done,
        states,
        np.zeros((steps.size, 1)),
        steps,
        GAMMA,
        rollouts=m,
        rng=np.random.default_rng(3),
    )
    # closed form: every step k < n is reached with probability (1 - p)^k and pays on average
    # (1 - p) r_step + p r_end
    closed = ((1 - p) * r_step + p * r_end) * discounted_sum(steps, GAMMA * (1 - p))
    for i, n in enumerate(steps):
        values, probs = geometric_return_law(n, p, r_step, r_end)
        mean = probs @ values
        assert mean == pytest.approx(closed[i], rel=1e-12)
        se = np.sqrt(probs @ (values - mean) ** 2 / m)
        assert abs(q[i] - closed[i]) <= 5 * se, (n, q[i], closed[i], se)
        # power: dropping the reward of the final step would be far outside the tolerance
        terminal_part = r_end * np.sum(probs[:-1] * GAMMA ** np.arange(n))
        assert abs(terminal_part) > 10 * se


# ---------------------------------------------------------------------------------------------
# (c) Gaussian random walk, linear reward; (e) the first action is given, later ones from pi
# ---------------------------------------------------------------------------------------------


def test_gaussian_random_walk_with_linear_reward():
    """Model (the real LinearGaussianModel): Delta_k = mu + b a_k + sigma xi_k; policy a ~ N(m, s^2)
    in every state; reward r_k = s_{k+1}. With a_0 given,
    E r_k = s_0 + (k + 1) mu + b (a_0 + k m),  Var G = sum_j Var(Delta_j) (sum_{k=j}^{n-1} g^k)^2,
    Var(Delta_0) = sigma^2 and Var(Delta_j) = sigma^2 + b^2 s^2 for j >= 1."""
    mu, b, sigma, m_pi, s_pi = 0.3, -0.8, 0.5, 1.2, 0.7
    model = LinearGaussianModel()
    model.beta = np.array([mu, 0.0, b, 0.0])
    model.kappa = np.array([np.log(sigma), 0.0, 0.0, 0.0])
    policy = GaussianPolicy(ConstantFeature(), 1, s_pi)
    theta = np.array([m_pi])
    states = np.array([[1.0], [1.0], [-2.0], [4.0], [0.0]])
    actions = np.array([[0.0], [3.0], [1.0], [-1.0], [2.0]])
    steps = np.array([6, 6, 1, 15, 3])
    rollouts = 20_000
    q = monte_carlo_q(
        model,
        policy,
        theta,
        next_position_reward,
        states,
        actions,
        steps,
        GAMMA,
        rollouts,
        np.random.default_rng(4),
    )
    for i, n in enumerate(steps):
        k = np.arange(n)
        s0, a0 = states[i, 0], actions[i, 0]
        expected = np.sum(GAMMA**k * (s0 + (k + 1) * mu + b * (a0 + k * m_pi)))
        tail = np.array([np.sum(GAMMA ** np.arange(j, n)) for j in range(n)])
        var_delta = np.r_[sigma**2, np.full(n - 1, sigma**2 + b**2 * s_pi**2)]
        se = np.sqrt(np.sum(var_delta * tail**2) / rollouts)
        assert abs(q[i] - expected) <= 5 * se, (i, q[i], expected, se)
    # the same state with two first actions: the first move b a_0 persists in every later reward,
    # so Q(s, 3) - Q(s, 0) = 3 b sum_{k<6} gamma^k in expectation (independent rollouts)
    tail = np.array([np.sum(GAMMA ** np.arange(j, 6)) for j in range(6)])
    var_g = np.sum(np.r_[sigma**2, np.full(5, sigma**2 + b**2 * s_pi**2)] * tail**2)
    assert abs((q[1] - q[0]) - 3.0 * b * discounted_sum(6, GAMMA)) <= 5 * np.sqrt(
        2 * var_g / rollouts
    )


def test_first_action_is_the_given_one_and_later_actions_follow_pi_at_the_current_state():
    """Deterministic model s' = s + 1, reward = the action taken, policy mean theta * s: then
    Q(s, a) = a + sum_{k=1}^{n-1} gamma^k theta (s + k), while V(s) would replace a by theta s.
    A policy evaluated at the start state instead of the current one, or a first action drawn
    from pi, would be rejected."""
    theta = np.array([0.6])
    s_pi = 0.2
    policy = GaussianPolicy(Identity(1), 1, s_pi)
    states = np.array([[1.0], [1.0], [1.0], [5.0], [5.0]])
    actions = np.array([[-3.0], [0.6], [2.5], [0.0], [0.0]])
    steps = np.array([8, 8, 8, 1, 4])
    rollouts = 5_000
    q = monte_carlo_q(
        Shift(1.0),
        policy,
        theta,
        action_reward,
        states,
        actions,
        steps,
        GAMMA,
        rollouts,
        np.random.default_rng(5),
    )
    for i, n in enumerate(steps):
        k = np.arange(1, n)
        expected = actions[i, 0] + np.sum(GAMMA**k * theta[0] * (states[i, 0] + k))
        se = s_pi * np.sqrt(np.sum(GAMMA ** (2 * k)) / rollouts)
        if n == 1:
            assert q[i] == actions[i, 0]  # nothing but the given action
        else:
            assert abs(q[i] - expected) <= 5 * se, (i, q[i], expected, se)
        # power: the start-state policy would give a gap of theta * sum gamma^k k >> se
        if n > 1:
            stale = actions[i, 0] + np.sum(GAMMA**k * theta[0] * states[i, 0])
            assert abs(stale - expected) > 20 * se
    # Q(s, a) - Q(s, a') = a - a' up to Monte Carlo error (independent rollouts): Q is not V
    k = np.arange(1, 8)
    se_diff = s_pi * np.sqrt(2 * np.sum(GAMMA ** (2 * k)) / rollouts)
    assert abs((q[2] - q[0]) - 5.5) <= 5 * se_diff


# ---------------------------------------------------------------------------------------------
# (d) steps = 0 and the horizon; (f) determinism; (g) shapes
# ---------------------------------------------------------------------------------------------


def test_zero_steps_gives_zero_and_rollouts_stop_at_the_horizon():
    policy, theta = dummy_policy()
    states = np.ones((4, 1))
    actions = np.zeros((4, 1))
    # no step left anywhere: Q = 0 and the model is never called
    model = Shift(1.0, max_calls=0)
    q = monte_carlo_q(
        model,
        policy,
        theta,
        constant_reward(7.0),
        states,
        actions,
        np.zeros(4, int),
        GAMMA,
        10,
        np.random.default_rng(0),
    )
    np.testing.assert_array_equal(q, 0.0)
    assert model.shapes == []
    # mixed: the pair with 0 steps gets 0 while the others run; the model is asked at most
    # max(steps) times, and nothing beyond each pair's own horizon is counted
    steps = np.array([0, 3, 1, 5])
    model = Shift(1.0, max_calls=5)
    q = monte_carlo_q(
        model,
        policy,
        theta,
        constant_reward(7.0),
        states,
        actions,
        steps,
        GAMMA,
        10,
        np.random.default_rng(0),
    )
    np.testing.assert_allclose(q, 7.0 * discounted_sum(steps, GAMMA), rtol=1e-13)
    assert q[0] == 0.0
    assert len(model.shapes) == 5


def test_rollouts_stop_once_all_have_ended():
    """Every rollout ends at its first step: one model call, whatever the horizon."""
    policy, theta = dummy_policy()
    model = Shift(1.0, max_calls=1)

    def ends_now(s, a, s_next):
        return np.full(s.shape[0], -2.0), np.ones(s.shape[0], dtype=bool)

    q = monte_carlo_q(
        model,
        policy,
        theta,
        ends_now,
        np.zeros((3, 1)),
        np.zeros((3, 1)),
        np.array([20, 5, 1]),
        GAMMA,
        7,
        np.random.default_rng(0),
    )
    np.testing.assert_array_equal(q, -2.0)


def random_walk_setup():
    model = LinearGaussianModel()
    model.beta = np.array([0.1, 0.0, 0.5, 0.0])
    model.kappa = np.array([np.log(0.4), 0.0, 0.0, 0.0])
    policy = GaussianPolicy(ConstantFeature(), 1, 0.5)
    states = np.array([[0.0], [1.0], [2.0]])
    actions = np.array([[1.0], [0.0], [-1.0]])
    return model, policy, np.array([0.3]), states, actions, np.array([5, 2, 9])


def test_same_seed_gives_identical_q_and_another_seed_does_not():
    model, policy, theta, states, actions, steps = random_walk_setup()

    def run(seed):
        return monte_carlo_q(
            model,
            policy,
            theta,
            next_position_reward,
            states,
            actions,
            steps,
            GAMMA,
            50,
            np.random.default_rng(seed),
        )

    np.testing.assert_array_equal(run(11), run(11))
    assert np.all(run(11) != run(12))


def test_shapes_pairs_times_rollouts():
    """P pairs with a 2-d state advance as one [P * M, ds] array; the result is [P]."""
    p, m = 5, 13
    model = Shift(np.array([1.0, -1.0]))
    policy = GaussianPolicy(ConstantFeature(), 2, 1.0)
    q = monte_carlo_q(
        model,
        policy,
        np.zeros(2),
        next_position_reward,
        np.zeros((p, 2)),
        np.zeros((p, 2)),
        np.full(p, 3),
        GAMMA,
        m,
        np.random.default_rng(0),
    )
    assert q.shape == (p,)
    assert model.shapes == [((p * m, 2), (p * m, 2))] * 3
    np.testing.assert_allclose(q, 1.0 + 2.0 * GAMMA + 3.0 * GAMMA**2)


def test_monte_carlo_error_shrinks_like_one_over_sqrt_m():
    """Per-pair estimates over many pairs with the same (s, a): their spread is sqrt(Var G / M)."""
    model, policy, theta, _, _, _ = random_walk_setup()
    p, n = 400, 4
    states, actions = np.zeros((p, 1)), np.ones((p, 1))
    sds = []
    for m in (4, 64):
        q = monte_carlo_q(
            model,
            policy,
            theta,
            next_position_reward,
            states,
            actions,
            np.full(p, n),
            GAMMA,
            m,
            np.random.default_rng(m),
        )
        sds.append(q.std(ddof=1))
    # ratio of the two sample std's is 4 (= sqrt(64 / 4)); the sd of each is ~ sd / sqrt(2 P)
    ratio = sds[0] / sds[1]
    assert abs(ratio - 4.0) <= 5 * 4.0 * np.sqrt(2 / (2 * p))


# ---------------------------------------------------------------------------------------------
# monte_carlo_v: the first action drawn from pi too
# ---------------------------------------------------------------------------------------------


def test_state_value_draws_the_first_action_from_pi_at_the_state():
    """The deterministic model and action reward of the Q test above: V(s) replaces the given
    a by a ~ N(theta s, s_pi^2), so V(s) = sum_{k<n} gamma^k theta (s + k), with a standard error
    s_pi sqrt(sum_{k<n} gamma^{2k} / M). A first action fixed at 0 (Q(s, 0)) would be rejected."""
    theta = np.array([0.6])
    s_pi = 0.2
    policy = GaussianPolicy(Identity(1), 1, s_pi)
    states = np.array([[1.0], [5.0], [-2.0], [3.0]])
    steps = np.array([8, 1, 4, 0])
    rollouts = 5_000
    v = monte_carlo_v(
        Shift(1.0),
        policy,
        theta,
        action_reward,
        states,
        steps,
        GAMMA,
        rollouts,
        np.random.default_rng(5),
    )
    assert v.shape == (4,) and v[3] == 0.0
    for i, n in enumerate(steps[:3]):
        k = np.arange(n)
        expected = np.sum(GAMMA**k * theta[0] * (states[i, 0] + k))
        se = s_pi * np.sqrt(np.sum(GAMMA ** (2 * k)) / rollouts)
        assert abs(v[i] - expected) <= 5 * se, (i, v[i], expected, se)
        assert abs(theta[0] * states[i, 0]) > 20 * se  # power: Q(s, 0) lacks the first term


def test_state_value_of_a_gaussian_random_walk():
    """The random walk of the Q test, with a_0 ~ N(m, s^2) too: E r_k = s_0 + (k + 1)(mu + b m)
    and every Var(Delta_j) = sigma^2 + b^2 s^2, so Var G = sum_j Var(Delta_j) (sum_{k>=j} g^k)^2."""
    mu, b, sigma, m_pi, s_pi = 0.3, -0.8, 0.5, 1.2, 0.7
    model = LinearGaussianModel()
    model.beta = np.array([mu, 0.0, b, 0.0])
    model.kappa = np.array([np.log(sigma), 0.0, 0.0, 0.0])
    policy = GaussianPolicy(ConstantFeature(), 1, s_pi)
    states = np.array([[1.0], [-2.0], [4.0]])
    steps = np.array([6, 1, 15])
    rollouts = 20_000
    v = monte_carlo_v(
        model,
        policy,
        np.array([m_pi]),
        next_position_reward,
        states,
        steps,
        GAMMA,
        rollouts,
        np.random.default_rng(4),
    )
    for i, n in enumerate(steps):
        k = np.arange(n)
        expected = np.sum(GAMMA**k * (states[i, 0] + (k + 1) * (mu + b * m_pi)))
        tail = np.array([np.sum(GAMMA ** np.arange(j, n)) for j in range(n)])
        se = np.sqrt(np.sum((sigma**2 + b**2 * s_pi**2) * tail**2) / rollouts)
        assert abs(v[i] - expected) <= 5 * se, (i, v[i], expected, se)


def test_state_value_rollouts_stop_at_the_horizon_and_use_their_rng():
    """V runs the same engine as Q: no model call without steps, at most max(steps) calls, the
    P x M rollouts in one array, reproducible with the generator's seed."""
    policy, theta = dummy_policy()
    model = Shift(1.0, max_calls=5)
    steps = np.array([0, 3, 1, 5])
    v = monte_carlo_v(
        model, policy, theta, constant_reward(7.0), np.ones((4, 1)), steps, GAMMA, 10,
        np.random.default_rng(0),
    )  # fmt: skip
    np.testing.assert_allclose(v, 7.0 * discounted_sum(steps, GAMMA), rtol=1e-13)
    assert model.shapes[0] == ((30, 1), (30, 1)) and len(model.shapes) == 5
    walk, walk_policy, walk_theta, states, _, walk_steps = random_walk_setup()

    def run(seed):
        return monte_carlo_v(
            walk, walk_policy, walk_theta, next_position_reward, states, walk_steps, GAMMA, 50,
            np.random.default_rng(seed),
        )  # fmt: skip

    np.testing.assert_array_equal(run(11), run(11))
    assert np.all(run(11) != run(12))
