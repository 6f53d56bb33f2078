"""The pipeline's tables as pandas DataFrames: tidy curves, per-iteration bands, per-run outcomes,
the outcome table, paired comparisons, the gradient-bias tables, the health of the importance
weights and the compute time. ``stats`` does the statistics, ``render`` the Markdown and LaTeX.

Runs are paired: for one (env, N, seed) every algorithm learns from the same dataset and the same
initial policy, so comparisons pair runs by seed. Every group is laid out as an array whose runs
are sorted by seed, so a group's numbers do not depend on row order nor on the other groups.
Algorithms are sorted in the order of ``gamps.algorithms.REGISTRY``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import algorithms
from ..tuning import selected_rows
from . import stats
from .stats import N_RESAMPLES

KEYS = ["algorithm", "n_trajectories", "seed", "iteration"]
RUN = ["algorithm", "n_trajectories", "seed"]
#: Per-run outcomes summarised and compared: final return, best-iteration return, best - final.
OUTCOMES = ("final", "best", "overfit")
#: Further per-iteration metrics whose final value the outcome table reports when a domain has
#: them (minigolf: the fraction of episodes that end in the hole).
EXTRA_METRICS = ("hole_rate",)


# --------------------------------------------------------------------------- ordering


def algorithm_order(column: pd.Series) -> pd.Series:
    """Sort key: the ``algorithm`` (or ``baseline``) column in registry order, unknown names
    last; any other column as it is."""
    if column.name in ("algorithm", "baseline"):
        order = {a: i for i, a in enumerate(algorithms.REGISTRY)}
        return column.map(order).fillna(len(order))
    return column


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    frame = frame.sort_values(by, key=algorithm_order, kind="mergesort")
    return frame.reset_index(drop=True)


def _groups(frame: pd.DataFrame, keys: list[str]) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """(key, group) pairs in the canonical order (registry order, then values)."""
    order = frame[keys].drop_duplicates()
    order = order.sort_values(keys, key=algorithm_order, kind="mergesort")
    grouped = frame.groupby(keys, sort=False)
    for key in order.itertuples(index=False, name=None):
        yield key, grouped.get_group(key)


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}")


def _unique(frame: pd.DataFrame, keys: list[str], what: str) -> None:
    duplicated = frame.duplicated(keys, keep=False)
    if duplicated.any():
        example = frame.loc[duplicated, keys].iloc[0].to_dict()
        raise ValueError(f"{what}: duplicate rows for {example}")


# --------------------------------------------------------------------------- learning curves


def concatenate_runs(paths: Iterable[str | PathLike]) -> pd.DataFrame:
    """One tidy table of every run, in a fixed order (independent of the order of ``paths``)."""
    curves = pd.concat((pd.read_csv(p) for p in paths), ignore_index=True)
    return curves.sort_values(KEYS, key=algorithm_order).reset_index(drop=True)


def iteration_statistics(
    curves: pd.DataFrame,
    metric: str = "return",
    confidence: float = 0.95,
    seed: int = 0,
    *,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Per (algorithm, N, iteration): mean, std (ddof = 1), bootstrap CI of the mean, runs.

    The learning-curve bands of the paper's Figures 2 and 3 with a CI of the mean across runs;
    all iterations of one (algorithm, N) are resampled at once (same seeds resampled at every
    iteration). Columns: algorithm, n_trajectories, iteration, mean, std, ci_low, ci_high, runs.
    """
    _require(curves, [*KEYS, metric], "iteration_statistics")
    _unique(curves, KEYS, "iteration_statistics")
    parts = []
    for (algorithm, n), group in _groups(curves, ["algorithm", "n_trajectories"]):
        table = group.pivot(index="iteration", columns="seed", values=metric)
        table = table.sort_index(axis=0).sort_index(axis=1)
        entropy = stats.group_seed(seed, "iteration", metric, algorithm, n)
        row = stats.row_statistics(table.to_numpy(dtype=float), entropy, confidence, n_resamples)
        part = pd.DataFrame({"iteration": table.index.to_numpy(), **row})
        part.insert(0, "n_trajectories", n)
        part.insert(0, "algorithm", algorithm)
        parts.append(part)
    columns = ["algorithm", "n_trajectories", "iteration", "mean", "std", "ci_low", "ci_high"]
    if not parts:
        return pd.DataFrame(columns=[*columns, "runs"])
    out = pd.concat(parts, ignore_index=True)[[*columns, "runs"]]
    out["n_trajectories"] = out["n_trajectories"].astype(curves["n_trajectories"].dtype)
    out["iteration"] = out["iteration"].astype(curves["iteration"].dtype)
    return _sorted(out, ["algorithm", "n_trajectories", "iteration"])


