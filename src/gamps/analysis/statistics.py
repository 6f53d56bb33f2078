"""Uncertainty of the learning curves: bootstrap CIs, per-run outcomes and paired comparisons.

The paper reports mean +- std across runs; this module adds bootstrap confidence intervals of the
mean (``scipy.stats.bootstrap``, BCa with a percentile fallback) for the per-iteration return, for
the final and best-iteration return of each run, and for the paired differences between GAMPS and
each baseline. Runs are paired: for one (env, N, seed) every algorithm learns from the same dataset
and the same initial policy, so comparisons pair runs by seed.

Every random draw comes from a ``numpy.random.Generator`` seeded with ``[seed, crc32(group key)]``,
and every group is laid out as an array whose runs are sorted by seed, so a group's interval depends
only on its own data, the base seed and its key: not on row order nor on the other groups present.
"""

from __future__ import annotations

import inspect
import warnings
import zlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .aggregate import EXTRA_METRICS, KEYS, _algorithm_order, display_name

__all__ = [
    "OUTCOMES",
    "TIE_TOLERANCE",
    "bootstrap_ci",
    "comparison_markdown",
    "iteration_statistics",
    "outcome_latex",
    "outcome_markdown",
    "outcome_table",
    "paired_comparisons",
    "run_outcomes",
    "run_summary",
    "wilcoxon_p",
    "group_seed",
]

RUN = ["algorithm", "n_trajectories", "seed"]
#: Per-run outcomes summarised and compared: final return, best-iteration return, best - final.
OUTCOMES = ("final", "best", "overfit")
#: Absolute tolerance under which a paired difference counts as a tie.
TIE_TOLERANCE = 1e-12
N_RESAMPLES = 10_000

_DISPLAY = {
    "initial": "initial J",
    "final": "final J",
    "best": "best-iteration J",
    "overfit": "overfit (best − final)",
}


# --------------------------------------------------------------------------- bootstrap


def bootstrap_ci(
    values,
    statistic: Callable = np.mean,
    confidence: float = 0.95,
    n_resamples: int = N_RESAMPLES,
    seed=0,
    axis: int = -1,
    *,
    method: str = "BCa",
):
    """Two-sided bootstrap confidence interval ``(low, high)`` of ``statistic`` along ``axis``.

    ``scipy.stats.bootstrap`` with ``method`` ("BCa", bias-corrected and accelerated, by default)
    and ``rng = numpy.random.default_rng(seed)``. Where BCa is undefined (scipy warns and returns
    NaN, e.g. a degenerate jackknife) the percentile interval is used instead, from the same
    resamples; where even that is degenerate (fewer than 2 values, or all values equal) the interval
    is ``(statistic, statistic)``. Finite input never gives NaN. Every slice along the other axes is
    resampled with the same indices, so its interval does not depend on the other slices (up to
    floating-point rounding: scipy's arithmetic on a batch can differ from that on one slice in the
    last bit). Returns floats for 1-D ``values``, else arrays of the remaining shape.
    """
    data = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    shape, n = data.shape[:-1], data.shape[-1]
    flat = data.reshape(-1, n)
    vectorized = _is_vectorized(statistic)
    point = _evaluate(statistic, flat, vectorized)
    low, high = point.copy(), point.copy()
    if n >= 2 and flat.shape[0]:
        with np.errstate(invalid="ignore"):
            todo = np.ptp(flat, axis=-1) > 0  # NaN spread (NaN input) is left to the point value
        methods = ("BCa", "percentile") if method.lower() == "bca" else (method,)
        for current in methods:
            if not todo.any():
                break
            lo, hi = _scipy_interval(
                flat[todo], statistic, vectorized, confidence, n_resamples, seed, current
            )
            done = np.isfinite(lo) & np.isfinite(hi)
            rows = np.flatnonzero(todo)[done]
            low[rows], high[rows] = lo[done], hi[done]
            todo[rows] = False
    if not shape:
        return float(low[0]), float(high[0])
    return low.reshape(shape), high.reshape(shape)


