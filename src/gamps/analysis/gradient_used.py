"""The tables of the gridworld's gradient-used diagnostics and of the decomposition of a final
return gap (``gamps.domains.gridworld.gradient_used``), and their Markdown section of the report.

They live apart from ``tables`` and ``render`` on purpose: a rule's stamp follows the modules its
script imports, and the aggregation of every environment imports ``tables`` (the report's
tables import ``render``), so a new function there would rerun every training, the Swimmer's too.
Statistics come from ``stats``: mean, std (ddof 1) and the bootstrap CI of the mean over seeds, one
seeded generator per group (``stats.group_seed``); terms of one N are resampled together (paired
by seed).

The decomposition of J_K(reference, batch) - J_K(baseline, batch) follows the chain of ascents
(settings of ``gradient_used``), each step a term, so the terms add up to the gap exactly:

    reference: batch -> fresh -> exact_limit -> true  ->  baseline: true -> exact_limit -> fresh
    -> batch

    gap = [ref batch - ref fresh]         (minus the batch cost of the reference)
        + [ref fresh - ref exact_limit]   (finite-N sampling, on-policy)
        + [ref exact_limit - ref true]    (minus the model bias of the reference)
        + [ref true - base true]          (step sizes; 0 when they are equal)
        + [base true - base exact_limit]  (the model bias of the baseline; 0 if model-free)
        + [base exact_limit - base fresh] (finite-N sampling, on-policy)
        + [base fresh - base batch]       (the batch cost of the baseline)
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from .. import algorithms
from . import stats
from .render import _table
from .stats import N_RESAMPLES
from .tables import algorithm_order

USED_KEYS = ["n_trajectories", "algorithm", "seed", "iteration"]
RETURN_KEYS = ["n_trajectories", "algorithm", "setting", "seed"]
#: The ascents of (B) in table order (``gradient_used.SETTINGS``) and their display names.
SETTINGS = {
    "batch": "fixed batch",
    "fresh": "fresh on-policy data",
    "exact_limit": "exact limit (N → ∞, on-policy)",
    "exact_limit_batch": "exact limit (N → ∞, π_b's data)",
    "true": "true gradient",
}
#: Where along a learning path the gradient-used summary looks: k = 0 (pi_b), the mean over the
#: evaluated k >= 1 of each seed, and the last iteration.
PLACES = ("behaviour", "path", "final")
#: The metrics of the gradient used that are summarised over seeds.
USED_METRICS = ("cosine", "norm_ratio", "relative_error", "exact_cosine", "sampling_cosine")
#: The chain of (side, setting) from the reference's batch run to the baseline's.
CHAIN = (
    ("reference", "batch"),
    ("reference", "fresh"),
    ("reference", "exact_limit"),
    ("reference", "true"),
    ("baseline", "true"),
    ("baseline", "exact_limit"),
    ("baseline", "fresh"),
    ("baseline", "batch"),
)
#: Term i of the decomposition is J(CHAIN[i]) - J(CHAIN[i + 1]); display names.
TERMS = {
    "batch_reference": "{ref} batch − {ref} fresh",
    "sampling_reference": "{ref} fresh − {ref} exact limit",
    "model_reference": "{ref} exact limit − true ascent",
    "step_size": "true ascent: α({ref}) − α({base})",
    "model_baseline": "true ascent − {base} exact limit",
    "sampling_baseline": "{base} exact limit − {base} fresh",
    "batch_baseline": "{base} fresh − {base} batch",
}
LEVELS = tuple(f"{side}_{setting}" for side, setting in CHAIN)


def _order(column: pd.Series) -> pd.Series:
    if column.name == "setting":
        return column.map({s: i for i, s in enumerate(SETTINGS)}).fillna(len(SETTINGS))
    if column.name == "place":
        return column.map({p: i for i, p in enumerate(PLACES)}).fillna(len(PLACES))
    return algorithm_order(column)


def concatenate(paths: Iterable[str | PathLike], keys: list[str]) -> pd.DataFrame:
    """Every seed's rows in one table, sorted by ``keys`` (algorithms in registry order, settings
    in ``SETTINGS`` order), whatever the order of ``paths``."""
    table = pd.concat((pd.read_csv(p) for p in paths), ignore_index=True)
    return table.sort_values(keys, key=_order, kind="mergesort").reset_index(drop=True)


def _per_seed_places(table: pd.DataFrame) -> pd.DataFrame:
    """Per (N, algorithm, seed) and place: the metrics at k = 0, their mean over the evaluated
    k >= 1, and at the last iteration."""
    by = ["n_trajectories", "algorithm", "seed"]
    metrics = list(USED_METRICS)
    last = table["iteration"] == table["iteration"].max()
    parts = {
        "behaviour": table[table["iteration"] == 0].groupby(by)[metrics].mean(),
        "path": table[table["iteration"] > 0].groupby(by)[metrics].mean(),
        "final": table[last].groupby(by)[metrics].mean(),
    }
    return pd.concat(parts, names=["place"]).reset_index()


def used_summary(
    table: pd.DataFrame,
    confidence: float = 0.95,
    seed: int = 0,
    *,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Per (N, algorithm, place): seeds, for each of ``USED_METRICS`` the mean, std and bootstrap
    CI of the mean over seeds (``stats.row_statistics``, the metrics resampled together), the
    share of seeds whose cosine is positive and the median norm ratio."""
    per_seed = _per_seed_places(table)
    records = []
    for (n, algorithm, place), group in per_seed.groupby(
        ["n_trajectories", "algorithm", "place"], sort=False
    ):
        group = group.sort_values("seed")
        values = group[list(USED_METRICS)].to_numpy(dtype=float).T  # [metrics, seeds]
        entropy = stats.group_seed(seed, "gradient_used", n, algorithm, place)
        row = stats.row_statistics(values, entropy, confidence, n_resamples)
        record: dict[str, Any] = {
            "n_trajectories": n,
            "algorithm": algorithm,
            "place": place,
            "seeds": len(group),
        }
        for i, metric in enumerate(USED_METRICS):
            for s in ("mean", "std", "ci_low", "ci_high"):
                record[f"{metric}_{s}"] = row[s][i]
        record["positive"] = float(np.mean(group["cosine"] > 0))
        record["norm_ratio_median"] = float(group["norm_ratio"].median())
        records.append(record)
    out = pd.DataFrame.from_records(records)
    out = out.sort_values(["n_trajectories", "algorithm", "place"], key=_order, kind="mergesort")
    out = out.reset_index(drop=True)
    out.attrs["confidence"] = confidence
    return out