# --------------------------------------------------------------------------- per-run outcomes


def run_outcomes(curves: pd.DataFrame, metric: str = "return") -> pd.DataFrame:
    """One row per run (algorithm, N, seed): initial, final, best and overfit ``metric``.

    ``initial`` is the first iteration (0), ``final`` the run's last iteration, ``best`` the
    best-iteration return (max over all iterations, 0 included; the paper's "maximum
    performance"), ``overfit = best - final >= 0``: how much was lost after the best iteration.
    ``final_<m>`` gives the last value of each EXTRA_METRICS column present.
    """
    _require(curves, [*KEYS, metric], "run_outcomes")
    _unique(curves, KEYS, "run_outcomes")
    extras = [m for m in EXTRA_METRICS if m in curves.columns]
    ordered = _sorted(curves, KEYS)
    first = ordered.drop_duplicates(RUN, keep="first").set_index(RUN)
    last = ordered.drop_duplicates(RUN, keep="last").set_index(RUN)
    out = pd.DataFrame(index=first.index)
    out["initial"] = first[metric].astype(float)
    out["final"] = last[metric].astype(float)
    out["best"] = ordered.groupby(RUN, sort=False)[metric].max().astype(float)
    out["overfit"] = out["best"] - out["final"]
    for extra in extras:
        out[f"final_{extra}"] = last[extra].astype(float)
    return _sorted(out.reset_index(), RUN)


def outcome_measures(columns: Iterable[str]) -> list[str]:
    """The outcomes an outcome table reports, given the columns of ``run_outcomes``."""
    columns = set(columns)
    return [*OUTCOMES, *(f"final_{m}" for m in EXTRA_METRICS if f"final_{m}" in columns)]


