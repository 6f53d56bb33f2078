"""The two-areas gridworld of Section 7.1 (Figure 1a), as a finite MDP.

Layout and dynamics follow REPLICATION_SPEC.md: a 5 x 5 grid, row 0 at the top; the upper area
(rows 0-1) reverses every action's effect, the lower area (rows 2-4) does not; a move off the grid
or from the lower area into the upper one leaves the agent in place. The goal G = (0, 0) is
absorbing and free; every other step costs -1.

A layout is a value (``Layout``), built by ``make_layout`` from two readings of what Section 7.1
leaves open (Figure 1a's image is not available):

- ``layout``, the geometry (``LAYOUTS``). ``paper`` is the one above. ``walled`` is the same grid
  with a wall along the boundary: no effect takes the agent from the upper area down into the lower
  one, so the lower area is entered only at the start (from mu). Why: Section 7.1 says that eta
  avoids the transitions where the policy cannot be improved (Figure 1c), the lower area's, but on
  ``paper`` eta keeps 0.42 ± 0.12 of its mass there at pi_b (exact, seeds 0-19). The GAMPS weight
  of Eq. 3, omega_t = gamma^t rho_{0:t} sum_{l<=t} ||score_l||, explains it: pi_b is deterministic
  in the lower area (score ~ 0), but a trajectory that falls from row 1 carries the score norm it
  accumulated above into every later step below. Without falls, eta keeps 0.0002 there (delta
  0.71), and the exact-limit GAMPS model gives an MVG with cosine 0.95 with the true gradient (0.65
  on ``paper``), 1.00 with ``model_knows_walls``. It is a reading of Section 7.1 because every
  stated property holds: 5 x 5, two areas with reversed dynamics, G in the upper area, no way back
  from the lower area, pi_b deterministic below and random above, a state-blind model class that
  can represent the upper area. What it changes: the text's "once the agent gets to the lower area"
  then means starting there. A one-way gate in the wall keeps falls possible and gives eta
  0.05-0.11 depending on the gate's column and G, with a spread of ± 0.05-0.07 over seeds; the wall
  removes the mechanism for every G, boundary row and mu (``benchmarks/gridworld_layouts.py
  --candidates``).
- ``initial_states``, the support of mu (``INITIAL_STATES``): ``rows123`` (rows 1-3, 5 upper and
  10 lower cells) or ``upper`` (the upper area without G: Figure 1a's mu marks read as lying in
  the upper area only).

Everything is derived from the deterministic table ``Layout.next_state[s, a]``: the gymnasium
environment (``env``) steps through it, the batch sampler indexes it for whole arrays of agents,
and the exact transition tensor is its one-hot form. The paper's layout stays available under the
module-level names (``NEXT_STATE``, ``REWARD``, ``TERMINAL``, ``MU``, ``transition_tensor``). This
module needs only numpy, so pipeline jobs that simulate the gridworld start fast.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

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
    """True where a state lies in the upper area of the paper's layout (rows 0-1)."""
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


#: ``EDGE_MOVES[s, e]``: the cell effect e leads to from s when only the grid's edges stop it.
EDGE_MOVES = clipped_move(np.arange(N_STATES)[:, None], np.arange(len(EFFECTS))[None, :])
EDGE_MOVES.setflags(write=False)


@dataclass(frozen=True)
class Geometry:
    """The parameters of a layout's geometry.

    ``upper_rows``: the upper area is rows 0 .. upper_rows - 1, the lower area the rest.
    ``goal``: (row, col) of G, in the upper area. ``openings``: the columns at which an effect can
    take the agent from the upper area down into the lower one (None: every column; (): none, a
    wall). From the lower area up it never can.
    """

    upper_rows: int = 2
    goal: tuple[int, int] = (0, 0)
    openings: tuple[int, ...] | None = None


#: The named layouts (config key ``layout``); see the module docstring.
LAYOUTS = {
    "paper": Geometry(),
    "walled": Geometry(openings=()),
}
#: The readings of mu's support (config key ``initial_states``); see the module docstring.
INITIAL_STATES = ("rows123", "upper")


