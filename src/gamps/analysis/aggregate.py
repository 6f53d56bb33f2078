"""From per-run curves to the paper's mean +- std bands and a summary of final and best returns."""

from __future__ import annotations

import pandas as pd

from ..data import atomic_write_text

KEYS = ["algorithm", "n_trajectories", "seed", "iteration"]
LABELS = {"gamps": "GAMPS", "ml": "ML", "reinforce": "REINFORCE", "pgt": "PGT"}


def concatenate_runs(paths) -> pd.DataFrame:
    """One tidy table of every run, in a fixed order (independent of the order of ``paths``)."""
    curves = pd.concat((pd.read_csv(p) for p in paths), ignore_index=True)
    return curves.sort_values(KEYS, key=_algorithm_order).reset_index(drop=True)


def _algorithm_order(column: pd.Series) -> pd.Series:
    if column.name == "algorithm":
        return column.map({a: i for i, a in enumerate(LABELS)}).fillna(len(LABELS))
    return column


def iteration_summary(curves: pd.DataFrame, metric: str = "return") -> pd.DataFrame:
    """Per (algorithm, N, iteration): mean, std (ddof = 1, the paper's bands) and run count."""
    grouped = curves.groupby(["algorithm", "n_trajectories", "iteration"], sort=False)[metric]
    out = grouped.agg(mean="mean", std="std", runs="count").reset_index()
    return out.sort_values(["algorithm", "n_trajectories", "iteration"], key=_algorithm_order)


def run_summary(curves: pd.DataFrame, metric: str = "return") -> pd.DataFrame:
    """Per (algorithm, N): initial, final and best-iteration return (best of each run), mean and std
    across runs."""
    last = curves["iteration"].max()
    per_run = curves.groupby(["algorithm", "n_trajectories", "seed"], sort=False).agg(
        initial=(metric, "first"), best=(metric, "max")
    )
    per_run["final"] = curves[curves["iteration"] == last].set_index(
        ["algorithm", "n_trajectories", "seed"]
    )[metric]
    stats = per_run.groupby(["algorithm", "n_trajectories"], sort=False).agg(
        runs=("final", "count"),
        initial_mean=("initial", "mean"),
        final_mean=("final", "mean"),
        final_std=("final", "std"),
        best_mean=("best", "mean"),
        best_std=("best", "std"),
    )
    stats = stats.reset_index().sort_values(["n_trajectories", "algorithm"], key=_algorithm_order)
    return stats.reset_index(drop=True)


def summary_markdown(summary: pd.DataFrame, title: str) -> str:
    """The summary as a Markdown table, mean +- std with the number of runs."""
    lines = [
        f"### {title}",
        "",
        "| N | algorithm | runs | initial J | final J (mean ± std) "
        "| best-iteration J (mean ± std) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in summary.itertuples(index=False):
        lines.append(
            f"| {row.n_trajectories} | {LABELS.get(row.algorithm, row.algorithm)} | {row.runs} "
            f"| {row.initial_mean:.3f} | {row.final_mean:.3f} ± {row.final_std:.3f} "
            f"| {row.best_mean:.3f} ± {row.best_std:.3f} |"
        )
    return "\n".join(lines) + "\n"


def write_csv(frame: pd.DataFrame, path) -> None:
    atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
