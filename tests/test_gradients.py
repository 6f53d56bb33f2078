"""Policy-gradient estimators (gamps.gradients). Algorithm 1 writes each estimator as per-step
coefficients c[N, T] that the policy contracts with its scores; tests/fixtures.py has reference
estimators written from the equations on explicit scores. The coefficients must reproduce the
references (hand-built and random batches), and the estimators must be unbiased for the exact
gradient of the gridworld, on and off policy, with and without the state baseline (Eq. 5 with
the exact V, the model-free ones with their leave-one-out baselines)."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import (
    random_log_batch,
    reference_mvg,
    reference_pgt,
    reference_pgt_baseline,
    reference_reinforce,
    reference_reinforce_baseline,
)

from gamps import exact, gradients, weights
from gamps.domains.gridworld.model import ActionEffectModel
from gamps.value import finite_horizon_q

GAMMA = 0.9
HORIZON = 20

#: The coefficient form of each estimator in gamps.gradients, and its reference.
COEFFICIENTS = {
    "mvg": gradients.mvg_coefficients,
    "reinforce": gradients.reinforce_coefficients,
    "pgt": gradients.pgt_coefficients,
    "reinforce_baseline": gradients.reinforce_baseline_coefficients,
    "pgt_baseline": gradients.pgt_baseline_coefficients,
}
REFERENCES = {
    "mvg": reference_mvg,
    "reinforce": reference_reinforce,
    "pgt": reference_pgt,
    "reinforce_baseline": reference_reinforce_baseline,
    "pgt_baseline": reference_pgt_baseline,
}


# ---------------------------------------------------------------------------------------------
# The coefficient form against the reference estimators
# ---------------------------------------------------------------------------------------------


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
    np.testing.assert_allclose(reference_mvg(score, log_rho, q, g, mask), [mvg])
    np.testing.assert_allclose(reference_reinforce(score, log_rho, rewards, g, mask), [reinforce])
    np.testing.assert_allclose(reference_pgt(score, log_rho, rewards, g, mask), [pgt])
    # the coefficient form of gamps.gradients gives the same numbers
    cases = [("mvg", q, mvg), ("reinforce", rewards, reinforce), ("pgt", rewards, pgt)]
    for name, signal, expected in cases:
        coef = COEFFICIENTS[name](log_rho, signal, g, mask)
        np.testing.assert_allclose(np.einsum("nt,ntd->d", coef, score) / 2, [expected])


def test_baselines_on_hand_built_batch():
    """The leave-one-out baselines on the same 2-trajectory batch, by hand. REINFORCE: each
    trajectory's baseline is the other's return. PGT: at t = 0 each trajectory's baseline is the
    other's reward-to-go G_0; at t = 1, 2 only the first runs, so its baseline is 0 there."""
    mask = np.array([[True, True, True], [True, False, False]])
    score = np.array([[1.0, -2.0, 0.5], [3.0, 7.0, 7.0]])[..., None]
    rewards = np.array([[-1.0, -1.0, 2.0], [4.0, 0.0, 0.0]])
    log_rho = np.log(np.array([[2.0, 1.0, 0.5], [0.25, 0.25, 0.25]]))
    g = 0.5
    ret0, ret1 = -1.0 - g + g**2 * 2.0, 4.0
    reinforce = (0.5 * (1.0 - 2.0 + 0.5) * (ret0 - ret1) + 0.25 * 3.0 * (ret1 - ret0)) / 2
    # G_0 of the first trajectory: step ratios rho_1 = 1 / 2 and rho_2 = 0.5 / 1
    to_go0 = -1.0 + g * 0.5 * -1.0 + g**2 * 0.5 * 0.5 * 2.0
    pgt_plain = reference_pgt(score, log_rho, rewards, g, mask)[0]
    pgt = pgt_plain - (2.0 * 1.0 * ret1 + 0.25 * 3.0 * to_go0) / 2
    for name, expected in (("reinforce_baseline", reinforce), ("pgt_baseline", pgt)):
        np.testing.assert_allclose(REFERENCES[name](score, log_rho, rewards, g, mask), [expected])
        coef = COEFFICIENTS[name](log_rho, rewards, g, mask)
        np.testing.assert_allclose(np.einsum("nt,ntd->d", coef, score) / 2, [expected])


