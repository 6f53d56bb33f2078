"""The two-areas gridworld of Section 7.1 (Figure 1a), as a finite MDP.

Layout and dynamics follow REPLICATION_SPEC.md: a 5 x 5 grid, row 0 at the top; the upper area
(rows 0-1) reverses every action's effect, the lower area (rows 2-4) does not; a move off the grid
or from the lower area into the upper one leaves the agent in place. The goal G = (0, 0) is
absorbing and free; every other step costs -1.

Everything is derived from one deterministic table ``NEXT_STATE[s, a]``: the gymnasium environment
(``env``) steps through it, the batch sampler indexes it for whole arrays of agents,
and the exact transition tensor is its one-hot form. This module needs only numpy, so pipeline
jobs that simulate the gridworld start fast.
"""

from __future__ import annotations

import numpy as np

N_ROWS = N_COLS = 5
N_STATES = N_ROWS * N_COLS
ACTIONS = ("up", "down", "left", "right")
EFFECTS = ("up", "down", "left", "right", "stay")
STAY = EFFECTS.index("stay")
#: (d_row, d_col) of each effect, indexed like EFFECTS.
MOVES = np.array([(-1, 0), (1, 0), (0, -1), (0, 1), (0, 0)])
#: In the upper area an action has the opposite effect: up<->down, left<->right.
REVERSED = np.array([1, 0, 3, 2])
UPPER_ROWS = (0, 1)
INITIAL_ROWS = (1, 2, 3)
GOAL = 0  # (0, 0) in row-major order


def cell(state):
    """(row, col) of a state index (row-major), for scalars or arrays."""
    return np.divmod(state, N_COLS)


def is_upper(state):
    """True where a state lies in the upper area (rows 0-1)."""
    return cell(state)[0] <= UPPER_ROWS[-1]


def clipped_move(state, effect):
    """Apply an effect to a state, staying in place where it would leave the grid."""
    row, col = cell(np.asarray(state))
    new_row = row + MOVES[effect, 0]
    new_col = col + MOVES[effect, 1]
    inside = (new_row >= 0) & (new_row < N_ROWS) & (new_col >= 0) & (new_col < N_COLS)
    return np.where(inside, new_row * N_COLS + new_col, state)


def effect_of_transition(state, next_state):
    """The observed effect (index into EFFECTS) of a move from ``state`` to ``next_state``."""
    row, col = cell(np.asarray(state))
    next_row, next_col = cell(np.asarray(next_state))
    d_row, d_col = next_row - row, next_col - col
    effect = np.full(np.shape(d_row), STAY)
    for e, (mr, mc) in enumerate(MOVES[:STAY]):
        effect = np.where((d_row == mr) & (d_col == mc), e, effect)
    return effect


def _next_state_table() -> np.ndarray:
    states = np.arange(N_STATES)[:, None]
    actions = np.arange(len(ACTIONS))[None, :]
    upper = is_upper(states)
    effect = np.where(upper, REVERSED[actions], actions)
    target = clipped_move(states, effect)
    blocked = ~upper & is_upper(target)  # the one-way boundary: no way back up
    table = np.where(blocked, states, target)
    table[GOAL] = GOAL  # absorbing
    return table


NEXT_STATE = _next_state_table()
"""Deterministic successor ``NEXT_STATE[s, a]``."""

REWARD = np.where(np.arange(N_STATES)[:, None] == GOAL, 0.0, -1.0) * np.ones((1, len(ACTIONS)))
"""Known reward ``r(s, a)``: -1 per step, 0 at the goal."""

TERMINAL = np.arange(N_STATES) == GOAL

MU = np.isin(cell(np.arange(N_STATES))[0], INITIAL_ROWS).astype(float)
MU /= MU.sum()
"""Initial-state distribution: uniform over the cells of rows 1-3."""


def transition_tensor() -> np.ndarray:
    """The exact transition tensor ``P[s, a, s']`` (one-hot: the dynamics are deterministic)."""
    return np.eye(N_STATES)[NEXT_STATE]
