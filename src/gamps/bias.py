"""Exact gradient-bias diagnostics of the MVG on a finite MDP (Theorem 3.2, Lemma 4.1).

For a tabular Boltzmann policy pi and any transition model p_hat this module computes, in closed
form, the bias ||grad J - grad^MVG J||_q of the model-value-based gradient (Eq. 1 against Eq. 2),
its cosine with the true gradient, and the right-hand side of Theorem 3.2 in the finite-horizon
form that holds for the episodic MDPs of this package.

Theorem 3.2 for an episodic MDP of horizon T
--------------------------------------------
Notation (the definitions of ``exact`` and ``value``):

- d_t(s, a) = Pr(s_t = s, a_t = a, episode still running), t < T;
- Q_t = Q_t^{pi, p} and Qh_t = Q_t^{pi, p_hat} by backward induction, Q_T = 0, Q_t = 0 at terminal
  states (the reward and the terminal set are known);
- grad J = sum_t gamma^t sum_{s,a} d_t(s, a) Q_t(s, a) score(s, a) (Eq. 1), grad^MVG J the same
  with Qh_t (Eq. 2), score = grad_theta log pi(a | s);
- eta~(s, a) = sum_t gamma^t E[1{s_t = s, a_t = a, running} sum_{l<=t} ||score(s_l, a_l)||_q],
  W = sum_{s,a} eta~(s, a), eta = eta~ / W (``exact.gradient_aware_occupancy``);
- R_max = max |r(s, a)| over non-terminal s;
- H = sum_{j=0}^{T-2} gamma^j = (1 - gamma^{T-1}) / (1 - gamma).

Then, for every q in [1, inf] and every model p_hat (in the model class or not),

    ||grad J - grad^MVG J||_q <= gamma R_max H W E_eta[||p - p_hat||_1]              (bound_l1)
                              <= sqrt(2) gamma R_max H W sqrt(E_eta[KL(p || p_hat)])  (bound)

with p = p(. | s, a) and p_hat = p_hat(. | s, a) inside the expectations. Derivation, following
the paper's proof sketch:

1. Triangle inequality: ||grad J - grad^MVG J||_q
   <= sum_t gamma^t sum_{s,a} d_t(s, a) ||score(s, a)||_q |Q_t(s, a) - Qh_t(s, a)|.
2. Q difference through the occupancy: subtracting the two Bellman equations,
   Q_t - Qh_t = gamma P (V_{t+1} - Vh_{t+1}) + gamma (P - P_hat) Vh_{t+1}, with V - Vh = 0 at
   terminal states; unrolled under the true p,
   (Q_t - Qh_t)(s, a) = gamma sum_{k>=t} gamma^{k-t}
                        E[1{running at k} <p - p_hat, Vh_{k+1}>(s_k, a_k) | s_t = s, a_t = a],
   the finite-horizon occupancy from (s, a) of the sketch.
3. Transition difference: |<p - p_hat, Vh_{k+1}>| <= ||p - p_hat||_1 ||Vh_{k+1}||_inf, and
   ||Vh_{k+1}||_inf <= R_max H: from step k + 1 >= 1 at most T - 1 discounted rewards remain, and
   Vh = 0 at terminal states.
4. eta appears: putting 2-3 into 1 and using the Markov property,
   sum_t gamma^t sum_{s,a} d_t ||score||_q sum_{k>=t} gamma^{k-t} E[f(s_k, a_k) | s_t, a_t]
   = sum_k gamma^k E[1{running at k} f(s_k, a_k) sum_{l<=k} ||score_l||_q] = W E_eta[f]
   (Lemma 4.1 with rho = 1, read backwards). This is ``bound_l1``.
5. Pinsker, ||p - p_hat||_1 <= sqrt(2 KL(p || p_hat)), then Jensen, E sqrt <= sqrt E: ``bound``.

The constant of ``bound_l1`` is sharp: a start state whose two actions lead to a +R or a -R
absorbing state with probabilities 1/2 +- e, a model predicting 1/2, and a policy uniform there and
deterministic elsewhere attain it with equality (tests/test_bias.py).

Relation to the paper's constant: W = sum_l gamma^l E[||score_l||_q sum_{k=l}^{T-1} gamma^{k-l}
1{running at k}] <= Z (1 - gamma^T) / (1 - gamma) with Z = sum_t gamma^t sum_{s,a} d_t ||score||_q,
and H < 1 / (1 - gamma), so the bound is at most sqrt(2) gamma Z R_max / (1 - gamma)^2
sqrt(E_eta KL): the paper's expression when Z is taken on the unnormalised occupancy
sum_t gamma^t Pr(s_t = s, a_t = a). With the normalised delta of Section 2, Z_delta = (1 - gamma) Z
in the long-horizon limit, and the printed constant misses a factor 1 / (1 - gamma): on the
example above with a long horizon it falls below the realised bias, by a factor sqrt(1 - gamma).

KL(p || p_hat) is +inf where p_hat gives probability 0 to a possible next state; the bound is then
+inf (trivially true) as soon as eta weighs that pair, and pairs with eta = 0 never contribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from . import algorithms, exact
from .models import TransitionModel
from .policies import tabular_score_norms
from .value import finite_horizon_q

M = TypeVar("M", bound=TransitionModel)


def visitation(mdp: exact.FiniteMDP, pi: np.ndarray) -> np.ndarray:
    """sum_t Pr(s_t = s, a_t = a, running), [S, A]: the expected number of visits per trajectory,
    the N -> inf limit of maximum likelihood's unit weights (divided by N)."""
    return exact.state_action_occupancy(mdp, pi).sum(axis=0)


