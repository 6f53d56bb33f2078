"""Policies, importance and GAMPS weights, gradient estimators, and the gridworld model class."""

from __future__ import annotations

import numpy as np
import pytest

from gamps import exact, gradients, weights
from gamps.domains.gridworld import dynamics as gw
from gamps.domains.gridworld.model import ActionEffectModel
from gamps.value import finite_horizon_q

GAMMA = 0.9
HORIZON = 20

# ---------------------------------------------------------------------------------------------
# BoltzmannPolicy
# ---------------------------------------------------------------------------------------------


def test_probs_and_log_prob(policy, generic_theta):
    probs = policy.probs(generic_theta)
    assert probs.shape == (25, 4)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    table = generic_theta.reshape(25, 4)
    np.testing.assert_allclose(probs[3], np.exp(table[3]) / np.exp(table[3]).sum())
    states = np.array([[0, 7, 24], [13, 13, 1]])
    actions = np.array([[3, 0, 2], [1, 2, 0]])
    np.testing.assert_allclose(
        policy.log_prob(generic_theta, states, actions), np.log(probs)[states, actions]
    )


def test_score_matches_finite_differences_of_log_prob(policy, generic_theta):
    rng = np.random.default_rng(0)
    states = rng.integers(25, size=(3, 4))
    actions = rng.integers(4, size=(3, 4))
    score = policy.score(generic_theta, states, actions)
    assert score.shape == (3, 4, 100)
    eps = 1e-6
    fd = np.zeros_like(score)
    for i in range(100):
        step = np.zeros(100)
        step[i] = eps
        fd[..., i] = (
            policy.log_prob(generic_theta + step, states, actions)
            - policy.log_prob(generic_theta - step, states, actions)
        ) / (2 * eps)
    np.testing.assert_allclose(score, fd, atol=1e-8)
    # the score lives on the row of the visited state only
    rows = np.arange(100) // 4
    assert np.all(score[rows[None, None, :] != states[..., None]] == 0.0)


@pytest.mark.parametrize("q", [1.0, 2.0, np.inf])
def test_score_norm_is_norm_of_score(policy, generic_theta, q):
    rng = np.random.default_rng(1)
    states = rng.integers(25, size=(50, 20))
    actions = rng.integers(4, size=(50, 20))
    expected = np.linalg.norm(policy.score(generic_theta, states, actions), ord=q, axis=-1)
    np.testing.assert_allclose(policy.score_norm(generic_theta, states, actions, q=q), expected)


def test_score_norm_vanishes_for_deterministic_lower_area(policy, behaviour_theta):
    lower = np.arange(10, 25)
    greedy = np.argmax(policy.probs(behaviour_theta)[lower], axis=1)
    assert np.all(policy.score_norm(behaviour_theta, lower, greedy) < 1e-4)
    upper = np.arange(1, 10)
    assert np.all(policy.score_norm(behaviour_theta, upper, np.zeros(9, int)) > 1e-2)


def test_sample_frequencies_match_probs(policy, generic_theta):
    n = 20_000
    states = np.repeat(np.arange(25), n)
    actions = policy.sample(generic_theta, states, np.random.default_rng(2))
    assert actions.shape == states.shape
    assert actions.min() >= 0 and actions.max() <= 3
    freq = np.stack([np.bincount(actions[states == s], minlength=4) for s in range(25)]) / n
    p = policy.probs(generic_theta)
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n))  # binomial CLT, 5 SE
    # batched shapes are kept
    assert policy.sample(generic_theta, np.zeros((3, 2), int), np.random.default_rng(0)).shape == (
        3,
        2,
    )


# ---------------------------------------------------------------------------------------------
# Importance ratios and GAMPS weights
# ---------------------------------------------------------------------------------------------


def random_log_batch(seed=0, n=6, horizon=5):
    """Log-probabilities with a prefix mask (some trajectories end early, one at once); padded
    entries hold arbitrary finite values, which must be ignored."""
    rng = np.random.default_rng(seed)
    lengths = np.array([horizon, 3, 1, horizon, 2, 0])[:n]
    mask = np.arange(horizon)[None, :] < lengths[:, None]
    target = np.log(rng.uniform(0.05, 1.0, size=(n, horizon)))
    behaviour = np.log(rng.uniform(0.05, 1.0, size=(n, horizon)))
    target[~mask] = rng.normal(0, 5, size=(~mask).sum())
    behaviour[~mask] = rng.normal(0, 5, size=(~mask).sum())
    return target, behaviour, mask


