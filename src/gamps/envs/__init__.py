"""Environments of the paper's experiments, registered with gymnasium on import."""

import gymnasium as gym

GRIDWORLD_ID = "gamps/TwoAreasGridworld-v0"
MINIGOLF_ID = "gamps/TwoTerrainMinigolf-v0"

for _id, _entry in (
    (GRIDWORLD_ID, "gamps.envs.gridworld:TwoAreasGridworld"),
    (MINIGOLF_ID, "gamps.envs.minigolf:TwoTerrainMinigolf"),
):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry)
