# One wildcard grammar for the whole pipeline, constrained by the config.
from gamps.domains import DOMAIN_KEYS
from gamps.settings import rule_params

# The software of every rule (used with --use-conda; the default run uses the active env).
CONDA_ENV = str(Path(workflow.basedir) / "environment.yml")
ENVS = [env for env in DOMAIN_KEYS if env in config]


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
        "results/{env}/runs/{algo}/N{n}_seed{seed}.csv",
        env=env,
        algo=cfg["algorithms"],
        n=cfg["n_trajectories"],
        seed=range(cfg["seeds"]),
    )
