"""Fair tuning of Algorithm 1's step size (``snakemake tuning``): every algorithm gets the same
declared grid of step sizes per update rule and the same tuning seeds, disjoint from the
evaluation seeds (Henderson et al. 2018; Jordan et al. 2020). The rule is fixed here, in code,
before any result is seen:

- **Run.** Each grid point (algorithm, update, alpha) runs Algorithm 1 on every dataset size N of
  the environment and every tuning seed, with the environment's other settings unchanged.
- **Score.** Per tuning seed, the final return J(theta_K) averaged over the dataset sizes; the
  score of a grid point is the mean over tuning seeds, with a bootstrap CI over them. A run whose
  gradient or return stops being finite (too long a step) makes its grid point ineligible.
- **Select.** Per (algorithm, update), the eligible alpha with the highest score; a tie goes to
  the smaller alpha. A selection at the edge of its grid is flagged (``at_edge``): the grid may
  not contain the best alpha.

``step_size: tuned`` in an environment's config then gives each algorithm its selected alpha for
the configured update rule, read from the committed table ``{selection}/{env}.csv`` of the
repository (whatever the working directory of the run).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from . import algorithms, experiment
from .ascent import UPDATES

log = logging.getLogger(__name__)
#: The repository whose committed tuning tables ``step_size: tuned`` reads: a relative
#: ``tuning.selection`` is relative to it (the package lives in its ``src/``).
REPOSITORY = Path(__file__).resolve().parents[2]
#: The folder of the committed tuning tables (the config's ``tuning.selection``).
DEFAULT_SELECTION = "results/tuning"

#: The columns of a tuning run file: one row per (seed, N) of a grid point.
RUN_COLUMNS = [
    "env",
    "algorithm",
    "update",
    "step_size",
    "seed",
    "n_trajectories",
    "final_return",
    "best_return",
    "diverged",
]
#: The columns of the tuning table ``{env}.csv``: one row per grid point.
TABLE_COLUMNS = [
    "env",
    "algorithm",
    "update",
    "step_size",
    "score",
    "ci_low",
    "ci_high",
    "seeds",
    "diverged",
    "selected",
    "at_edge",
]


def step_label(alpha: float) -> str:
    """A step size as written in file names and wildcards: ``0.001``, ``1e-05``, ``30``."""
    return f"{alpha:g}"


def grid(tuning_env: dict) -> list[tuple[str, float]]:
    """The (update, alpha) pairs of an environment's tuning section, in declaration order."""
    return [(update, float(alpha)) for update in UPDATES for alpha in tuning_env.get(update, [])]


def grid_point(tuning_env: dict, update: str, label: str) -> float:
    """The alpha of ``update``'s grid written ``label`` (a file name's ``step_label``)."""
    for candidate_update, alpha in grid(tuning_env):
        if candidate_update == update and step_label(alpha) == label:
            return alpha
    raise ValueError(f"no step size {label} in the {update} grid {tuning_env.get(update)}")


def check_seeds(tuning_seeds, evaluation_seeds: int, env: str) -> None:
    """Tuning seeds must not overlap the evaluation seeds 0..seeds-1."""
    clash = sorted(s for s in tuning_seeds if s < evaluation_seeds)
    if clash:
        raise ValueError(
            f"tuning.{env}.seeds {clash} overlap the evaluation seeds 0..{evaluation_seeds - 1}"
        )


