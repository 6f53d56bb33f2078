"""From per-run curves to one tidy table, and the summary as Markdown."""

from __future__ import annotations

import pandas as pd

from ..algorithms import REGISTRY

KEYS = ["algorithm", "n_trajectories", "seed", "iteration"]
LABELS = {name: entry.label for name, entry in REGISTRY.items()}


def concatenate_runs(paths) -> pd.DataFrame:
    """One tidy table of every run, in a fixed order (independent of the order of ``paths``)."""
    curves = pd.concat((pd.read_csv(p) for p in paths), ignore_index=True)
    return curves.sort_values(KEYS, key=_algorithm_order).reset_index(drop=True)


def display_name(algorithm) -> str:
    """The display name of an algorithm (GAMPS, ML, ...)."""
    return LABELS.get(algorithm, str(algorithm))


def _algorithm_order(column: pd.Series) -> pd.Series:
    if column.name == "algorithm":
        return column.map({a: i for i, a in enumerate(LABELS)}).fillna(len(LABELS))
    return column


#: Further per-iteration metrics whose final value the summary reports when a domain has them.
EXTRA_METRICS = ("hole_rate",)


def summary_markdown(summary: pd.DataFrame, title: str) -> str:
    """The summary as a Markdown table, mean +- std with the number of runs."""
    extras = [m for m in EXTRA_METRICS if f"final_{m}_mean" in summary.columns]
    header = "| N | algorithm | runs | initial J | final J (mean ± std) "
    header += "| best-iteration J (mean ± std) |"
    header += "".join(f" final {m.replace('_', ' ')} (mean ± std) |" for m in extras)
    lines = [f"### {title}", "", header, "|---:|---|---:|---:|---:|---:|" + "---:|" * len(extras)]
    for row in summary.to_dict("records"):
        line = (
            f"| {row['n_trajectories']} | {display_name(row['algorithm'])} "
            f"| {row['runs']} | {row['initial_mean']:.3f} "
            f"| {row['final_mean']:.3f} ± {row['final_std']:.3f} "
            f"| {row['best_mean']:.3f} ± {row['best_std']:.3f} |"
        )
        line += "".join(
            f" {row[f'final_{m}_mean']:.3f} ± {row[f'final_{m}_std']:.3f} |" for m in extras
        )
        lines.append(line)
    return "\n".join(lines) + "\n"