def test_leave_one_out_mean():
    values = np.array([[1.0, 5.0], [3.0, 7.0], [8.0, 9.0]])
    present = np.array([[True, True], [True, False], [False, False]])
    expected = np.array([[3.0, 0.0], [1.0, 5.0], [2.0, 5.0]])  # column 2: only row 0 counts
    np.testing.assert_array_equal(gradients.leave_one_out_mean(values, present), expected)


@pytest.mark.parametrize("estimator", list(COEFFICIENTS))
def test_coefficients_contract_to_the_reference_estimators(estimator):
    """Random batches with trajectories that end early (one at once), garbage in the padding and a
    3-d score: 1/N sum_{i,t} c_t^i score_t^i is the estimator written from its equation, and the
    coefficients vanish on the padding."""
    for seed in range(5):
        target, behaviour, mask = random_log_batch(seed)
        log_rho = weights.log_importance_ratios(target, behaviour, mask)
        rng = np.random.default_rng(seed)
        score = np.where(mask[..., None], rng.normal(size=(*mask.shape, 3)), 7.0)
        signal = np.where(mask, rng.normal(size=mask.shape), 7.0)  # Q for MVG, else rewards
        coef = COEFFICIENTS[estimator](log_rho, signal, 0.7, mask)
        assert coef.shape == mask.shape and np.all(coef[~mask] == 0.0)
        got = np.einsum("nt,ntd->d", coef, score) / mask.shape[0]
        expected = REFERENCES[estimator](score, log_rho, signal, 0.7, mask)
        assert np.abs(expected).max() > 0.1
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# Unbiasedness against the exact gradient
# ---------------------------------------------------------------------------------------------


N_CHUNKS = 80
CHUNK = 2500  # 200,000 trajectories in all


def true_q_at_samples(q, batch):
    return q[np.arange(batch.horizon)[None, :], batch.states[:, :-1], batch.actions]


def state_values_at_samples(q, pi, batch):
    """V_t(s_t) = sum_a pi(a | s_t) Q_t(s_t, a) at every step of the batch."""
    v = np.sum(pi * q, axis=-1)
    return v[np.arange(batch.horizon)[None, :], batch.states[:, :-1]]


def library_estimate(policy, theta, batch, name, log_rho, signal):
    """The estimate of ``name`` as Algorithm 1 forms it: coefficients contracted by the policy."""
    coef = COEFFICIENTS[name](log_rho, signal, GAMMA, batch.mask)
    return policy.score_dot(theta, batch.states[:, :-1], batch.actions, coef) / batch.n


def assert_library_matches(policy, theta, batch, name, log_rho, signal, reference):
    """gamps.gradients' coefficients of ``name``, contracted by ``policy.score_dot`` and divided by
    N (``algorithms.estimate_gradient``), equal the reference estimate."""
    coef = COEFFICIENTS[name](log_rho, signal, GAMMA, batch.mask)
    library = policy.score_dot(theta, batch.states[:, :-1], batch.actions, coef) / batch.n
    scale = np.abs(reference).max()
    np.testing.assert_allclose(library, reference, rtol=1e-9, atol=1e-12 * scale)