def test_log_importance_ratios_brute_force():
    target, behaviour, mask = random_log_batch()
    n, horizon = mask.shape
    brute = np.ones((n, horizon))
    for i in range(n):
        for t in range(horizon):
            prod = 1.0
            for step in range(t + 1):
                if mask[i, step]:
                    prod *= np.exp(target[i, step]) / np.exp(behaviour[i, step])
            brute[i, t] = prod
    got = weights.log_importance_ratios(target, behaviour, mask)
    assert got.shape == (n, horizon)
    np.testing.assert_allclose(np.exp(got), brute, rtol=1e-12)
    # the last column is the whole-trajectory ratio
    whole = [np.prod(np.exp(target[i] - behaviour[i])[mask[i]]) for i in range(n)]
    np.testing.assert_allclose(np.exp(got[:, -1]), whole, rtol=1e-12)
    # an empty trajectory has ratio 1
    assert got[5, -1] == 0.0


def test_gamps_weights_brute_force():
    target, behaviour, mask = random_log_batch(seed=3)
    norms = np.random.default_rng(4).uniform(0.0, 1.5, size=mask.shape)
    gamma = 0.7
    log_rho = weights.log_importance_ratios(target, behaviour, mask)
    n, horizon = mask.shape
    brute = np.zeros((n, horizon))
    for i in range(n):
        for t in range(horizon):
            if not mask[i, t]:
                continue
            rho = np.prod([np.exp(target[i, k] - behaviour[i, k]) for k in range(t + 1)])
            brute[i, t] = gamma**t * rho * sum(norms[i, k] for k in range(t + 1))
    log_w = weights.log_gamps_weights(log_rho, norms, gamma, mask)
    np.testing.assert_allclose(np.exp(log_w), brute, rtol=1e-12)
    assert np.all(np.isneginf(log_w[~mask]))
    w = weights.gamps_weights(log_rho, norms, gamma, mask)
    np.testing.assert_allclose(w, brute / brute.max(), rtol=1e-12)
    assert w.max() == 1.0


def test_gamps_weights_finite_for_extreme_ratios():
    mask = np.ones((3, 4), dtype=bool)
    log_rho = np.array([[800.0] * 4, [700.0] * 4, [-900.0] * 4])
    norms = np.ones((3, 4))
    w = weights.gamps_weights(log_rho, norms, 0.9, mask)
    assert np.all(np.isfinite(w)) and w.max() == 1.0
    assert np.all(w[1:] < 1e-40)
    # nothing observed: all zero, no NaN
    empty = weights.gamps_weights(log_rho, norms, 0.9, np.zeros((3, 4), dtype=bool))
    np.testing.assert_array_equal(empty, 0.0)


def test_effective_sample_size():
    assert weights.effective_sample_size(np.zeros(50)) == pytest.approx(50.0)
    assert weights.effective_sample_size(np.array([0.0, -800.0, -900.0])) == pytest.approx(1.0)
    log_w = np.log(np.array([1.0, 2.0, 3.0, 4.0]))
    assert weights.effective_sample_size(log_w) == pytest.approx(100 / 30)
    assert weights.effective_sample_size(np.array([-np.inf, -np.inf])) == 0.0


# ---------------------------------------------------------------------------------------------
# Gradient estimators: unbiasedness against the exact gradient
# ---------------------------------------------------------------------------------------------

N_CHUNKS = 80
CHUNK = 2500  # 200,000 trajectories in all


def true_q_at_samples(q, batch):
    return q[np.arange(batch.horizon)[None, :], batch.states[:, :-1], batch.actions]