def run_point(
    env: str,
    env_config: dict,
    algorithm: str,
    update: str,
    alpha: float,
    seeds,
    first_fits: str | None = None,
) -> pd.DataFrame:
    """Algorithm 1 at one grid point on every tuning seed and dataset size; one row per run
    (``first_fits``: as ``experiment.train``'s, shared by the grid's points)."""
    config = env_config | {"update": update, "step_size": alpha}
    rows = []
    for seed in seeds:
        for n in env_config["n_trajectories"]:
            batch = experiment.collect_dataset(env, env_config, n, seed)
            try:
                records = experiment.train(env, config, algorithm, batch, first_fits=first_fits)
                returns = [r["return"] for r in records]
                final, best, diverged = returns[-1], max(returns), False
            except FloatingPointError as error:
                log.warning(
                    "%s %s alpha=%g seed %d N=%d: %s", algorithm, update, alpha, seed, n, error
                )
                final, best, diverged = np.nan, np.nan, True
            rows.append(
                {
                    "env": env,
                    "algorithm": algorithm,
                    "update": update,
                    "step_size": alpha,
                    "seed": seed,
                    "n_trajectories": n,
                    "final_return": final,
                    "best_return": best,
                    "diverged": diverged,
                }
            )
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def score_table(runs: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The tuning table of one environment's runs: every grid point's score and CI, and the
    selection (the rule in the module docstring)."""
    from .analysis import stats

    rows = []
    keys = ["env", "algorithm", "update", "step_size"]
    for key, point in runs.groupby(keys, sort=False):
        per_seed = point.groupby("seed")["final_return"].mean()
        diverged = int(point["diverged"].sum())
        values = per_seed.to_numpy()
        if diverged:
            score, low, high = np.nan, np.nan, np.nan
        else:
            score = float(values.mean())
            low, high = stats.bootstrap_ci(values, seed=stats.group_seed(seed, *key))
        stat = {"score": score, "ci_low": low, "ci_high": high}
        rows.append(
            dict(zip(keys, key, strict=True)) | stat | {"seeds": len(values), "diverged": diverged}
        )
    table = pd.DataFrame(rows)
    table["selected"] = False
    table["at_edge"] = False
    for _, group in table.groupby(["algorithm", "update"], sort=False):
        eligible = group[group["score"].notna()].sort_values("step_size", kind="stable")
        if eligible.empty:
            continue
        best = eligible["score"].idxmax()  # the first maximum: the smallest alpha of a tie
        table.loc[best, "selected"] = True
        alpha = table.loc[best, "step_size"]
        table.loc[best, "at_edge"] = alpha in (group["step_size"].min(), group["step_size"].max())
    order = algorithms.ALGORITHMS
    table["_a"] = table["algorithm"].map(lambda a: order.index(a) if a in order else len(order))
    table["_u"] = table["update"].map(UPDATES.index)
    table = table.sort_values(["_a", "_u", "step_size"], kind="stable")
    return table.drop(columns=["_a", "_u"]).reset_index(drop=True)[TABLE_COLUMNS]


def selected_rows(table: pd.DataFrame, update: str) -> pd.DataFrame:
    """The rows of ``table`` selected for ``update``: one per algorithm."""
    return table[table["selected"] & (table["update"] == update)]


def selection_of(table: pd.DataFrame, update: str) -> dict[str, float]:
    """The selected alpha of each algorithm for ``update``."""
    chosen = selected_rows(table, update)
    return {row.algorithm: float(row.step_size) for row in chosen.itertuples()}


def table_path(selection: str, env: str) -> Path:
    """The committed tuning table of ``env`` in the folder ``selection`` of the repository."""
    return REPOSITORY / selection / f"{env}.csv"


@functools.cache
def _read_table(path: str, mtime: float) -> pd.DataFrame:
    return pd.read_csv(path)


def tuned_step_sizes(
    env: str, update: str, algorithms_: list[str], selection: str = DEFAULT_SELECTION
) -> dict[str, float]:
    """The selected alpha of every algorithm of ``env``'s committed tuning table for ``update``
    (every one of the table, so that the mapping does not change with the algorithms run); a
    clear error if the table, or the row of one of ``algorithms_``, is missing."""
    path = table_path(selection, env)
    if not path.is_file():
        raise FileNotFoundError(
            f"{env}: step_size is 'tuned' but the tuning table {path} is missing; "
            "run `snakemake tuning` (or give step_size a number)"
        )
    chosen = selection_of(_read_table(str(path), path.stat().st_mtime), update)
    missing = [a for a in algorithms_ if a not in chosen]
    if missing:
        raise ValueError(
            f"{env}: the tuning table {path} selects no step size for {missing} with update "
            f"{update!r}; add that update rule to tuning.{env} and run `snakemake tuning`"
        )
    return dict(sorted(chosen.items()))


def resolve_step_size(config: dict, env: str) -> float | dict[str, float]:
    """``env``'s step_size as the runs receive it: a number, or a number per algorithm."""
    section = config[env]
    step_size = section["step_size"]
    if step_size == "tuned":
        selection = config["tuning"]["selection"]
        return tuned_step_sizes(env, section["update"], section["algorithms"], selection)
    if isinstance(step_size, dict):
        return {algorithm: float(step_size[algorithm]) for algorithm in sorted(step_size)}
    return step_size
