"""Environments of the paper's experiments, registered with gymnasium on import.

``import gamps`` imports this module, so ``gymnasium.make(GRIDWORLD_ID)`` works after it.
Registration is idempotent (an id already in gymnasium's registry is left as it is), and the
entry points are strings: the environment classes are imported only by ``gymnasium.make``.
The Swimmer of Section 7.2 is gymnasium's own ``Swimmer-v5`` and needs no registration.
"""

import gymnasium as gym

GRIDWORLD_ID = "gamps/TwoAreasGridworld-v0"
MINIGOLF_ID = "gamps/TwoTerrainMinigolf-v0"

#: Environment id -> entry point, for every environment this package registers.
ENTRY_POINTS = {
    GRIDWORLD_ID: "gamps.domains.gridworld.env:TwoAreasGridworld",
    MINIGOLF_ID: "gamps.domains.minigolf.env:TwoTerrainMinigolf",
}
ENV_IDS = tuple(ENTRY_POINTS)

for _id, _entry in ENTRY_POINTS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry)
