# One wildcard grammar for the whole pipeline, constrained by the config.
import os

from gamps.domains import DOMAIN_KEYS
from gamps.settings import rule_params

# The software of every rule (used with --use-conda; the default run uses the active env).
CONDA_ENV = str(Path(workflow.basedir) / "environment.yml")
ENVS = [env for env in DOMAIN_KEYS if env in config]
# Output roots: results/ and paper_figures/ hold the committed replication; the toy and CI
# overlays write under their own (git-ignored) roots, so they cannot overwrite it.
RESULTS = config["results"]
FIGURES = config["figures"]


def res(path):
    """``path`` under this config's results root."""
    return f"{RESULTS}/{path}"


def fig(path):
    """``path`` under this config's figures root."""
    return f"{FIGURES}/{path}"


def alternatives(values):
    return "|".join(str(v) for v in values)


wildcard_constraints:
    env=alternatives(ENVS),
    algo=alternatives({a for env in ENVS for a in config[env]["algorithms"]}),
    n=r"\d+",
    seed=r"\d+",


def runs(env):
    """Every per-seed run file of an environment."""
    cfg = config[env]
    return expand(
        res("{env}/runs/{algo}/N{n}_seed{seed}.csv"),
        env=env,
        algo=cfg["algorithms"],
        n=cfg["n_trajectories"],
        seed=range(cfg["seeds"]),
    )
