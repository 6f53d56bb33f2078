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


#: Further per-iteration metrics whose final value the summary reports when a domain has them.
EXTRA_METRICS = ("hole_rate",)


def run_summary(curves: pd.DataFrame, metric: str = "return") -> pd.DataFrame:
    """Per (algorithm, N): initial, final and best-iteration return (best of each run), mean and std
    across runs; and the final value of any EXTRA_METRICS column."""
    last = curves["iteration"].max()
    run = ["algorithm", "n_trajectories", "seed"]
    per_run = curves.groupby(run, sort=False).agg(initial=(metric, "first"), best=(metric, "max"))
    extras = [m for m in EXTRA_METRICS if m in curves.columns]
    final = curves[curves["iteration"] == last].set_index(run)
    per_run["final"] = final[metric]
    for extra in extras:
        per_run[f"final_{extra}"] = final[extra]
    stats = per_run.groupby(["algorithm", "n_trajectories"], sort=False).agg(
        runs=("final", "count"),
        initial_mean=("initial", "mean"),
        final_mean=("final", "mean"),
        final_std=("final", "std"),
        best_mean=("best", "mean"),
        best_std=("best", "std"),
        **{f"final_{m}_{s}": (f"final_{m}", s) for m in extras for s in ("mean", "std")},
    )
    stats = stats.reset_index().sort_values(["n_trajectories", "algorithm"], key=_algorithm_order)
    return stats.reset_index(drop=True)


def summary_markdown(summary: pd.DataFrame, title: str) -> str:
    """The summary as a Markdown table, mean +- std with the number of runs."""
    extras = [m for m in EXTRA_METRICS if f"final_{m}_mean" in summary.columns]
    header = "| N | algorithm | runs | initial J | final J (mean ± std) "
    header += "| best-iteration J (mean ± std) |"
    header += "".join(f" final {m.replace('_', ' ')} (mean ± std) |" for m in extras)
    lines = [f"### {title}", "", header, "|---:|---|---:|---:|---:|---:|" + "---:|" * len(extras)]
    for row in summary.to_dict("records"):
        line = (
            f"| {row['n_trajectories']} | {LABELS.get(row['algorithm'], row['algorithm'])} "
            f"| {row['runs']} | {row['initial_mean']:.3f} "
            f"| {row['final_mean']:.3f} ± {row['final_std']:.3f} "
            f"| {row['best_mean']:.3f} ± {row['best_std']:.3f} |"
        )
        line += "".join(
            f" {row[f'final_{m}_mean']:.3f} ± {row[f'final_{m}_std']:.3f} |" for m in extras
        )
        lines.append(line)
    return "\n".join(lines) + "\n"


def write_csv(frame: pd.DataFrame, path) -> None:
    atomic_write_text(path, frame.to_csv(index=False, lineterminator="\n"))
