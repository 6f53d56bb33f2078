"""Gymnasium form of the two-areas gridworld (Section 7.1); the dynamics live in ``dynamics``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from .dynamics import (
    ACTIONS,
    GOAL,
    MU,
    N_COLS,
    N_ROWS,
    N_STATES,
    NEXT_STATE,
    REWARD,
    TERMINAL,
    UPPER_ROWS,
    cell,
    transition_tensor,
)


class TwoAreasGridworld(gym.Env):
    """Gymnasium form of the two-areas gridworld: observation = state index (row * 5 + col)."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, horizon: int = 20, render_mode: str | None = None):
        if horizon <= 0:
            raise ValueError(f"horizon must be positive, got {horizon}")
        self.horizon = horizon
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Discrete(N_STATES)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self.transition_tensor = transition_tensor()
        self.reward_matrix = REWARD.copy()
        self.initial_distribution = MU.copy()
        self._state: int | None = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(N_STATES, p=MU))
        self._t = 0
        return self._state, {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}")
        reward = float(REWARD[self._state, action])
        self._state = int(NEXT_STATE[self._state, action])
        self._t += 1
        terminated = bool(TERMINAL[self._state])
        truncated = self._t >= self.horizon and not terminated
        return self._state, reward, terminated, truncated, {}

    def render(self):
        if self.render_mode != "ansi":
            return None
        grid = np.full((N_ROWS, N_COLS), ".", dtype="<U1")
        grid[UPPER_ROWS[0] : UPPER_ROWS[-1] + 1] = "~"
        grid[cell(GOAL)] = "G"
        if self._state is not None:
            grid[cell(self._state)] = "A"
        return "\n".join("".join(row) for row in grid)
