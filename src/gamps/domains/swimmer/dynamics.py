"""The 3-link Swimmer of Section 7.2 (Figure 3 right): gymnasium's Swimmer-v5 on MuJoCo.

Created with ``exclude_current_positions_from_observation=False``, the observation is
(x, y, body angle, 2 joint angles, 5 velocities): the reward
r(s, a, s') = (x' - x) / dt - 1e-4 |a|^2 is then a known function of the transition, which model
rollouts use. Policies and models see the 8 usual features (everything but x and y); the model
predicts the change of all 10 coordinates.
"""

from __future__ import annotations

import numpy as np

ENV_ID = "Swimmer-v5"
DT = 0.04  # 4 MuJoCo steps of 0.01 s
FORWARD_WEIGHT = 1.0
CONTROL_COST = 1e-4
STATE_DIM = 10
ACTION_DIM = 2
ACTION_LOW, ACTION_HIGH = -1.0, 1.0
FEATURES = slice(2, STATE_DIM)  # joint angles and velocities: the 8 usual features
JOINTS = (3, 4)  # the two hinge angles in the state
JOINT_LIMIT = float(np.deg2rad(100.0))  # each hinge stops at +-100 degrees (the model file's range)


def make_env():
    """One unwrapped Swimmer-v5 (no time limit: episodes stop at this package's horizon)."""
    import gymnasium as gym

    return gym.make(ENV_ID, exclude_current_positions_from_observation=False).unwrapped


def step(envs, actions) -> np.ndarray:
    """Each env's ``step(action)``, physics only: the next states [n, STATE_DIM] of the unwrapped
    Swimmer-v5 ``envs`` after the actions [n, ACTION_DIM] (one per env). It calls what gymnasium's
    step calls for the state (the control, then ``frame_skip`` MuJoCo steps), so the states are
    bit-identical; it skips the reward, the info dict and the force post-processing (for force
    sensors, which the swimmer has none of), a third of the step's time."""
    import mujoco

    out = np.empty((len(envs), STATE_DIM))
    for env, action, row in zip(envs, actions, out, strict=True):
        data = env.data
        data.ctrl[:] = action
        mujoco.mj_step(env.model, data, nstep=env.frame_skip)
        row[: data.qpos.size] = data.qpos
        row[data.qpos.size :] = data.qvel
    return out


def reward(states, actions, next_states) -> np.ndarray:
    """The known reward: forward velocity of the front tip minus the control cost (on the action
    as given; MuJoCo clips it to [-1, 1] for the dynamics)."""
    velocity = (next_states[..., 0] - states[..., 0]) / DT
    return FORWARD_WEIGHT * velocity - CONTROL_COST * np.sum(np.square(actions), axis=-1)


def reward_and_done(states, actions, next_states):
    """The swimmer never terminates: episodes end at the horizon."""
    r = reward(states, actions, next_states)
    return r, np.zeros(r.shape, dtype=bool)


def features(states) -> np.ndarray:
    return np.asarray(states)[..., FEATURES]
