"""Figure 1 and claim 1: the weights delta and eta of pi_b's trajectories per (cell, action), and
the mass each puts on the lower area."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...data import TrajectoryBatch
from ...weights import gamps_weights, state_action_map
from . import dynamics as gw
from .domain import GridworldDomain

if TYPE_CHECKING:
    import pandas as pd


def weight_maps(
    domain: GridworldDomain, theta: np.ndarray, batch: TrajectoryBatch, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """Figure 1 (b, c): the empirical discounted occupancy delta and the GAMPS weights eta
    (Lemma 4.1, on-policy so rho = 1) accumulated per (s, a), each normalised to sum 1."""
    t = np.arange(batch.horizon)
    discount = np.where(batch.mask, domain.gamma**t, 0.0)
    omega = gamps_weights(
        np.zeros(batch.mask.shape), domain.score_norms(theta, batch, q), domain.gamma, batch.mask
    )
    shape = (gw.N_STATES, len(gw.ACTIONS))
    delta, eta = (
        state_action_map(batch.states[:, :-1], batch.actions, w, batch.mask, shape)
        for w in (discount, omega)
    )
    return delta, eta


def lower_area_mass(weight_map: np.ndarray, layout: gw.Layout = gw.PAPER) -> float:
    """The mass a normalised [state, action] map puts on the lower area of ``layout`` (claim 1)."""
    return layout.lower_mass(weight_map)


def weights_table(delta: np.ndarray, eta: np.ndarray) -> pd.DataFrame:
    """Figure 1's data as a tidy table: row, col, action, delta, eta (row-major states)."""
    import pandas as pd

    states, actions = np.meshgrid(np.arange(gw.N_STATES), np.arange(len(gw.ACTIONS)), indexing="ij")
    rows, cols = gw.cell(states.ravel())
    return pd.DataFrame(
        {
            "row": rows,
            "col": cols,
            "action": np.array(gw.ACTIONS)[actions.ravel()],
            "delta": delta.ravel(),
            "eta": eta.ravel(),
        }
    )
