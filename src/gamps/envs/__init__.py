"""Environments of the paper's experiments, registered with gymnasium on import."""

import gymnasium as gym

GRIDWORLD_ID = "gamps/TwoAreasGridworld-v0"

if GRIDWORLD_ID not in gym.registry:
    gym.register(id=GRIDWORLD_ID, entry_point="gamps.envs.gridworld:TwoAreasGridworld")