def returns_summary(
    returns: pd.DataFrame,
    confidence: float = 0.95,
    seed: int = 0,
    *,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Per (N, algorithm, setting): seeds and the mean, std and bootstrap CI over seeds of J_K
    (``final_return``); N = 0 marks the exact ascents."""
    records = []
    for (n, algorithm, setting), group in returns.groupby(
        ["n_trajectories", "algorithm", "setting"], sort=False
    ):
        values = group.sort_values("seed")["final_return"].to_numpy(dtype=float)[np.newaxis]
        entropy = stats.group_seed(seed, "final_return", n, algorithm, setting)
        row = stats.row_statistics(values, entropy, confidence, n_resamples)
        records.append(
            {"n_trajectories": n, "algorithm": algorithm, "setting": setting}
            | {"seeds": len(group)}
            | {s: row[s][0] for s in ("mean", "std", "ci_low", "ci_high")}
        )
    out = pd.DataFrame.from_records(records)
    out = out.sort_values(["n_trajectories", "algorithm", "setting"], key=_order, kind="mergesort")
    return out.reset_index(drop=True)


def gap_decomposition(
    returns: pd.DataFrame, reference: str = "gamps", baseline: str = "pgt"
) -> pd.DataFrame:
    """Per (N > 0, seed): J_K of every level of ``CHAIN`` (``<side>_<setting>``; the exact
    ascents, N = 0, apply to every N), the gap J(reference, batch) - J(baseline, batch) and the
    terms of ``TERMS``, term i = level i - level i + 1, which add up to the gap. No rows when
    either algorithm was not run; ValueError when one of its levels is missing or given twice."""
    columns = ["n_trajectories", "seed", "reference", "baseline", *LEVELS, "gap", *TERMS]
    if not {reference, baseline} <= set(returns["algorithm"]):
        return pd.DataFrame(columns=columns)
    if returns.duplicated(["seed", "n_trajectories", "algorithm", "setting"]).any():
        raise ValueError("gap_decomposition: a final return is given twice")
    values = returns.set_index(["seed", "n_trajectories", "algorithm", "setting"])["final_return"]
    seeds = sorted(returns["seed"].unique())
    sizes = sorted(n for n in returns["n_trajectories"].unique() if n > 0)
    names = {"reference": reference, "baseline": baseline}
    records = []
    for n in sizes:
        for s in seeds:
            record: dict[str, Any] = {"n_trajectories": n, "seed": s}
            record |= {"reference": reference, "baseline": baseline}
            for (side, setting), level in zip(CHAIN, LEVELS, strict=True):
                key = (s, n if setting in ("batch", "fresh") else 0, names[side], setting)
                if key not in values.index:
                    raise ValueError(f"gap_decomposition: no final return for {key}")
                record[level] = float(values.loc[key])
            record["gap"] = record[LEVELS[0]] - record[LEVELS[-1]]
            for term, (high, low) in zip(TERMS, pairwise(LEVELS), strict=True):
                record[term] = record[high] - record[low]
            records.append(record)
    return pd.DataFrame.from_records(records, columns=columns)


def decomposition_summary(
    decomposition: pd.DataFrame,
    confidence: float = 0.95,
    seed: int = 0,
    *,
    n_resamples: int = N_RESAMPLES,
) -> pd.DataFrame:
    """Per N, for the gap and every term: mean, std and bootstrap CI of the mean over seeds (all
    resampled with the same indices: paired by seed), the share of seeds where it is positive and
    the two-sided Wilcoxon p against 0 (``stats.wilcoxon_p``; 1 when it is 0 on every seed). The
    levels themselves are in ``returns_summary``."""
    quantities = ["gap", *TERMS]
    columns = ["n_trajectories", "reference", "baseline", "quantity", "seeds"]
    columns += ["mean", "std", "ci_low", "ci_high", "positive", "wilcoxon_p"]
    records = []
    for n, group in decomposition.groupby("n_trajectories", sort=True):
        group = group.sort_values("seed")
        values = group[quantities].to_numpy(dtype=float).T  # [quantities, seeds]
        reference, baseline = group["reference"].iloc[0], group["baseline"].iloc[0]
        entropy = stats.group_seed(seed, "gap_decomposition", reference, baseline, n)
        row = stats.row_statistics(values, entropy, confidence, n_resamples)
        for i, quantity in enumerate(quantities):
            records.append(
                {"n_trajectories": n, "reference": reference, "baseline": baseline}
                | {"quantity": quantity, "seeds": len(group)}
                | {s: row[s][i] for s in ("mean", "std", "ci_low", "ci_high")}
                | {"positive": float(np.mean(values[i] > stats.TIE_TOLERANCE))}
                | {"wilcoxon_p": stats.wilcoxon_p(values[i])}
            )
    out = pd.DataFrame.from_records(records, columns=columns)
    out.attrs["confidence"] = confidence
    return out


# --------------------------------------------------------------------------- Markdown


def _cell(row: Any, name: str = "", digits: int = 2) -> str:
    """``mean ± std [ci_low, ci_high]`` of ``<name>_<stat>`` (or of ``<stat>`` without name)."""
    prefix = f"{name}_" if name else ""
    mean, std = row[f"{prefix}mean"], row[f"{prefix}std"]
    low, high = row[f"{prefix}ci_low"], row[f"{prefix}ci_high"]
    if pd.isna(mean):
        return "–"
    std_text = "–" if pd.isna(std) else f"{std:.{digits}f}"
    return f"{mean:.{digits}f} ± {std_text} [{low:.{digits}f}, {high:.{digits}f}]"


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _iterations(iterations: Iterable[int]) -> str:
    ks = sorted(int(k) for k in iterations if k > 0)
    if len(ks) > 4:
        return f"k = {ks[0]}, {ks[1]}, ..., {ks[-1]}"
    return "k = " + ", ".join(map(str, ks))


def markdown(
    used: pd.DataFrame,
    returns: pd.DataFrame,
    decomposition: pd.DataFrame,
    iterations: Iterable[int],
) -> str:
    """The report's section: ``used_summary``, ``returns_summary`` and ``decomposition_summary``
    (empty when the two algorithms compared were not run) as Markdown tables; ``iterations`` are
    the evaluated iterations of the paths."""
    seeds = int(used["seeds"].max()) if len(used) else 0
    level = f"{100 * used.attrs.get('confidence', 0.95):g}%"
    lines = [
        "#### gridworld: the gradient each algorithm used, and where the gap to PGT comes from",
        "",
        "**The gradient used.** At each policy θ_k of an algorithm's own learning path on the "
        "pipeline's dataset, the gradient it computed on that batch (Algorithm 1, lines 2-9) "
        "against the true gradient ∇J(θ_k), both exact: their cosine, and the ratio of the "
        "norms ‖ĝ‖ / ‖∇J‖. *π_b*: k = 0; *path*: per seed, the mean over "
        f"{_iterations(iterations)}; *final*: k = K. Mean ± std "
        f"[{level} bootstrap CI of the mean] over {seeds} seeds.",
        "",
    ]
    header = ["N", "algorithm", "cosine at π_b", "along the path", "at k = K"]
    header += ["‖ĝ‖/‖∇J‖ at π_b", "along the path"]
    rows = []
    for (n, algorithm), group in used.groupby(["n_trajectories", "algorithm"], sort=False):
        at = group.set_index("place")
        rows.append(
            [str(n), algorithms.label(algorithm)]
            + [_cell(at.loc[p], "cosine") for p in PLACES]
            + [_cell(at.loc[p], "norm_ratio") for p in ("behaviour", "path")]
        )
    lines += _table(header, "rlrrrrr", rows)
    model_based = used[used["algorithm"].isin(algorithms.MODEL_BASED)]
    if len(model_based):
        lines += [
            "",
            "Where the model-based gradients lose their direction: the cosine with ∇J of Eq. 2's "
            "MVG with exact occupancies and the model fitted on the batch (the model's bias alone, "
            "Figure 4's quantity on the pipeline's datasets), and the cosine of the gradient used "
            "(Eq. 5, a sum over the batch's trajectories) with that exact MVG (the sampling "
            "alone).",
            "",
        ]
        header = ["N", "algorithm", "exact MVG vs ∇J at π_b", "along the path"]
        header += ["used vs exact MVG at π_b", "along the path"]
        rows = []
        for (n, algorithm), group in model_based.groupby(
            ["n_trajectories", "algorithm"], sort=False
        ):
            at = group.set_index("place")
            rows.append(
                [str(n), algorithms.label(algorithm)]
                + [
                    _cell(at.loc[p], m)
                    for m in ("exact_cosine", "sampling_cosine")
                    for p in PLACES[:2]
                ]
            )
        lines += _table(header, "rlrrrr", rows)
    lines += [
        "",
        "**Final return J_K of each ascent** (exact J; mean ± std over seeds): on the fixed "
        "batch (the runs of Figure 2), with the same estimator on N fresh trajectories of the "
        "current policy at every step (on-policy, ρ = 1), in the exact limit N → ∞ (no sampling; "
        "a model-based algorithm's MVG of Eq. 2 with its model fitted on the exact limit of its "
        "weights: for GAMPS η of the current policy, Lemma 4.1; for ML the visitation of the "
        "data's policy), and with the true gradient (the limit of the unbiased REINFORCE and "
        "PGT).",
        "",
    ]
    exact = returns[returns["n_trajectories"] == 0].set_index(["algorithm", "setting"])
    header = ["N", "algorithm", *SETTINGS.values()]
    rows = []
    for (n, algorithm), group in returns[returns["n_trajectories"] > 0].groupby(
        ["n_trajectories", "algorithm"], sort=False
    ):
        at = group.set_index("setting")
        cells = []
        for setting in SETTINGS:
            if setting in at.index:
                row = at.loc[setting]
            elif (algorithm, setting) in exact.index:
                row = exact.loc[(algorithm, setting)]
            else:
                cells.append("–")
                continue
            cells.append(f"{row['mean']:.3f} ± {row['std']:.3f}")
        rows.append([str(n), algorithms.label(algorithm), *cells])
    lines += _table(header, "rl" + "r" * len(SETTINGS), rows)
    if len(decomposition):
        lines += _decomposition_markdown(decomposition, level)
    return "\n".join(lines) + "\n"


def _decomposition_markdown(summary: pd.DataFrame, level: str) -> list[str]:
    ref = algorithms.label(summary["reference"].iloc[0])
    base = algorithms.label(summary["baseline"].iloc[0])
    names = {term: text.format(ref=ref, base=base) for term, text in TERMS.items()}
    lines = [
        "",
        f"**The gap J_K({ref}, batch) − J_K({base}, batch), term by term.** The terms follow "
        f"the chain {ref} batch → {ref} fresh → {ref} exact limit → true-gradient ascent → "
        f"{base} exact limit → {base} fresh → {base} batch, so they add up to the gap exactly "
        f"(per seed): model bias of {ref} = −({names['model_reference']}), its batch cost = "
        f"−({names['batch_reference']}), the batch cost of {base} = {names['batch_baseline']}. "
        f"Mean ± std [{level} bootstrap CI of the mean, all terms resampled together, paired "
        "by seed], the share of seeds where the term is positive, and the Wilcoxon p against 0.",
        "",
    ]
    header = ["N", "term", "mean ± std [CI]", "seeds > 0", "Wilcoxon p"]
    rows = []
    for row in summary.to_dict("records"):
        quantity = row["quantity"]
        name = f"**gap: {ref} − {base}**" if quantity == "gap" else names[quantity]
        rows.append(
            [
                str(row["n_trajectories"]),
                name,
                _cell(row, digits=3),
                f"{row['positive']:.0%}",
                _p(row["wilcoxon_p"]),
            ]
        )
    return lines + _table(header, "rlrrr", rows)