def outcome_table(
    outcomes: pd.DataFrame,
    confidence: float = 0.95,
    seed: int = 0,
    *,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Per (algorithm, N): runs, initial_mean and, for final, best, overfit (and final_<m>),
    ``<x>_mean, <x>_std, <x>_ci_low, <x>_ci_high``: bootstrap CI of the mean across runs.

    The paper's final and best-iteration return (mean +- std) with their uncertainty; the
    confidence level is kept in ``attrs["confidence"]``.
    """
    _require(outcomes, [*RUN, "initial", *OUTCOMES], "outcome_table")
    _unique(outcomes, RUN, "outcome_table")
    measures = outcome_measures(outcomes.columns)
    columns = ["algorithm", "n_trajectories", "runs", "initial_mean"]
    columns += [f"{x}_{s}" for x in measures for s in ("mean", "std", "ci_low", "ci_high")]
    records = []
    for (algorithm, n), group in _groups(outcomes, ["algorithm", "n_trajectories"]):
        group = group.sort_values("seed", kind="mergesort")
        record = {
            "algorithm": algorithm,
            "n_trajectories": n,
            "runs": len(group),
            "initial_mean": group["initial"].to_numpy(dtype=float).mean(),
        }
        for x in measures:  # one call per measure: bit-identical whatever the other measures
            values = group[x].to_numpy(dtype=float)[np.newaxis]
            entropy = stats.group_seed(seed, "outcome", x, algorithm, n)
            row = stats.row_statistics(values, entropy, confidence, n_resamples)
            for s in ("mean", "std", "ci_low", "ci_high"):
                record[f"{x}_{s}"] = row[s][0]
        records.append(record)
    out = pd.DataFrame.from_records(records, columns=columns)
    out["runs"] = out["runs"].astype(np.int64)
    out = _sorted(out, ["n_trajectories", "algorithm"])
    out.attrs["confidence"] = confidence
    return out


COMPARISON_COLUMNS = [
    "n_trajectories",
    "baseline",
    "outcome",
    "pairs",
    "reference_mean",
    "baseline_mean",
    "mean_difference",
    "ci_low",
    "ci_high",
    "wins",
    "ties",
    "losses",
    "probability_of_improvement",
    "poi_ci_low",
    "poi_ci_high",
    "wilcoxon_p",
]


def paired_comparisons(
    outcomes: pd.DataFrame,
    reference: str = "gamps",
    confidence: float = 0.95,
    seed: int = 0,
    *,
    measures: Sequence[str] = OUTCOMES,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Reference vs each baseline, paired by seed, per N and outcome: d = reference - baseline
    (``stats.paired_difference``), one row each with COMPARISON_COLUMNS.

    The sign is not flipped for ``overfit``, where smaller is better: there d < 0, "losses" and a
    small probability_of_improvement favour the reference. Raises ValueError unless both sides of
    each comparison have the same seeds and finite outcomes.
    """
    measures = list(measures)
    _require(outcomes, [*RUN, *measures], "paired_comparisons")
    _unique(outcomes, RUN, "paired_comparisons")
    if not (outcomes["algorithm"] == reference).any():
        raise ValueError(f"paired_comparisons: reference algorithm {reference!r} not in outcomes")
    runs = {key: g.set_index("seed").sort_index() for key, g in _groups(outcomes, RUN[:2])}
    records = []
    for (baseline, n), base in runs.items():
        if baseline == reference:
            continue
        ref = runs.get((reference, n))
        ref_seeds = set() if ref is None else set(ref.index)
        only_base, only_ref = set(base.index) - ref_seeds, ref_seeds - set(base.index)
        if only_base or only_ref:
            raise ValueError(
                f"paired_comparisons: N={n}: seeds {sorted(only_base)} missing for {reference!r}"
                f" and seeds {sorted(only_ref)} missing for {baseline!r}; runs must be paired"
            )
        assert ref is not None  # base is a non-empty group: a missing reference raised above
        x = ref[measures].to_numpy(dtype=float).T  # [measures, pairs], seeds sorted
        y = base.loc[ref.index, measures].to_numpy(dtype=float).T
        if not np.isfinite(x - y).all():
            raise ValueError(f"paired_comparisons: N={n}: non-finite outcomes of {baseline!r}")
        for i, outcome in enumerate(measures):
            entropy = stats.group_seed(seed, "paired", outcome, reference, baseline, n)
            numbers = stats.paired_difference(x[i], y[i], entropy, confidence, n_resamples)
            records.append(
                {"n_trajectories": n, "baseline": baseline, "outcome": outcome, **numbers}
            )
    out = pd.DataFrame.from_records(records, columns=COMPARISON_COLUMNS)
    for column in ("pairs", "wins", "ties", "losses"):
        out[column] = out[column].astype(np.int64)
    out["_order"] = out["outcome"].map({m: i for i, m in enumerate(measures)})
    out = out.sort_values(["n_trajectories", "baseline", "_order"], key=algorithm_order)
    out = out.drop(columns="_order").reset_index(drop=True)
    out.attrs.update(reference=reference, confidence=confidence)
    return out


# --------------------------------------------------------------------------- importance weights


def weight_health(curves: pd.DataFrame) -> pd.DataFrame:
    """Per N and algorithm (registry order): the effective sample size of the trajectory
    importance weights as a fraction of N, mean over runs, at iterations 0 (``ess_first``), 1
    (``ess_second``, 0 if absent) and the last (``ess_last``; its number in
    ``attrs["last_iteration"]``), the share of iterations flagged ``degenerate``, and, where the
    curves have it, the mean standard error ``return_se`` of one evaluation of J."""
    last = int(curves["iteration"].max())
    frame = curves.assign(ess_fraction=curves["ess"] / curves["n_trajectories"])
    by = ["n_trajectories", "algorithm"]
    at = frame.pivot_table(index=by, columns="iteration", values="ess_fraction", aggfunc="mean")
    at = at.sort_index(key=algorithm_order)
    out = pd.DataFrame(
        {
            "ess_first": at[0],
            "ess_second": at[1] if 1 in at.columns else 0.0,
            "ess_last": at[last],
            "degenerate": frame.groupby(by)["degenerate"].mean(),
        },
        index=at.index,
    )
    if "return_se" in frame:
        out["return_se"] = frame.groupby(by)["return_se"].mean()
    out = out.reset_index()
    out.attrs["last_iteration"] = last
    return out


# --------------------------------------------------------------------------- gradient bias

BIAS_KEYS = ["policy", "seed", "n_trajectories", "repetition", "iteration", "model", "weights"]
BIAS_GROUP = ["policy", "n_trajectories", "iteration", "model", "weights"]
#: The order of the categorical columns of the gradient-bias tables.
BIAS_ORDER = {
    "policy": ["behaviour", "gamps_path"],
    "model": ["ml", "gamps"],
    "weights": ["exact", "sample"],
}


def _bias_order(column: pd.Series) -> pd.Series:
    if column.name in BIAS_ORDER:
        return column.map({v: i for i, v in enumerate(BIAS_ORDER[column.name])}).fillna(99)
    return column


def concatenate_bias(paths: Iterable[str | PathLike]) -> pd.DataFrame:
    """Every seed's gradient-bias rows in one table, in a fixed order (whatever the order of
    ``paths``)."""
    table = pd.concat((pd.read_csv(p) for p in paths), ignore_index=True)
    return table.sort_values(BIAS_KEYS, key=_bias_order).reset_index(drop=True)


def bias_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Adds relative_bias = bias / ||grad J|| and bound_ratio = bound / bias (likewise for
    bound_l1); a zero denominator gives 0 for the error and inf for the ratios, never NaN."""
    bias, grad = table["bias"].to_numpy(), table["grad_norm"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(grad > 0, bias / grad, 0.0)
        ratio = np.where(bias > 0, table["bound"] / bias, np.inf)
        ratio_l1 = np.where(bias > 0, table["bound_l1"] / bias, np.inf)
    return table.assign(relative_bias=relative, bound_ratio=ratio, bound_l1_ratio=ratio_l1)


def bias_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (policy, N, iteration, model, weights): the number of cases, mean and std (ddof 1; 0 for
    a single case) of the relative error and the cosine, the fraction of positive cosines, and
    Theorem 3.2: infinite bounds, whether any bound was violated, and min / median of bound / bias
    over the finite bounds (inf if none is finite)."""
    t = bias_ratios(table)
    grouped = t.groupby(BIAS_GROUP, sort=False)
    out = grouped.agg(
        cases=("bias", "size"),
        relative_bias_mean=("relative_bias", "mean"),
        relative_bias_std=("relative_bias", "std"),
        cosine_mean=("cosine", "mean"),
        cosine_std=("cosine", "std"),
        positive_cosine=("cosine", lambda c: float(np.mean(c > 0))),
        infinite_bounds=("bound", lambda b: int(np.sum(np.isinf(b)))),
        violations=("bound_ratio", lambda r: int(np.sum(r < 1))),
        bound_ratio_min=("bound_ratio", lambda r: stats.finite_statistic(r, np.min)),
        bound_ratio_median=("bound_ratio", lambda r: stats.finite_statistic(r, np.median)),
        bound_l1_ratio_min=("bound_l1_ratio", lambda r: stats.finite_statistic(r, np.min)),
    ).reset_index()
    out[["relative_bias_std", "cosine_std"]] = out[["relative_bias_std", "cosine_std"]].fillna(0.0)
    return out.sort_values(BIAS_GROUP, key=_bias_order).reset_index(drop=True)


def _cosine_wins(table: pd.DataFrame, selection: pd.Series, key: list[str]) -> tuple[int, int]:
    """Cases (identified by ``key``) where the GAMPS model's cosine beats ML's, and all cases."""
    wide = table[selection].pivot_table(index=key, columns="model", values="cosine")
    return int((wide["gamps"] > wide["ml"]).sum()), len(wide)


def _path_cosines(path: pd.DataFrame) -> pd.DataFrame:
    """Per N and model along the GAMPS learning paths: mean and std (0 for one case) of the cosine
    with the model fitted on the dataset (sample) and with exact weights, and the mean cosine at
    the final iteration, fitted on the dataset."""
    per = path.groupby(["n_trajectories", "model", "weights"], sort=False)["cosine"]
    moments = per.agg(["mean", "std"]).fillna(0.0)
    last = path[path["iteration"] == path["iteration"].max()]
    final = last.groupby(["n_trajectories", "model", "weights"], sort=False)["cosine"].mean()
    rows = []
    for n in sorted(path["n_trajectories"].unique()):
        for model in BIAS_ORDER["model"]:
            sample, exact = moments.loc[(n, model, "sample")], moments.loc[(n, model, "exact")]
            rows.append(
                {
                    "n_trajectories": n,
                    "model": model,
                    "sample_mean": sample["mean"],
                    "sample_std": sample["std"],
                    "exact_mean": exact["mean"],
                    "exact_std": exact["std"],
                    "final_sample_mean": final.loc[(n, model, "sample")],
                }
            )
    return pd.DataFrame(rows)


def bias_findings(table: pd.DataFrame) -> dict[str, Any]:
    """The numbers the 'Beyond the paper' section states about the gradient-bias table.

    ``seeds``, ``repetitions`` (datasets per seed of the fits on samples); ``exact_wins``: (wins,
    cases) of GAMPS's cosine over ML's at the behaviour policies with exact weights, and
    ``sample_wins`` [(N, wins, cases)] fitted on the same datasets; ``path`` (``_path_cosines``)
    and ``path_wins`` along the GAMPS learning paths, or None without paths; Theorem 3.2:
    ``cases``, ``held`` (bound >= bias), ``infinite``, min / median of bound / bias over the
    finite bounds and of bound_l1 / bias over all; ``slack``: the median factor of each step of
    its derivation, or None when no bias is positive.
    """
    t = bias_ratios(table)
    sampled = t.loc[t["weights"] == "sample", "repetition"]
    behaviour = t["policy"] == "behaviour"
    sample = behaviour & (t["weights"] == "sample")
    findings: dict[str, Any] = {
        "seeds": t["seed"].nunique(),
        "repetitions": int(sampled.max()) + 1 if len(sampled) else 1,
        "exact_wins": _cosine_wins(t, behaviour & (t["weights"] == "exact"), ["seed"]),
        "sample_wins": [
            (n, *_cosine_wins(t, sample & (t["n_trajectories"] == n), ["seed", "repetition"]))
            for n in sorted(t.loc[sample, "n_trajectories"].unique())
        ],
        "path": None,
        "path_wins": None,
    }
    path = t[t["policy"] == "gamps_path"]
    if len(path):
        findings["path"] = _path_cosines(path)
        on_path = (t["policy"] == "gamps_path") & (t["weights"] == "sample")
        findings["path_wins"] = _cosine_wins(t, on_path, BIAS_KEYS[1:5])
    finite = t[np.isfinite(t["bound"])]
    findings.update(
        cases=len(t),
        held=int((t["bound_ratio"] >= 1).sum()),
        infinite=int(np.isinf(t["bound"]).sum()),
        ratio_min=stats.finite_statistic(finite["bound_ratio"], np.min),
        ratio_median=stats.finite_statistic(finite["bound_ratio"], np.median),
        l1_ratio_min=stats.finite_statistic(t["bound_l1_ratio"], np.min),
        l1_ratio_median=stats.finite_statistic(t["bound_l1_ratio"], np.median),
        slack=None,
    )
    positive = t[t["bias"] > 0]
    if len(positive):
        steps = [
            positive["weighted_q_error"] / positive["bias"],
            positive["bound_l1"] / positive["weighted_q_error"],
            finite["bound"] / finite["bound_l1"],
        ]
        findings["slack"] = [stats.finite_statistic(step, np.median) for step in steps]
    return findings


# --------------------------------------------------------------------------- compute


#: The stages of ``compute_time`` that the tuning jobs form (``snakemake tuning``).
TUNING_STAGES = ("tune", "tuning_table", "fig5")
COMPUTE_COLUMNS = ["env", "stage", "jobs", "seconds", "cpu_seconds", "max_rss_mb"]
#: The benchmark folders the repository does not keep: a fresh clone redraws the figures.
NOT_KEPT = ("figures",)


def benchmark_files(benchmark_dir: str | PathLike, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """One row per Snakemake benchmark file under ``benchmark_dir``: its path relative to it
    (``file``), modification time (``modified``), environment and stage, wall and CPU seconds and
    peak memory (MB). A file two folders deep or more (``swimmer/train/ml/N100_seed0.tsv``) is its
    first folder's stage ``train``; one folder deep (``swimmer/tables.tsv``) its own stage; at the
    top (a reading's ``claims.tsv``) environment ``all``. Environments in ``exclude`` are left
    out."""
    benchmark_dir = Path(benchmark_dir)
    rows = []
    for path in sorted(benchmark_dir.rglob("*.tsv")):
        parts = path.relative_to(benchmark_dir).parts
        if len(parts) > 1 and parts[0] in exclude:
            continue
        table = pd.read_csv(path, sep="\t")
        env, stage = ("all", *parts) if len(parts) == 1 else parts[:2]
        rows.append(
            {
                "file": "/".join(parts),
                "modified": path.stat().st_mtime,
                "env": env,
                "stage": stage if len(parts) > 2 else Path(stage).stem,
                "seconds": float(table["s"].sum()),
                "cpu_seconds": float(pd.to_numeric(table["cpu_time"], errors="coerce").sum()),
                "max_rss_mb": pd.to_numeric(table["max_rss"], errors="coerce").max(),
            }
        )
    columns = ["file", "modified", "env", "stage", "seconds", "cpu_seconds", "max_rss_mb"]
    return pd.DataFrame(rows, columns=columns)


def compute_summary(files: pd.DataFrame) -> pd.DataFrame:
    """``benchmark_files`` per environment and stage: jobs, summed wall and CPU seconds, peak
    memory."""
    return (
        files.groupby(["env", "stage"], sort=True)
        .agg(
            jobs=("seconds", "size"),
            seconds=("seconds", "sum"),
            cpu_seconds=("cpu_seconds", "sum"),
            max_rss_mb=("max_rss_mb", "max"),
        )
        .reset_index()[COMPUTE_COLUMNS]
    )


def compute_time(benchmark_dir: str | PathLike, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """Jobs, wall and CPU seconds and peak memory per environment and stage of the benchmark
    files under ``benchmark_dir`` (``benchmark_files``, ``compute_summary``)."""
    return compute_summary(benchmark_files(benchmark_dir, exclude))


#: ``benchmarks/time_pipeline.py``'s record of the last full run, in a benchmark folder.
FULL_RUN = "full_run.json"


def full_run(benchmark_dir: str | PathLike) -> dict | None:
    """The record of the last timed full run in ``benchmark_dir`` (``FULL_RUN``), if any."""
    path = Path(benchmark_dir) / FULL_RUN
    return json.loads(path.read_text()) if path.is_file() else None


def run_cost(results: str | PathLike) -> pd.DataFrame:
    """``compute_time`` of every part of a full run under ``results``, with a ``part`` column:
    ``tuning`` (the tuning stages of ``results/benchmarks``), ``default`` (the rest of it) and
    ``robustness`` (``results/robustness``: each reading's benchmark files and the summary's,
    with the reading in the ``reading`` column, ``-`` for the summary and outside readings)."""
    results, robustness = Path(results), Path(results) / "robustness"
    folders = {"-": robustness / "benchmarks"}
    if robustness.is_dir():
        folders |= {d.name: d / "benchmarks" for d in sorted(robustness.iterdir()) if d.is_dir()}
    main = compute_time(results / "benchmarks").assign(reading="-")
    tuning = main["stage"].isin(TUNING_STAGES)
    parts = [main[tuning].assign(part="tuning"), main[~tuning].assign(part="default")]
    parts += [compute_time(f).assign(part="robustness", reading=r) for r, f in folders.items()]
    parts = [part for part in parts if len(part)]
    columns = ["part", "reading", *COMPUTE_COLUMNS]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


# --------------------------------------------------------------------------- model health

#: Per-iteration model diagnostics summarised by ``model_health`` (columns of the curves of a
#: domain that records them, e.g. the swimmer).
MODEL_METRICS = ("model_nll", "model_nmse", "fit_ess", "off_support", "model_epochs")


def model_health(curves: pd.DataFrame) -> pd.DataFrame:
    """Per N and model-based algorithm: the mean over runs of each of ``MODEL_METRICS`` at
    iteration 0 (``<metric>_first``, the fit at pi_b) and over every iteration with a fit
    (``<metric>_all``). Empty when the curves have no model diagnostics; the held-out scores are
    NaN when no trajectory was held out (fewer than 5)."""
    if "model_epochs" not in curves:
        return pd.DataFrame()
    fitted = curves[curves["model_epochs"].notna()]
    by = ["n_trajectories", "algorithm"]
    metrics = list(MODEL_METRICS)
    first = fitted[fitted["iteration"] == 0].groupby(by)[metrics].mean().add_suffix("_first")
    overall = fitted.groupby(by)[metrics].mean().add_suffix("_all")
    out = first.join(overall).sort_index(key=algorithm_order).reset_index()
    out["runs"] = fitted.groupby(by)["seed"].nunique().sort_index(key=algorithm_order).to_numpy()
    return out


def gradient_check_table(check: pd.DataFrame) -> pd.DataFrame:
    """Per N and algorithm (the reference's two halves first): the cosine of the first gradient
    with the on-policy reference over seeds (mean, std, min, share of seeds with a positive
    cosine) and the median ratio of its norm to the reference's."""
    by = ["n_trajectories", "algorithm"]
    grouped = check.groupby(by, sort=False)
    out = pd.DataFrame(
        {
            "cosine_mean": grouped["cosine"].mean(),
            "cosine_std": grouped["cosine"].std(ddof=1),
            "cosine_min": grouped["cosine"].min(),
            "positive": grouped["cosine"].apply(lambda c: float(np.mean(c > 0))),
            "norm_ratio_median": grouped["norm_ratio"].median(),
            "seeds": grouped["seed"].nunique(),
        }
    )
    return out.reset_index()


def _registry_order(algorithm: str) -> int:
    """Position of ``algorithm`` in the registry (names it does not know go last)."""
    names = algorithms.ALGORITHMS
    return names.index(algorithm) if algorithm in names else len(names)


def step_sizes(settings: dict[str, dict], tuning_tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """How each environment's runs step: per algorithm, the update rule and alpha, and, where the
    alpha was tuned, its tuning score, CI and whether it sits at its grid's edge.

    ``settings`` is ``{env: {"update", "step_size" (a number or per algorithm), "tuned"}}``;
    ``tuning_tables`` the tuning tables (``gamps.tuning``) of the tuned environments."""
    rows = []
    for env, setting in settings.items():
        steps = setting["step_size"]
        table = tuning_tables.get(env) if setting["tuned"] else None
        chosen = None if table is None else selected_rows(table, setting["update"])
        algorithms_ = steps if isinstance(steps, dict) else {"all": steps}
        for algorithm in sorted(algorithms_, key=_registry_order):
            row = {"env": env, "algorithm": algorithm, "update": setting["update"]}
            row |= {"step_size": float(algorithms_[algorithm]), "tuned": bool(setting["tuned"])}
            pick = None if chosen is None else chosen[chosen["algorithm"] == algorithm]
            if pick is not None and len(pick):
                first = pick.iloc[0]
                row |= {k: first[k] for k in ("score", "ci_low", "ci_high", "seeds")}
                row["at_edge"] = bool(first["at_edge"])
            rows.append(row)
    columns = ["env", "algorithm", "update", "step_size", "tuned", "score", "ci_low", "ci_high"]
    return pd.DataFrame(rows).reindex(columns=[*columns, "seeds", "at_edge"])