def kl_divergence(p: np.ndarray, p_hat: np.ndarray) -> np.ndarray:
    """KL(p(. | s, a) || p_hat(. | s, a)) for every (s, a), [S, A]; +inf where p_hat misses p."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(p_hat)), 0.0)
    return terms.sum(axis=-1)


def l1_distance(p: np.ndarray, p_hat: np.ndarray) -> np.ndarray:
    """||p(. | s, a) - p_hat(. | s, a)||_1 for every (s, a), [S, A]."""
    return np.abs(p - p_hat).sum(axis=-1)


def expectation(weights: np.ndarray, values: np.ndarray) -> float:
    """sum_x weights(x) values(x) over weights > 0 (0 * inf counts as 0; inf stays inf)."""
    with np.errstate(invalid="ignore"):
        return float(np.sum(np.where(weights > 0, weights * values, 0.0)))


def value_horizon(mdp: exact.FiniteMDP) -> float:
    """H = sum_{j=0}^{T-2} gamma^j: ||V^{pi, p_hat}_{k+1}||_inf <= R_max H for every k >= 0."""
    return float(np.sum(mdp.gamma ** np.arange(mdp.horizon - 1)))


def reward_bound(mdp: exact.FiniteMDP) -> float:
    """R_max = max |r(s, a)| over the states where rewards are collected (non-terminal)."""
    live = ~np.asarray(mdp.terminal)
    return float(np.abs(mdp.reward[live]).max()) if live.any() else 0.0


def lq_norm(x: np.ndarray, q: float) -> float:
    return float(np.linalg.norm(np.ravel(x), ord=q))


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    """Cosine similarity of two gradients; 0 when either is the zero vector."""
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    return float(np.dot(np.ravel(u), np.ravel(v)) / (nu * nv)) if nu > 0 and nv > 0 else 0.0


@dataclass(frozen=True)
class GradientBias:
    """The MVG of one model against the true gradient, and Theorem 3.2's bound on the gap."""

    grad_norm: float  # ||grad J||_q
    mvg_norm: float  # ||grad^MVG J||_q
    bias: float  # ||grad J - grad^MVG J||_q
    cosine: float  # cos(grad J, grad^MVG J)
    expected_kl: float  # E_eta[KL(p || p_hat)], may be +inf
    expected_l1: float  # E_eta[||p - p_hat||_1]
    weighted_q_error: float  # step 1: sum_t gamma^t sum d_t ||score||_q |Q_t - Qh_t|
    bound_l1: float  # gamma R_max H W E_eta||p - p_hat||_1 (before Pinsker)
    bound: float  # sqrt(2) gamma R_max H W sqrt(E_eta KL): Theorem 3.2, may be +inf