def chunk_estimates(domain, behaviour, target, seed, model_tensor=None):
    """Each estimator evaluated on N_CHUNKS independent batches of CHUNK trajectories of pi_b.

    The chunk estimates are i.i.d., so their mean has standard error std / sqrt(N_CHUNKS)."""
    rng = np.random.default_rng(seed)
    policy, mdp = domain.policy, domain.mdp
    pi = policy.probs(target)
    q_true = finite_horizon_q(mdp.transitions, mdp.reward, pi, GAMMA, HORIZON, mdp.terminal)
    q_model = None
    if model_tensor is not None:
        q_model = finite_horizon_q(model_tensor, mdp.reward, pi, GAMMA, HORIZON, mdp.terminal)
    out = {"mvg": [], "reinforce": [], "pgt": [], "pgt_no_is": [], "mvg_model": []}
    for _ in range(N_CHUNKS):
        batch = domain.collect(behaviour, CHUNK, rng)
        states, actions = batch.states[:, :-1], batch.actions
        log_rho = weights.log_importance_ratios(
            policy.log_prob(target, states, actions), batch.behaviour_log_prob, batch.mask
        )
        score = policy.score(target, states, actions)
        q = true_q_at_samples(q_true, batch)
        out["mvg"].append(gradients.mvg(score, log_rho, q, GAMMA, batch.mask))
        out["reinforce"].append(
            gradients.reinforce(score, log_rho, batch.rewards, GAMMA, batch.mask)
        )
        out["pgt"].append(gradients.pgt(score, log_rho, batch.rewards, GAMMA, batch.mask))
        out["pgt_no_is"].append(
            gradients.pgt(score, np.zeros_like(log_rho), batch.rewards, GAMMA, batch.mask)
        )
        if q_model is not None:
            q_hat = true_q_at_samples(q_model, batch)
            out["mvg_model"].append(gradients.mvg(score, log_rho, q_hat, GAMMA, batch.mask))
    return {k: np.array(v) for k, v in out.items() if v}


def z_scores(chunks, exact_gradient):
    """|mean - exact| / SE per coordinate, SE = sample std of the chunk means / sqrt(K).

    Justification of the 5-SE tolerance used below: each chunk mean averages 2,500 i.i.d.
    trajectories, so the chunk means are close to normal (CLT) and the standardised error of a
    coordinate is Student-t with K - 1 = 79 degrees of freedom; P(|t_79| > 5) ~ 3e-6, so even
    over 100 coordinates a correct estimator fails with probability < 1e-3. Coordinates whose
    chunk estimates never vary (the goal state, never visited) must match to round-off.
    """
    mean = chunks.mean(axis=0)
    se = chunks.std(axis=0, ddof=1) / np.sqrt(chunks.shape[0])
    diff = np.abs(mean - exact_gradient)
    constant = se < 1e-12
    assert np.all(diff[constant] < 1e-9)
    return np.where(constant, 0.0, diff / np.where(constant, 1.0, se)), se


@pytest.fixture(scope="module")
def model_for_mvg():
    """A wrong but fixed model (p_hat(effect | action) far from either area's dynamics)."""
    model = ActionEffectModel()
    model.effect_probs = np.array(
        [
            [0.5, 0.1, 0.1, 0.1, 0.2],
            [0.1, 0.6, 0.1, 0.1, 0.1],
            [0.2, 0.2, 0.3, 0.2, 0.1],
            [0.05, 0.05, 0.05, 0.8, 0.05],
        ]
    )
    return model


@pytest.fixture(scope="module")
def on_policy_chunks(domain, generic_theta, model_for_mvg):
    return chunk_estimates(
        domain,
        generic_theta,
        generic_theta,
        seed=101,
        model_tensor=model_for_mvg.transition_tensor(),
    )


@pytest.fixture(scope="module")
def off_policy_setup(domain, generic_theta):
    target = generic_theta + np.random.default_rng(9).normal(0.0, 0.2, size=generic_theta.shape)
    return target, chunk_estimates(domain, generic_theta, target, seed=202)


@pytest.mark.parametrize("estimator", ["mvg", "reinforce", "pgt"])
def test_on_policy_estimators_are_unbiased(domain, generic_theta, on_policy_chunks, estimator):
    grad = exact.boltzmann_gradient(domain.mdp, domain.policy.probs(generic_theta)).ravel()
    z, _ = z_scores(on_policy_chunks[estimator], grad)
    assert z.max() <= 5.0, (estimator, z.max(), int(np.argmax(z)))
    # the test has power: the same check rejects an estimator biased by 10% (shrunk by 0.9)
    assert z_scores(0.9 * on_policy_chunks[estimator], grad)[0].max() > 5.0


