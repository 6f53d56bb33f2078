"""Minigolf with two terrains (Section 7.2, Figure 3 left): the physics of one putt.

After Penner, "The physics of putting" (Can. J. Phys. 80(2), 2002), as fixed by
REPLICATION_SPEC.md. The state is the distance x to the hole; the action is the putter's angular
velocity a. A putt of speed u = a L (1 + eps) decelerates at d = (5/7) f g, where the friction f
of the terrain the shot starts on applies to the whole shot, and would stop at x' = x - u^2 / (2d).
The ball drops if it passes the hole slowly enough: -K <= x' <= 0, with
K = (2h - r)^2 g / (2r) / (2d).

Every function takes whole arrays; the noise eps is an input, so the gymnasium environment and the
batch simulator share this one implementation and agree step for step under the same noise.
"""

from __future__ import annotations

import numpy as np

GRAVITY = 9.81
PUTTER_LENGTH = 1.0
HOLE_SIZE = 0.10
BALL_RADIUS = 0.02135
COURSE_LENGTH = 20.0
TERRAIN_BOUNDARY = 40.0 / 3.0  # two thirds of the course, nearest the hole, is the standard track
FRICTION_TRACK = 0.131
FRICTION_SAND = 0.19
NOISE_STD = 0.3
NOISE_BOUND = 1.0
ACTION_LOW, ACTION_HIGH = 1e-5, 5.0
REWARD_SHORT, REWARD_HOLE, REWARD_OVERSHOOT = -1.0, 0.0, -100.0


def friction(x):
    """f = 0.131 on the standard track (x < 40/3), 0.19 on the sand-like area beyond."""
    return np.where(np.asarray(x) < TERRAIN_BOUNDARY, FRICTION_TRACK, FRICTION_SAND)


def deceleration(x):
    """d = (5/7) f g of a shot that starts at distance x."""
    return 5.0 / 7.0 * friction(x) * GRAVITY


def overshoot_bound(x):
    """K: how far past the hole a shot started at x may stop and still drop in."""
    return (2 * HOLE_SIZE - BALL_RADIUS) ** 2 * GRAVITY / (2 * BALL_RADIUS) / (2 * deceleration(x))


def clip_action(a):
    return np.clip(a, ACTION_LOW, ACTION_HIGH)


def putt(x, a, eps):
    """Where the ball would stop, x' = x - u^2 / (2d), for the (clipped) action a and noise eps."""
    u = clip_action(a) * PUTTER_LENGTH * (1.0 + eps)
    return x - u * u / (2.0 * deceleration(x))


def reward_and_done(x, x_next):
    """The known reward r(x, x') and termination: short (-1, go on), holed (0, end) or
    overshoot (-100, end)."""
    holed = (x_next <= 0) & (x_next >= -overshoot_bound(x))
    overshoot = x_next < -overshoot_bound(x)
    reward = np.where(overshoot, REWARD_OVERSHOOT, np.where(holed, REWARD_HOLE, REWARD_SHORT))
    return reward, holed | overshoot


def sample_noise(rng: np.random.Generator, shape) -> np.ndarray:
    """eps ~ N(0, 0.3^2), redrawn until |eps| <= 1 (only the rejected entries are redrawn)."""
    eps = rng.normal(0.0, NOISE_STD, size=shape)
    bad = np.abs(eps) > NOISE_BOUND
    while np.any(bad):
        eps[bad] = rng.normal(0.0, NOISE_STD, size=int(bad.sum()))
        bad = np.abs(eps) > NOISE_BOUND
    return eps


def sample_start(rng: np.random.Generator, shape) -> np.ndarray:
    """x_0 ~ U[0, 20]."""
    return rng.uniform(0.0, COURSE_LENGTH, size=shape)
