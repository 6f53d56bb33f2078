"""Gymnasium form of the two-terrain minigolf; the physics live in ``physics``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from . import physics as mg


class TwoTerrainMinigolf(gym.Env):
    """Observation: the distance to the hole, shape (1,). Action: the putter's angular velocity,
    shape (1,), clipped to [1e-5, 5] by the physics. Episodes end in the hole (reward 0) or past it
    (reward -100), and are truncated after ``horizon`` putts."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, horizon: int = 20, render_mode: str | None = None):
        if horizon <= 0:
            raise ValueError(f"horizon must be positive, got {horizon}")
        self.horizon = horizon
        self.render_mode = render_mode
        # A putt never moves the ball further than u^2 / (2d) <= 10^2 / (2 * 0.92) m past the hole.
        self.observation_space = gym.spaces.Box(
            -100.0, mg.COURSE_LENGTH, shape=(1,), dtype=np.float64
        )
        self.action_space = gym.spaces.Box(
            mg.ACTION_LOW, mg.ACTION_HIGH, shape=(1,), dtype=np.float64
        )
        self._x: float | None = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._x = float(mg.sample_start(self.np_random, ()))
        self._t = 0
        return np.array([self._x]), {}

    def step(self, action):
        if self._x is None:
            raise RuntimeError("call reset() before step()")
        eps = float(mg.sample_noise(self.np_random, ()))
        a = float(np.asarray(action, dtype=float).reshape(-1)[0])
        x_next = float(mg.putt(self._x, a, eps))
        reward, done = mg.reward_and_done(self._x, x_next)
        self._x = x_next
        self._t += 1
        terminated = bool(done)
        truncated = self._t >= self.horizon and not terminated
        return np.array([self._x]), float(reward), terminated, truncated, {"eps": eps}

    def render(self):
        if self.render_mode == "ansi":
            return f"ball at {self._x:.2f} m from the hole after {self._t} putts"
        return None
