# One wildcard grammar for the whole pipeline, constrained by the config.
import os
import sys

from gamps import provenance, tuning
from gamps.domains import DOMAIN_KEYS
from gamps.settings import rule_params

ENVS = [env for env in DOMAIN_KEYS if env in config]
# Tuning seeds never overlap the evaluation seeds (checked before anything is written).
for env in ENVS:
    tuning.check_seeds(config["tuning"][env]["seeds"], config[env]["seeds"], env)
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


# The intermediate files (not committed): a dataset (.npz and .json), a run, a seed's diagnostics.
DATASET = res("{env}/data/N{n}_seed{seed}")
RUN = res("{env}/runs/{algo}/N{n}_seed{seed}.csv")
# The run's first gradient, at pi_b (read by the gradient check).
RUN_GRADIENT = res("{env}/runs/{algo}/N{n}_seed{seed}_gradient0.npy")
BIAS_SEED = res("gridworld/gradient_bias/seed{seed}.csv")
USED_SEED = res("gridworld/gradient_used/gradients_seed{seed}.csv")
RETURNS_SEED = res("gridworld/gradient_used/returns_seed{seed}.csv")
GRADIENT_CHECK = res("swimmer/gradient_check/N{n}_seed{seed}.csv")
# A grid point of the tuning (gamps.tuning): every tuning seed and N of one (algo, update, alpha).
TUNE_RUN = res("tuning/runs/{env}/{algo}/{ascent}_alpha{step}.csv")
TUNING = config["tuning"]


def alternatives(values):
    return "|".join(str(v) for v in values)


# Environments whose datasets and runs cost less than a job's start (an interpreter with the
# package, as benchmarks/startup.py measures), or little more: one job collects every seed of an
# N, and one trains every seed of an (algorithm, N), still writing one file per seed. The others
# (the Swimmer): one job a seed, so that one more seed collects and trains that seed only.
SEED_BATCHED = [env for env in ("gridworld", "minigolf") if env in ENVS]
PER_SEED = [env for env in ENVS if env not in SEED_BATCHED]
# The per-seed rules' environments ("(?!)" matches none: an empty pattern would match any).
PER_SEED_ENV = alternatives(PER_SEED) or "(?!)"


def seed_range(env):
    return list(range(config[env]["seeds"]))


def seeds_of(pattern, env):
    """``pattern`` of every seed of ``env`` (its other wildcards left)."""
    return expand(pattern, env=env, seed=seed_range(env), allow_missing=True)


wildcard_constraints:
    env=alternatives(ENVS),
    algo=alternatives({a for env in ENVS for a in config[env]["algorithms"]}),
    n=r"\d+",
    seed=r"\d+",


def runs(env, pattern=RUN):
    """Every per-seed run file of an environment (``RUN_GRADIENT``: their first gradients)."""
    cfg = config[env]
    return expand(
        pattern,
        env=env,
        algo=cfg["algorithms"],
        n=cfg["n_trajectories"],
        seed=range(cfg["seeds"]),
    )


# What each rule computes from (settings, code, upstream), as files whose modification time
# Snakemake compares: a change reruns what it affects, even across absent intermediate files.
# A fresh clone adopts the committed results instead of recomputing them (gamps.provenance).
def intermediates():
    """The datasets and run files of this config (not committed: rebuilt on demand)."""
    paths = []
    if "gridworld" in ENVS:
        seeds = range(config["gridworld"]["seeds"])
        paths += expand([BIAS_SEED, USED_SEED, RETURNS_SEED], seed=seeds)
    for env in ENVS:
        cfg = config[env]
        paths += runs(env) + runs(env, RUN_GRADIENT)
        paths += expand(
            f"{DATASET}.npz",
            env=env,
            n=cfg["n_trajectories"],
            seed=range(cfg["seeds"]),
        )
    return paths


# STAMPED: the rules whose stamps this workflow needs, with those upstream (None: every rule),
# set by the file that includes this one (the Snakefile, or a reading's workflow/reading.smk).
STAMPS = provenance.stamps(config, workflow.basedir, STAMPED)
STAMP_DIR = res(".stamps")
# The Swimmer's first model fits, shared by the runs (main's, the readings') that fit the same
# data with the same weights and settings (a fit's digest names its file; never committed).
FIRST_FITS = ".snakemake/gamps/first_fits"
# One adoption marker per results root (each reading of `snakemake robustness` has its own).
ADOPTED = os.path.join(".snakemake/gamps/adoption", RESULTS.replace(os.sep, "%"))
if workflow.is_main_process:
    print(
        provenance.adopt(STAMPS, RESULTS, STAMP_DIR, ADOPTED),
        provenance.missing_intermediates(intermediates()),
        end="",
        file=sys.stderr,
    )
    for name, text in STAMPS.items():
        provenance.write_stamp(STAMP_DIR, name, text)
# Stamp folder -> current stamps, pruned when a real run starts (the readings add theirs).
STAMP_SETS = {STAMP_DIR: STAMPS}


onstart:
    for folder, texts in STAMP_SETS.items():
        provenance.prune_stamps(folder, texts)


def stamp(step):
    """The stamp input of rule ``step`` (of the job's environment, for a per-environment rule)."""
    if step in provenance.PER_ENV:
        return lambda wc: stamp_file(provenance.stamp_name(step, wc.env))
    return stamp_file(step)


def stamp_file(name):
    return str(provenance.stamp_path(STAMP_DIR, name, STAMPS[name]))


def tuning_runs(env):
    """Every grid point's run file of an environment."""
    return [
        TUNE_RUN.format(
            env=env, algo=algo, ascent=update, step=tuning.step_label(alpha)
        )
        for algo in config[env]["algorithms"]
        for update, alpha in tuning.grid(TUNING[env])
    ]
