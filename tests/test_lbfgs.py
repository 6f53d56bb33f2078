"""The L-BFGS of the Swimmer's model fits (gamps.domains.swimmer.lbfgs) against closed forms: its
compact-form direction is the two-loop recursion's, it solves a quadratic to its minimiser, and
a callback stops it."""

import numpy as np
import pytest

from gamps.domains.swimmer import lbfgs


def two_loop(g, pairs_s, pairs_y):
    """Nocedal's two-loop recursion with H0 = (s'y / y'y) I of the newest pair."""
    q, alphas = g.copy(), []
    for s, y in zip(reversed(pairs_s), reversed(pairs_y), strict=True):
        alpha = (s @ q) / (s @ y)
        q -= alpha * y
        alphas.append(alpha)
    r = q * (pairs_s[-1] @ pairs_y[-1]) / (pairs_y[-1] @ pairs_y[-1])
    for (s, y), alpha in zip(zip(pairs_s, pairs_y, strict=True), reversed(alphas), strict=True):
        r += (alpha - (y @ r) / (s @ y)) * s
    return r


@pytest.mark.parametrize("memory", [1, 3, 7])
def test_directions_are_the_two_loop_recursion(memory):
    """Every direction of a run with ``memory`` pairs (the store wraps around) equals the
    two-loop recursion on the same pairs."""
    rng = np.random.default_rng(0)
    n = 12
    a = rng.normal(size=(n, n))
    hessian = a @ a.T + np.eye(n)
    xs, gs = [], []

    def fun(x):
        return 0.5 * x @ hessian @ x + 0.1 * np.sum(x**4), hessian @ x + 0.4 * x**3

    def record(x):
        xs.append(x.copy())
        gs.append(fun(x)[1])

    x0 = rng.normal(size=n)
    record(x0)
    lbfgs.minimise(fun, x0, memory, 15, record)
    pairs = [(xs[i + 1] - xs[i], gs[i + 1] - gs[i]) for i in range(len(xs) - 1)]
    # Rebuild each direction: the step from x_k is -t H_k g_k with t a power of 1/2.
    for k in range(1, len(xs) - 1):
        kept = pairs[max(0, k - memory) : k]
        expected = -two_loop(gs[k], [s for s, _ in kept], [y for _, y in kept])
        step = xs[k + 1] - xs[k]
        t = (step @ expected) / (expected @ expected)
        assert np.log2(t) == pytest.approx(round(np.log2(t)), abs=1e-9)
        np.testing.assert_allclose(step, t * expected, rtol=1e-7, atol=1e-12)


def test_a_quadratic_is_solved():
    rng = np.random.default_rng(1)
    n = 30
    a = rng.normal(size=(n, n))
    hessian = a @ a.T + np.eye(n)
    b = rng.normal(size=n)
    solution = np.linalg.solve(hessian, b)
    x, iterations = lbfgs.minimise(
        lambda x: (0.5 * x @ hessian @ x - b @ x, hessian @ x - b), np.zeros(n), 10, 200
    )
    np.testing.assert_allclose(x, solution, rtol=1e-6, atol=1e-8)


def test_a_callback_stops_it():
    seen = []

    def stop_at_three(x):
        seen.append(x)
        if len(seen) == 3:
            raise lbfgs.Stop

    x, iterations = lbfgs.minimise(lambda x: (x @ x, 2 * x), np.ones(4), 5, 100, stop_at_three)
    assert iterations == 3 and len(seen) == 3
    np.testing.assert_array_equal(x, seen[-1])