def _is_vectorized(statistic: Callable) -> bool:
    try:
        return "axis" in inspect.signature(statistic).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def _evaluate(statistic: Callable, flat: np.ndarray, vectorized: bool) -> np.ndarray:
    if flat.shape[0] == 0:
        return np.empty(0)
    if vectorized:
        out = statistic(flat, axis=-1)
    else:
        out = np.apply_along_axis(statistic, -1, flat)
    return np.array(out, dtype=float).reshape(flat.shape[0])


def _scipy_interval(flat, statistic, vectorized, confidence, n_resamples, seed, method):
    rng = np.random.default_rng(seed)  # fresh per attempt: the fallback reuses the resamples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.bootstrap(
            (flat,),
            statistic,
            n_resamples=n_resamples,
            vectorized=vectorized,
            axis=-1,
            confidence_level=confidence,
            method=method,
            rng=rng,
        )
    interval = result.confidence_interval
    return np.atleast_1d(interval.low).astype(float), np.atleast_1d(interval.high).astype(float)


def group_seed(seed: int, *key) -> list[int]:
    """Entropy ``[seed, crc32(key)]`` of one group's generator: stable across runs and platforms."""
    text = "|".join(_canonical(k) for k in key)
    return [int(seed), zlib.crc32(text.encode())]


def _canonical(value) -> str:
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return str(value)


def _row_statistics(values: np.ndarray, entropy, confidence: float, n_resamples: int) -> dict:
    """Mean, std (ddof = 1), bootstrap CI of the mean and count of each row of [rows, runs].

    NaN marks a missing run; rows with the same set of present runs are bootstrapped together.
    """
    rows = values.shape[0]
    out = {k: np.full(rows, np.nan) for k in ("mean", "std", "ci_low", "ci_high")}
    present = ~np.isnan(values)
    out["runs"] = present.sum(axis=1).astype(np.int64)
    patterns, which = np.unique(present, axis=0, return_inverse=True)
    for index, pattern in enumerate(patterns):
        if not pattern.any():
            continue
        members = np.flatnonzero(which.reshape(-1) == index)
        block = values[np.ix_(members, np.flatnonzero(pattern))]
        out["mean"][members] = block.mean(axis=1)
        if block.shape[1] > 1:
            out["std"][members] = block.std(axis=1, ddof=1)
        low, high = bootstrap_ci(block, np.mean, confidence, n_resamples, entropy, axis=-1)
        out["ci_low"][members], out["ci_high"][members] = low, high
    return out


# --------------------------------------------------------------------------- tables


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}")


def _unique(frame: pd.DataFrame, keys, what: str) -> None:
    duplicated = frame.duplicated(keys, keep=False)
    if duplicated.any():
        example = frame.loc[duplicated, keys].iloc[0].to_dict()
        raise ValueError(f"{what}: duplicate rows for {example}")


def _sorted(frame: pd.DataFrame, by) -> pd.DataFrame:
    frame = frame.sort_values(by, key=_algorithm_order, kind="mergesort")
    return frame.reset_index(drop=True)


def _groups(frame: pd.DataFrame, keys):
    """(key, group) pairs in the canonical order (LABELS order, then values)."""
    order = frame[keys].drop_duplicates()
    order = order.sort_values(keys, key=_algorithm_order, kind="mergesort")
    grouped = frame.groupby(keys, sort=False)
    for key in order.itertuples(index=False, name=None):
        yield key, grouped.get_group(key)


