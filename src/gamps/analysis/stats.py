"""Statistics of runs, arrays in and numbers out: bootstrap confidence intervals, the Wilcoxon
signed-rank test and the probability of improvement. No pandas: ``tables`` lays the runs out.

The paper reports mean +- std across runs; these functions add the uncertainty of the mean
(``scipy.stats.bootstrap``, BCa with a percentile fallback) and paired tests between algorithms.
Every random draw comes from a ``numpy.random.Generator`` seeded with ``group_seed`` (the base
seed and the group's key), so an interval depends only on its own data, the seed and the key.
"""

from __future__ import annotations

import inspect
import warnings
import zlib
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
from scipy import stats

#: Absolute tolerance under which a paired difference counts as a tie.
TIE_TOLERANCE = 1e-12
N_RESAMPLES = 10_000


def bootstrap_ci(
    values: Any,
    statistic: Callable = np.mean,
    confidence: float = 0.95,
    n_resamples: int = N_RESAMPLES,
    seed: Any = 0,
    axis: int = -1,
    *,
    method: str = "BCa",
) -> tuple[Any, Any]:
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


def group_seed(seed: int, *key: Hashable) -> list[int]:
    """Entropy ``[seed, crc32(key)]`` of one group's generator: stable across runs and platforms
    (rliable's bootstrap ignores its ``random_state``; here every group has its own stream)."""
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


def row_statistics(
    values: np.ndarray, entropy: Any, confidence: float = 0.95, n_resamples: int = N_RESAMPLES
) -> dict[str, np.ndarray]:
    """Mean, std (ddof = 1), bootstrap CI of the mean and count of each row of ``[rows, runs]``.

    NaN marks a missing run; rows with the same set of present runs are bootstrapped together,
    with the generator seeded by ``entropy``. Returns arrays ``mean, std, ci_low, ci_high, runs``.
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


def improvement_scores(d: np.ndarray) -> np.ndarray:
    """Per pair: 1 where the difference ``d`` is positive, 0 where negative, 1/2 for a tie
    (``|d| <= TIE_TOLERANCE``). Their mean is the probability of improvement."""
    return np.where(d > TIE_TOLERANCE, 1.0, np.where(d < -TIE_TOLERANCE, 0.0, 0.5))


def wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p of paired differences, ties (|d| <= tol) dropped; 1.0
    when every difference is a tie or there is a single pair, NaN for non-finite input."""
    d = np.where(np.abs(d) <= TIE_TOLERANCE, 0.0, d)
    if d.size < 2 or not d.any() or not np.isfinite(d).all():
        return 1.0 if np.isfinite(d).all() else float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "exact p-value unavailable with ties/zeros"
        p = float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return p if np.isfinite(p) else 1.0


def smallest_wilcoxon_p(n: int) -> float:
    """The smallest two-sided p the exact Wilcoxon signed-rank test can give with ``n`` pairs
    (every difference of one sign): 2 / 2**n, 0.0625 at n = 5, so 5 pairs never reach 0.05."""
    return min(1.0, 2.0 * 0.5**n)


def paired_difference(
    reference: np.ndarray,
    baseline: np.ndarray,
    entropy: Any,
    confidence: float = 0.95,
    n_resamples: int = N_RESAMPLES,
) -> dict[str, float]:
    """Paired comparison of two algorithms on the same seeds, ``d = reference - baseline``.

    The mean of d with its bootstrap CI (BCa with fallback), wins / ties / losses, the probability
    of improvement (ties count 1/2) with its percentile bootstrap CI, and the Wilcoxon p of d.
    Both intervals draw from the generator seeded by ``entropy``.
    """
    d = reference - baseline
    scores = improvement_scores(d)
    low, high = bootstrap_ci(d, np.mean, confidence, n_resamples, entropy)
    poi_low, poi_high = bootstrap_ci(
        scores, np.mean, confidence, n_resamples, entropy, method="percentile"
    )
    return {
        "pairs": d.shape[0],
        "reference_mean": reference.mean(),
        "baseline_mean": baseline.mean(),
        "mean_difference": d.mean(),
        "ci_low": low,
        "ci_high": high,
        "wins": int((scores == 1.0).sum()),
        "ties": int((scores == 0.5).sum()),
        "losses": int((scores == 0.0).sum()),
        "probability_of_improvement": scores.mean(),
        "poi_ci_low": poi_low,
        "poi_ci_high": poi_high,
        "wilcoxon_p": wilcoxon_p(d),
    }


def finite_statistic(values: Any, statistic: Callable) -> float:
    """``statistic`` of the finite entries of ``values``; inf when none is finite (Theorem 3.2's
    bound is infinite where the model gives probability 0 to a transition that eta weighs)."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    return float(statistic(finite)) if len(finite) else np.inf
