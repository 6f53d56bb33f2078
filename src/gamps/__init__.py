"""GAMPS: Gradient-Aware Model-Based Policy Search (D'Oro et al., AAAI 2020), replicated.

Importing the package registers its gymnasium environments, ``GRIDWORLD_ID`` and
``MINIGOLF_ID``; the Swimmer is gymnasium's own ``Swimmer-v5``. The algorithms are in
``gamps.algorithms``, the domains in ``gamps.domains``, datasets in ``gamps.data``.
"""

from importlib.metadata import PackageNotFoundError, version

from .envs import ENV_IDS, GRIDWORLD_ID, MINIGOLF_ID

try:
    __version__ = version("gamps")
except PackageNotFoundError:  # source tree on sys.path, package not installed
    __version__ = "0+unknown"

__all__ = ["ENV_IDS", "GRIDWORLD_ID", "MINIGOLF_ID", "__version__"]
