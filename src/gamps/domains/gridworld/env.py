"""Gymnasium form of the two-areas gridworld (Section 7.1); the dynamics live in ``dynamics``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from .dynamics import ACTIONS, N_COLS, N_ROWS, N_STATES, cell, make_layout


class TwoAreasGridworld(gym.Env):
    """Gymnasium form of the two-areas gridworld: observation = state index (row * 5 + col).

    ``layout`` and ``initial_states`` name the readings of ``dynamics.make_layout``.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        horizon: int = 20,
        render_mode: str | None = None,
        layout: str = "paper",
        initial_states: str = "rows123",
    ):
        if horizon <= 0:
            raise ValueError(f"horizon must be positive, got {horizon}")
        self.horizon = horizon
        self.render_mode = render_mode
        self.layout = make_layout(layout, initial_states)
        self.observation_space = gym.spaces.Discrete(N_STATES)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self.transition_tensor = self.layout.transition_tensor()
        self.reward_matrix = self.layout.reward.copy()
        self.initial_distribution = self.layout.mu.copy()
        self._state: int | None = None
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(N_STATES, p=self.layout.mu))
        self._t = 0
        return self._state, {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}")
        reward = float(self.layout.reward[self._state, action])
        self._state = int(self.layout.next_state[self._state, action])
        self._t += 1
        terminated = bool(self.layout.terminal[self._state])
        truncated = self._t >= self.horizon and not terminated
        return self._state, reward, terminated, truncated, {}

    def render(self):
        if self.render_mode != "ansi":
            return None
        grid = np.where(self.layout.upper, "~", ".").reshape(N_ROWS, N_COLS)
        grid[cell(self.layout.goal)] = "G"
        if self._state is not None:
            grid[cell(self._state)] = "A"
        return "\n".join("".join(row) for row in grid)