def chunk_estimates(domain, behaviour, target, seed, model_tensor=None):
    """Each estimator evaluated on N_CHUNKS independent batches of CHUNK trajectories of pi_b.

    The chunk estimates are i.i.d., so their mean has standard error std / sqrt(N_CHUNKS). The
    estimates are those of the reference estimators (tests/fixtures.py); on every chunk the
    coefficient form of gamps.gradients, contracted by the policy as in Algorithm 1, must give the
    same vectors, so the unbiasedness checked below is also the library's. The estimators with a
    state baseline ("*_baseline": Eq. 5 on Q - V with the exact V, the model-free ones with their
    leave-one-out baselines over the chunk) are the library's, checked against the references
    on small batches above (the references' loops over pairs of trajectories are too slow here)."""
    rng = np.random.default_rng(seed)
    policy, mdp = domain.policy, domain.mdp
    pi = policy.probs(target)
    q_true = finite_horizon_q(mdp.transitions, mdp.reward, pi, GAMMA, HORIZON, mdp.terminal)
    q_model = None
    if model_tensor is not None:
        q_model = finite_horizon_q(model_tensor, mdp.reward, pi, GAMMA, HORIZON, mdp.terminal)
    out: dict[str, list] = {}
    for _ in range(N_CHUNKS):
        batch = domain.collect(behaviour, CHUNK, rng)
        states, actions = batch.states[:, :-1], batch.actions
        log_rho = weights.log_importance_ratios(
            policy.log_prob(target, states, actions), batch.behaviour_log_prob, batch.mask
        )
        score = policy.score(target, states, actions)
        q = true_q_at_samples(q_true, batch)
        v = state_values_at_samples(q_true, pi, batch)
        out.setdefault("mvg", []).append(reference_mvg(score, log_rho, q, GAMMA, batch.mask))
        out.setdefault("reinforce", []).append(
            reference_reinforce(score, log_rho, batch.rewards, GAMMA, batch.mask)
        )
        out.setdefault("pgt", []).append(
            reference_pgt(score, log_rho, batch.rewards, GAMMA, batch.mask)
        )
        out.setdefault("pgt_no_is", []).append(
            reference_pgt(score, np.zeros_like(log_rho), batch.rewards, GAMMA, batch.mask)
        )
        for name, signal in (("mvg", q), ("reinforce", batch.rewards), ("pgt", batch.rewards)):
            assert_library_matches(policy, target, batch, name, log_rho, signal, out[name][-1])
        for key, name, signal in (
            ("mvg_baseline", "mvg", q - v),
            ("reinforce_baseline", "reinforce_baseline", batch.rewards),
            ("pgt_baseline", "pgt_baseline", batch.rewards),
        ):
            estimate = library_estimate(policy, target, batch, name, log_rho, signal)
            out.setdefault(key, []).append(estimate)
        if q_model is not None:
            q_hat = true_q_at_samples(q_model, batch)
            out.setdefault("mvg_model", []).append(
                reference_mvg(score, log_rho, q_hat, GAMMA, batch.mask)
            )
            assert_library_matches(
                policy, target, batch, "mvg", log_rho, q_hat, out["mvg_model"][-1]
            )
            v_hat = state_values_at_samples(q_model, pi, batch)
            out.setdefault("mvg_model_baseline", []).append(
                library_estimate(policy, target, batch, "mvg", log_rho, q_hat - v_hat)
            )
    return {k: np.array(v) for k, v in out.items()}


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


WITH_BASELINES = ["mvg", "reinforce", "pgt", "mvg_baseline", "reinforce_baseline", "pgt_baseline"]


@pytest.mark.parametrize("estimator", WITH_BASELINES)
def test_on_policy_estimators_are_unbiased(domain, generic_theta, on_policy_chunks, estimator):
    grad = exact.boltzmann_gradient(domain.mdp, domain.policy.probs(generic_theta)).ravel()
    z, _ = z_scores(on_policy_chunks[estimator], grad)
    assert z.max() <= 5.0, (estimator, z.max(), int(np.argmax(z)))
    # the test has power: the same check rejects an estimator biased by 10% (shrunk by 0.9)
    assert z_scores(0.9 * on_policy_chunks[estimator], grad)[0].max() > 5.0


@pytest.mark.parametrize("estimator", ["mvg_model", "mvg_model_baseline"])
def test_on_policy_sample_mvg_with_model_matches_exact_mvg(
    domain, generic_theta, on_policy_chunks, model_for_mvg, estimator
):
    """Eq. 5 with a wrong model estimates the exact MVG of Eq. 2, with or without the state
    baseline V^{pi, p_hat} of the same model."""
    pi = domain.policy.probs(generic_theta)
    exact_mvg = exact.boltzmann_gradient(
        domain.mdp, pi, model_transitions=model_for_mvg.transition_tensor()
    ).ravel()
    z, _ = z_scores(on_policy_chunks[estimator], exact_mvg)
    assert z.max() <= 5.0
    # and the wrong model's MVG is detectably different from the policy gradient
    z_wrong, _ = z_scores(
        on_policy_chunks[estimator], exact.boltzmann_gradient(domain.mdp, pi).ravel()
    )
    assert z_wrong.max() > 10.0


@pytest.mark.parametrize("estimator", WITH_BASELINES)
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