def iteration_statistics(
    curves: pd.DataFrame,
    metric: str = "return",
    confidence: float = 0.95,
    seed: int = 0,
    *,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Per (algorithm, N, iteration): mean, std (ddof = 1), bootstrap CI of the mean, runs.

    The learning-curve bands of the paper's figures with a CI of the mean across runs; all
    iterations of one (algorithm, N) are resampled at once (same seeds resampled at every
    iteration). Columns: algorithm, n_trajectories, iteration, mean, std, ci_low, ci_high, runs.
    """
    _require(curves, [*KEYS, metric], "iteration_statistics")
    _unique(curves, KEYS, "iteration_statistics")
    parts = []
    for (algorithm, n), group in _groups(curves, ["algorithm", "n_trajectories"]):
        table = group.pivot(index="iteration", columns="seed", values=metric)
        table = table.sort_index(axis=0).sort_index(axis=1)
        entropy = group_seed(seed, "iteration", metric, algorithm, n)
        row = _row_statistics(table.to_numpy(dtype=float), entropy, confidence, n_resamples)
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


def run_outcomes(curves: pd.DataFrame, metric: str = "return") -> pd.DataFrame:
    """One row per run (algorithm, N, seed): initial, final, best and overfit ``metric``.

    ``initial`` is the first iteration (0), ``final`` the run's last iteration, ``best`` the
    best-iteration return (max over all iterations, 0 included), ``overfit = best - final >= 0``:
    how much was lost after the best iteration. ``final_<m>`` gives the last value of each
    EXTRA_METRICS column present (minigolf's ``hole_rate``).
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


def run_summary(curves: pd.DataFrame, metric: str = "return") -> pd.DataFrame:
    """Per (algorithm, N): runs, mean initial return, mean and std (ddof = 1) of the final and
    best-iteration return, and of the final value of each extra metric (results/{env}/summary.csv:
    the paper's mean +- std, without intervals)."""
    outcomes = run_outcomes(curves, metric)
    extras = [c for c in outcomes.columns if c.startswith("final_")]
    stats = outcomes.groupby(["algorithm", "n_trajectories"], sort=False).agg(
        runs=("final", "count"),
        initial_mean=("initial", "mean"),
        final_mean=("final", "mean"),
        final_std=("final", "std"),
        best_mean=("best", "mean"),
        best_std=("best", "std"),
        **{f"{m}_{s}": (m, s) for m in extras for s in ("mean", "std")},
    )
    return _sorted(stats.reset_index(), ["n_trajectories", "algorithm"])


def outcome_table(
    outcomes: pd.DataFrame,
    confidence: float = 0.95,
    seed: int = 0,
    *,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Per (algorithm, N): runs, initial_mean and, for final, best, overfit (and final_<m>),
    ``<x>_mean, <x>_std, <x>_ci_low, <x>_ci_high``: bootstrap CI of the mean across runs.

    The paper's final and best-iteration return (mean +- std) with their uncertainty.
    """
    _require(outcomes, [*RUN, "initial", *OUTCOMES], "outcome_table")
    _unique(outcomes, RUN, "outcome_table")
    measures = [*OUTCOMES, *(f"final_{m}" for m in EXTRA_METRICS if f"final_{m}" in outcomes)]
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
            entropy = group_seed(seed, "outcome", x, algorithm, n)
            row = _row_statistics(values, entropy, confidence, n_resamples)
            for s in ("mean", "std", "ci_low", "ci_high"):
                record[f"{x}_{s}"] = row[s][0]
        records.append(record)
    out = pd.DataFrame.from_records(records, columns=columns)
    out["runs"] = out["runs"].astype(np.int64)
    out = _sorted(out, ["n_trajectories", "algorithm"])
    out.attrs["confidence"] = confidence
    return out


def paired_comparisons(
    outcomes: pd.DataFrame,
    reference: str = "gamps",
    confidence: float = 0.95,
    seed: int = 0,
    *,
    measures: Sequence[str] = OUTCOMES,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Reference vs each baseline, paired by seed, per N and outcome: d = reference - baseline.

    Columns: n_trajectories, baseline, outcome, pairs, reference_mean, baseline_mean,
    mean_difference, ci_low, ci_high (bootstrap CI of the mean of d, BCa with fallback), wins, ties,
    losses (d > 0, |d| <= TIE_TOLERANCE, d < 0), probability_of_improvement (fraction of seeds with
    d > 0, ties 1/2; percentile bootstrap CI poi_ci_low, poi_ci_high) and wilcoxon_p (two-sided
    signed-rank test on d, zeros dropped; 1.0 when every d is 0 or there is a single pair).

    The sign is not flipped for ``overfit``, where smaller is better: there d < 0, "losses" and a
    small probability_of_improvement favour the reference. Raises ValueError unless both sides of
    each comparison have the same seeds and finite outcomes.
    """
    measures = list(measures)
    _require(outcomes, [*RUN, *measures], "paired_comparisons")
    _unique(outcomes, RUN, "paired_comparisons")
    if not (outcomes["algorithm"] == reference).any():
        raise ValueError(f"paired_comparisons: reference algorithm {reference!r} not in outcomes")
    columns = [
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
        x = ref[measures].to_numpy(dtype=float).T  # [measures, pairs], seeds sorted
        y = base.loc[ref.index, measures].to_numpy(dtype=float).T
        d = x - y
        if not np.isfinite(d).all():
            raise ValueError(f"paired_comparisons: N={n}: non-finite outcomes of {baseline!r}")
        scores = np.where(d > TIE_TOLERANCE, 1.0, np.where(d < -TIE_TOLERANCE, 0.0, 0.5))
        for i, outcome in enumerate(measures):
            entropy = group_seed(seed, "paired", outcome, reference, baseline, n)
            low, high = bootstrap_ci(d[i], np.mean, confidence, n_resamples, entropy)
            poi_low, poi_high = bootstrap_ci(
                scores[i], np.mean, confidence, n_resamples, entropy, method="percentile"
            )
            records.append(
                {
                    "n_trajectories": n,
                    "baseline": baseline,
                    "outcome": outcome,
                    "pairs": d.shape[1],
                    "reference_mean": x[i].mean(),
                    "baseline_mean": y[i].mean(),
                    "mean_difference": d[i].mean(),
                    "ci_low": low,
                    "ci_high": high,
                    "wins": int((scores[i] == 1.0).sum()),
                    "ties": int((scores[i] == 0.5).sum()),
                    "losses": int((scores[i] == 0.0).sum()),
                    "probability_of_improvement": scores[i].mean(),
                    "poi_ci_low": poi_low,
                    "poi_ci_high": poi_high,
                    "wilcoxon_p": wilcoxon_p(d[i]),
                }
            )
    out = pd.DataFrame.from_records(records, columns=columns)
    for column in ("pairs", "wins", "ties", "losses"):
        out[column] = out[column].astype(np.int64)
    out["_order"] = out["outcome"].map({m: i for i, m in enumerate(measures)})
    out = out.sort_values(["n_trajectories", "baseline", "_order"], key=_baseline_order)
    out = out.drop(columns="_order").reset_index(drop=True)
    out.attrs.update(reference=reference, confidence=confidence)
    return out


def _baseline_order(column: pd.Series) -> pd.Series:
    return _algorithm_order(column.rename("algorithm")) if column.name == "baseline" else column


def wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of paired differences, ties (|d| <= tol) dropped."""
    d = np.where(np.abs(d) <= TIE_TOLERANCE, 0.0, d)
    if d.size < 2 or not d.any() or not np.isfinite(d).all():
        return 1.0 if np.isfinite(d).all() else float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "exact p-value unavailable with ties/zeros"
        p = float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return p if np.isfinite(p) else 1.0


# --------------------------------------------------------------------------- report writers


def _number(value) -> str:
    return "–" if pd.isna(value) else f"{value:.3f}"


def _cell(row: dict, x: str, pm: str = "±") -> str:
    mean, std = _number(row[f"{x}_mean"]), _number(row[f"{x}_std"])
    return f"{mean} {pm} {std} [{_number(row[f'{x}_ci_low'])}, {_number(row[f'{x}_ci_high'])}]"


def _p_value(p) -> str:
    if pd.isna(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _level(frame: pd.DataFrame) -> str:
    confidence = frame.attrs.get("confidence")
    return f"{100 * confidence:g}% " if confidence is not None else ""


def _outcome_columns(table: pd.DataFrame) -> list[tuple[str, str]]:
    extras = [f"final_{m}" for m in EXTRA_METRICS if f"final_{m}_mean" in table.columns]
    named = [(x, _DISPLAY[x]) for x in OUTCOMES]
    return named + [(x, x.replace("_", " ")) for x in extras]


def outcome_markdown(table: pd.DataFrame, title: str) -> str:
    """outcome_table as Markdown: mean ± std [CI of the mean] of each outcome across runs."""
    columns = _outcome_columns(table)
    header = "| N | algorithm | runs | initial J |" + "".join(f" {name} |" for _, name in columns)
    lines = [f"### {title}", "", header, "|---:|---|---:|---:|" + "---:|" * len(columns)]
    for row in table.to_dict("records"):
        line = (
            f"| {row['n_trajectories']} | {display_name(row['algorithm'])} | {row['runs']} "
            f"| {_number(row['initial_mean'])} |"
        )
        lines.append(line + "".join(f" {_cell(row, x)} |" for x, _ in columns))
    lines += [
        "",
        f"Cells: mean ± std (ddof = 1) [{_level(table)}bootstrap CI of the mean, BCa] across runs;"
        " overfit = best-iteration − final J.",
    ]
    return "\n".join(lines) + "\n"


def _latex_escape(text: str) -> str:
    for char in ("\\", "&", "%", "_", "#"):
        text = text.replace(char, "\\textbackslash{}" if char == "\\" else f"\\{char}")
    return text


def outcome_latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """outcome_table as a booktabs table (mean $\\pm$ std [CI]); caption is plain text."""
    columns = _outcome_columns(table)
    names = ["$N$", "algorithm", "runs", "initial $J$"]
    names += [_latex_escape(name).replace(" J", " $J$").replace("−", "$-$") for _, name in columns]
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{_latex_escape(caption)}}}",
        f"\\label{{{label}}}",
        "\\begin{tabular}{rlrr" + "l" * len(columns) + "}",
        "\\toprule",
        " & ".join(names) + " \\\\",
        "\\midrule",
    ]
    previous = None
    for row in table.to_dict("records"):
        if previous is not None and row["n_trajectories"] != previous:
            lines.append("\\midrule")
        previous = row["n_trajectories"]
        cells = [
            str(row["n_trajectories"]),
            _latex_escape(display_name(row["algorithm"])),
            str(row["runs"]),
            _number(row["initial_mean"]),
        ]
        cells += [_cell(row, x, pm="$\\pm$").replace("–", "--") for x, _ in columns]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def comparison_markdown(comparisons: pd.DataFrame, title: str, reference: str | None = None) -> str:
    """paired_comparisons as Markdown: Δ = reference − baseline per seed, with its CI, W/T/L,
    probability of improvement and Wilcoxon p. ``reference`` defaults to the table's own."""
    ref = display_name(reference or comparisons.attrs.get("reference", "gamps"))
    level = _level(comparisons)
    header = (
        f"| N | baseline | outcome | pairs | {ref} mean | baseline mean "
        f"| Δ mean [{level}CI] | wins / ties / losses | P({ref} > baseline) [{level}CI] "
        "| Wilcoxon p |"
    )
    lines = [f"### {title}", "", header, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in comparisons.to_dict("records"):
        outcome = _DISPLAY.get(row["outcome"], str(row["outcome"]).replace("_", " "))
        lines.append(
            f"| {row['n_trajectories']} | {display_name(row['baseline'])} | {outcome} "
            f"| {row['pairs']} "
            f"| {_number(row['reference_mean'])} | {_number(row['baseline_mean'])} "
            f"| {_number(row['mean_difference'])} "
            f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}] "
            f"| {row['wins']} / {row['ties']} / {row['losses']} "
            f"| {_number(row['probability_of_improvement'])} "
            f"[{_number(row['poi_ci_low'])}, {_number(row['poi_ci_high'])}] "
            f"| {_p_value(row['wilcoxon_p'])} |"
        )
    lines += [
        "",
        f"Δ = {ref} − baseline on the same seed (same dataset and initial policy); CI: bootstrap "
        "(BCa) of the mean Δ; P: fraction of seeds where "
        f"{ref} is higher (ties ½), percentile bootstrap CI. For overfit lower is better, so there "
        f"Δ < 0 and P < 0.5 favour {ref}.",
    ]
    return "\n".join(lines) + "\n"