class BiasAnalysis:
    """Everything of Theorem 3.2 that depends on the policy only, computed once per policy.

    ``mdp`` is the true finite MDP, ``pi`` a tabular Boltzmann policy [S, A]; ``q`` is the norm of
    the score (Eq. 3) and of the gradient difference.
    """

    def __init__(self, mdp: exact.FiniteMDP, pi: np.ndarray, q: float = 2.0):
        self.mdp, self.pi, self.q = mdp, np.asarray(pi, dtype=float), q
        self.score_norm = tabular_score_norms(self.pi, q)
        self.eta_mass = exact.gradient_aware_occupancy(mdp, self.pi, self.score_norm, False)
        self.normaliser = float(self.eta_mass.sum())  # W
        self.eta = self.eta_mass / self.normaliser if self.normaliser > 0 else self.eta_mass
        self.constant = mdp.gamma * reward_bound(mdp) * value_horizon(mdp) * self.normaliser
        self.grad = exact.boltzmann_gradient(mdp, self.pi)
        self.q_true = self._q(mdp.transitions)
        self.step_weights = np.einsum(  # gamma^t d_t(s, a) ||score(s, a)||_q
            "t,tsa,sa->tsa",
            mdp.gamma ** np.arange(mdp.horizon),
            exact.state_action_occupancy(mdp, self.pi),
            self.score_norm,
        )

    def _q(self, transitions: np.ndarray) -> np.ndarray:
        mdp = self.mdp
        return finite_horizon_q(
            transitions, mdp.reward, self.pi, mdp.gamma, mdp.horizon, mdp.terminal
        )

    def mvg(self, model_transitions: np.ndarray) -> np.ndarray:
        """The exact MVG of Eq. 2 with the model ``model_transitions`` [S, A, S]."""
        return exact.boltzmann_gradient(self.mdp, self.pi, model_transitions)

    def evaluate(self, model_transitions: np.ndarray) -> GradientBias:
        mvg = self.mvg(model_transitions)
        expected_kl = expectation(self.eta, kl_divergence(self.mdp.transitions, model_transitions))
        expected_l1 = expectation(self.eta, l1_distance(self.mdp.transitions, model_transitions))
        return GradientBias(
            grad_norm=lq_norm(self.grad, self.q),
            mvg_norm=lq_norm(mvg, self.q),
            bias=lq_norm(self.grad - mvg, self.q),
            cosine=cosine(self.grad, mvg),
            expected_kl=expected_kl,
            expected_l1=expected_l1,
            weighted_q_error=self.weighted_q_error(model_transitions),
            bound_l1=self.constant * expected_l1,
            bound=self.kl_bound(expected_kl),
        )

    def kl_bound(self, expected_kl: float) -> float:
        """sqrt(2) gamma R_max H W sqrt(E_eta KL); 0 when the constant is 0 (T = 1 or R_max = 0:
        Vh_{k+1} = 0 in step 3, so no model error reaches Q), even where the KL is infinite."""
        if self.constant == 0.0:
            return 0.0
        return float(np.sqrt(2.0) * self.constant * np.sqrt(expected_kl))

    def weighted_q_error(self, model_transitions: np.ndarray) -> float:
        """Step 1 of the derivation: sum_t gamma^t sum_{s,a} d_t ||score||_q |Q_t - Qh_t|, the
        quantity between the bias and ``bound_l1``."""
        gap = np.abs(self.q_true - self._q(model_transitions))
        return float(np.sum(self.step_weights * gap))


# ---------------------------------------------------------------------------------------------
# Models fitted on the exact distributions and on samples
# ---------------------------------------------------------------------------------------------


def fit_on_distribution(model: M, mdp: exact.FiniteMDP, sa_weights: np.ndarray) -> M:
    """Weighted MLE of Eq. 3 on an exact distribution: transition (s, a, s') weighs
    w(s, a) p(s' | s, a). With w the expected per-trajectory sum of the sample weights, this is the
    N -> inf limit of the fit on N trajectories."""
    mass = np.asarray(sa_weights, dtype=float)[:, :, None] * mdp.transitions
    s, a, s_next = np.nonzero(mass > 0)
    return model.fit(s, a, s_next, mass[s, a, s_next])


def exact_weights(analysis: BiasAnalysis, algorithm: str, behaviour_pi: np.ndarray) -> np.ndarray:
    """The N -> inf limit of an algorithm's model weights per (s, a), unnormalised.

    GAMPS: eta~ of the current policy (Lemma 4.1: the importance ratios turn pi_b's samples into
    expectations under pi). ML: the undiscounted visitation of the behaviour policy, since unit
    weights count every observed transition of pi_b's data, whatever the current policy.
    """
    limit = algorithms.get(algorithm).exact_weights
    if limit is None:
        raise ValueError(f"{algorithm!r} has no exact limit of its model weights")
    return limit(analysis, behaviour_pi)


def normalised(x: np.ndarray) -> np.ndarray:
    return x / x.sum() if x.sum() > 0 else x