def test_on_policy_sample_mvg_with_model_matches_exact_mvg(
    domain, generic_theta, on_policy_chunks, model_for_mvg
):
    pi = domain.policy.probs(generic_theta)
    exact_mvg = exact.boltzmann_gradient(
        domain.mdp, pi, model_transitions=model_for_mvg.transition_tensor()
    ).ravel()
    z, _ = z_scores(on_policy_chunks["mvg_model"], exact_mvg)
    assert z.max() <= 5.0
    # and the wrong model's MVG is detectably different from the policy gradient
    z_wrong, _ = z_scores(
        on_policy_chunks["mvg_model"], exact.boltzmann_gradient(domain.mdp, pi).ravel()
    )
    assert z_wrong.max() > 10.0


@pytest.mark.parametrize("estimator", ["pgt", "mvg", "reinforce"])
def test_off_policy_estimators_are_unbiased(domain, off_policy_setup, estimator):
    target, chunks = off_policy_setup
    grad = exact.boltzmann_gradient(domain.mdp, domain.policy.probs(target)).ravel()
    z, _ = z_scores(chunks[estimator], grad)
    assert z.max() <= 5.0, (estimator, z.max(), int(np.argmax(z)))
    # power: an estimator biased by 20% would be rejected
    assert z_scores(0.8 * chunks[estimator], grad)[0].max() > 5.0


def test_off_policy_pgt_needs_the_importance_ratios(domain, off_policy_setup):
    """Power check: the same test rejects PGT evaluated without importance sampling."""
    target, chunks = off_policy_setup
    grad = exact.boltzmann_gradient(domain.mdp, domain.policy.probs(target)).ravel()
    z, _ = z_scores(chunks["pgt_no_is"], grad)
    assert z.max() > 10.0


def test_estimators_on_hand_built_batch():
    """Eq. 5, REINFORCE and PGT on a 2-trajectory batch with a 1-d score, computed by hand."""
    mask = np.array([[True, True, True], [True, False, False]])
    score = np.array([[1.0, -2.0, 0.5], [3.0, 7.0, 7.0]])[..., None]  # padded entries = 7
    rewards = np.array([[-1.0, -1.0, 2.0], [4.0, 0.0, 0.0]])
    log_rho = np.log(np.array([[2.0, 1.0, 0.5], [0.25, 0.25, 0.25]]))
    q = np.array([[1.0, 2.0, 3.0], [5.0, 9.0, 9.0]])
    g = 0.5
    mvg = (2.0 * 1.0 * 1.0 + g * 1.0 * -2.0 * 2.0 + g**2 * 0.5 * 0.5 * 3.0 + 0.25 * 3.0 * 5.0) / 2
    ret0 = -1.0 - g + g**2 * 2.0
    reinforce = (0.5 * (1.0 - 2.0 + 0.5) * ret0 + 0.25 * 3.0 * 4.0) / 2
    # PGT: sum_t' gamma^t' rho_{0:t'} r_t' sum_{t<=t'} score_t
    pgt = (
        2.0 * -1.0 * 1.0 + g * 1.0 * -1.0 * (1.0 - 2.0) + g**2 * 0.5 * 2.0 * (1.0 - 2.0 + 0.5)
    ) / 2 + (0.25 * 4.0 * 3.0) / 2
    np.testing.assert_allclose(gradients.mvg(score, log_rho, q, g, mask), [mvg])
    np.testing.assert_allclose(gradients.reinforce(score, log_rho, rewards, g, mask), [reinforce])
    np.testing.assert_allclose(gradients.pgt(score, log_rho, rewards, g, mask), [pgt])


# ---------------------------------------------------------------------------------------------
# ActionEffectModel
# ---------------------------------------------------------------------------------------------

UP, DOWN, LEFT, RIGHT, STAY = range(5)


def s(row, col):
    return row * 5 + col


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