@dataclass(frozen=True, eq=False)
class Layout:
    """One gridworld as arrays over the 25 states (read-only).

    ``moves[s, e]`` is where effect e takes the agent from s: it stays in place at the grid's
    edges, at the one-way boundary (lower -> upper) and, if the boundary is closed, at the wall
    (upper -> lower). ``next_state[s, a] = moves[s, e(s, a)]`` with e reversed in the upper area
    and G absorbing; ``reward[s, a]`` is -1, 0 at G; ``mu`` the initial-state distribution.
    """

    name: str
    initial_states: str
    geometry: Geometry
    upper: np.ndarray  # [S] bool
    goal: int
    moves: np.ndarray  # [S, E]
    next_state: np.ndarray  # [S, A]
    reward: np.ndarray  # [S, A]
    terminal: np.ndarray  # [S] bool
    mu: np.ndarray  # [S]

    def transition_tensor(self) -> np.ndarray:
        """The exact transition tensor ``P[s, a, s']`` (one-hot: the dynamics are deterministic)."""
        return np.eye(N_STATES)[self.next_state]

    def lower_mass(self, weight_map: np.ndarray) -> float:
        """The mass a [state, ...] map puts on the lower area."""
        return float(np.asarray(weight_map)[~self.upper].sum())


def _initial_distribution(initial_states: str, upper: np.ndarray, goal: int) -> np.ndarray:
    states = np.arange(N_STATES)
    if initial_states == "rows123":
        support = np.isin(cell(states)[0], INITIAL_ROWS)
    elif initial_states == "upper":
        support = upper.copy()
    else:
        raise ValueError(f"unknown initial_states {initial_states!r}; choose from {INITIAL_STATES}")
    support[goal] = False
    mu = support.astype(float)
    mu /= mu.sum()
    return mu


def build_layout(geometry: Geometry, initial_states: str = "rows123", name: str = "") -> Layout:
    """The layout of a geometry and a reading of mu, as whole arrays."""
    if not 0 < geometry.upper_rows < N_ROWS:
        raise ValueError(f"upper_rows must be in 1..{N_ROWS - 1}, got {geometry.upper_rows}")
    if not 0 <= geometry.goal[0] < geometry.upper_rows or not 0 <= geometry.goal[1] < N_COLS:
        raise ValueError(f"the goal {geometry.goal} must be a cell of the upper area")
    states = np.arange(N_STATES)
    upper = cell(states)[0] < geometry.upper_rows
    goal = geometry.goal[0] * N_COLS + geometry.goal[1]
    from_upper, to_upper = upper[:, None], upper[EDGE_MOVES]
    blocked = ~from_upper & to_upper  # the one-way boundary: no way back up
    if geometry.openings is not None:  # a wall, except at the openings
        closed = ~np.isin(cell(states)[1], geometry.openings)[:, None]
        blocked |= from_upper & ~to_upper & closed
    moves = np.where(blocked, states[:, None], EDGE_MOVES)
    actions = np.arange(len(ACTIONS))[None, :]
    effects = np.where(from_upper, REVERSED[actions], actions)
    next_state = moves[states[:, None], effects]
    next_state[goal] = goal  # absorbing
    terminal = states == goal
    reward = np.where(terminal[:, None], 0.0, -1.0) * np.ones((1, len(ACTIONS)))
    mu = _initial_distribution(initial_states, upper, goal)
    arrays = (upper, moves, next_state, reward, terminal, mu)
    for array in arrays:
        array.setflags(write=False)
    return Layout(name, initial_states, geometry, upper, goal, *arrays[1:])


def make_layout(layout: str = "paper", initial_states: str = "rows123") -> Layout:
    """The named layout (``LAYOUTS``) with the named reading of mu (``INITIAL_STATES``), built
    once per pair."""
    return _named_layout(layout, initial_states)


@functools.cache
def _named_layout(layout: str, initial_states: str) -> Layout:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {list(LAYOUTS)}")
    return build_layout(LAYOUTS[layout], initial_states, layout)


PAPER = make_layout()
"""The default layout of REPLICATION_SPEC.md."""

NEXT_STATE = PAPER.next_state
"""Deterministic successor ``NEXT_STATE[s, a]`` of the paper's layout."""

REWARD = PAPER.reward
"""Known reward ``r(s, a)``: -1 per step, 0 at the goal."""

TERMINAL = PAPER.terminal

MU = PAPER.mu
"""Initial-state distribution: uniform over the cells of rows 1-3."""


def transition_tensor() -> np.ndarray:
    """The exact transition tensor ``P[s, a, s']`` of the paper's layout."""
    return PAPER.transition_tensor()
