"""Environments of the paper's experiments, registered with gymnasium on import."""

import gymnasium as gym

GRIDWORLD_ID = "gamps/TwoAreasGridworld-v0"
MINIGOLF_ID = "gamps/TwoTerrainMinigolf-v0"

for _id, _entry in (
    (GRIDWORLD_ID, "gamps.domains.gridworld.env:TwoAreasGridworld"),
    (MINIGOLF_ID, "gamps.domains.minigolf.env:TwoTerrainMinigolf"),
):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry)
