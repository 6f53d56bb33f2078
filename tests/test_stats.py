"""The array statistics of analysis.stats: bootstrap CIs, group seeds, Wilcoxon p, probability of
improvement, paired differences."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from scipy import stats as scipy_stats

from gamps.analysis import stats as st

FAST = 2_000  # resamples where only the structure, not the precision, is tested


# --------------------------------------------------------------------------- bootstrap_ci


def test_ci_contains_mean_and_shrinks_with_more_runs():
    rng = np.random.default_rng(0)
    widths = []
    for n in (10, 100, 1000):
        x = rng.normal(3.0, 2.0, n)
        low, high = st.bootstrap_ci(x, n_resamples=FAST, seed=1)
        assert low < x.mean() < high
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    # ~ 2 * 1.96 * sigma / sqrt(n) for the largest sample
    assert widths[2] == pytest.approx(2 * 1.96 * 2.0 / np.sqrt(1000), rel=0.15)


def test_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(2024)
    covered = [
        low <= 1.0 <= high
        for low, high in (
            st.bootstrap_ci(rng.normal(1.0, 1.0, 30), n_resamples=999, seed=draw)
            for draw in range(200)
        )
    ]
    assert 0.9 <= np.mean(covered) <= 0.99


def test_ci_is_deterministic_and_seeded():
    x = np.random.default_rng(5).exponential(size=15)
    assert st.bootstrap_ci(x, n_resamples=FAST, seed=3) == st.bootstrap_ci(
        x, n_resamples=FAST, seed=3
    )
    assert st.bootstrap_ci(x, n_resamples=FAST, seed=3) != st.bootstrap_ci(
        x, n_resamples=FAST, seed=4
    )


def test_batched_rows_equal_rows_alone():
    """Rows of one call share resample indices: a row's CI does not depend on its neighbours
    (up to rounding: scipy's batched arithmetic may differ from the single-row one in the last bit).
    """
    data = np.random.default_rng(6).normal(size=(4, 12))
    data[2] = 7.0  # a degenerate row in the batch
    low, high = st.bootstrap_ci(data, n_resamples=FAST, seed=9)
    for i in range(4):
        alone = st.bootstrap_ci(data[i], n_resamples=FAST, seed=9)
        np.testing.assert_allclose((low[i], high[i]), alone, rtol=1e-12, atol=0)
    assert (low[2], high[2]) == (7.0, 7.0)
    # axis selects the resampled dimension
    low_t, high_t = st.bootstrap_ci(data.T, n_resamples=FAST, seed=9, axis=0)
    np.testing.assert_array_equal(low_t, low)
    np.testing.assert_array_equal(high_t, high)


@pytest.mark.parametrize("values", [[2.5], [2.5] * 10, [0.0, 0.0]])
def test_degenerate_input_gives_the_value(values):
    low, high = st.bootstrap_ci(values, n_resamples=FAST)
    assert (low, high) == (values[0], values[0])


@pytest.mark.parametrize("values", [[1.0, 2.0], [0.0] * 9 + [1.0], [1.0, 1.0, 1.0, 1.0 + 1e-15]])
def test_nearly_degenerate_input_is_finite(values):
    low, high = st.bootstrap_ci(values, n_resamples=FAST)
    assert np.isfinite([low, high]).all()
    assert low <= np.mean(values) <= high


def test_bca_falls_back_to_percentile_where_undefined():
    # np.min makes BCa's jackknife acceleration undefined (scipy returns NaN): percentile instead
    x = np.array([1.0, 1.0, 1.0, 2.0, 3.0])
    bca = st.bootstrap_ci(x, np.min, n_resamples=FAST)
    percentile = st.bootstrap_ci(x, np.min, n_resamples=FAST, method="percentile")
    assert bca == percentile
    assert np.isfinite(bca).all()


def test_non_vectorised_statistic():
    x = np.random.default_rng(1).normal(size=20)
    low, high = st.bootstrap_ci(x, lambda v: float(np.median(v)), n_resamples=500)
    assert low <= np.median(x) <= high


# --------------------------------------------------------------------------- group seeds


def test_group_seed_is_stable_and_keyed():
    # crc32 of the canonical key: fixed across runs, platforms and Python hash seeds
    expected = zlib.crc32(b"outcome|final|gamps|10")
    assert st.group_seed(0, "outcome", "final", "gamps", 10) == [0, expected] == [0, 2761523029]
    assert st.group_seed(np.int64(3), "x", np.int64(10)) == st.group_seed(3, "x", 10)
    assert st.group_seed(0, 1.0) != st.group_seed(0, 1)  # 1.0 and 1 are different keys
    assert st.group_seed(0, True) == st.group_seed(0, np.bool_(True)) != st.group_seed(0, 1)
    assert st.group_seed(0, "a", "b") != st.group_seed(0, "b", "a")
    assert st.group_seed(1, "a")[1] == st.group_seed(2, "a")[1]


def test_row_statistics_with_missing_runs():
    values = np.array([[1.0, 2.0, 3.0, np.nan], [4.0, 4.0, 4.0, 4.0], [np.nan] * 4, [5.0] * 4])
    out = st.row_statistics(values, [0, 1], n_resamples=FAST)
    np.testing.assert_array_equal(out["runs"], [3, 4, 0, 4])
    np.testing.assert_array_equal(out["mean"][[0, 1, 3]], [2.0, 4.0, 5.0])
    assert out["std"][0] == pytest.approx(1.0) and out["std"][1] == 0.0
    assert np.isnan([out[k][2] for k in ("mean", "std", "ci_low", "ci_high")]).all()
    assert out["ci_low"][0] < 2.0 < out["ci_high"][0]
    # the row's interval is that of its present runs alone
    assert (out["ci_low"][0], out["ci_high"][0]) == st.bootstrap_ci(
        [1.0, 2.0, 3.0], n_resamples=FAST, seed=[0, 1]
    )
    assert (out["ci_low"][1], out["ci_high"][1]) == (4.0, 4.0)


# --------------------------------------------------------------------------- paired tests


def test_wilcoxon_p_matches_scipy_and_handles_ties():
    d = np.array([0.5, -0.2, 1.3, 0.8, 0.0, 2.1, -0.4, 0.9])
    expected = scipy_stats.wilcoxon(d, zero_method="wilcox").pvalue
    assert st.wilcoxon_p(d) == pytest.approx(expected)
    assert st.wilcoxon_p(np.full(10, 1e-13)) == 1.0  # all ties within tolerance
    assert st.wilcoxon_p(np.array([2.0])) == 1.0  # a single pair
    assert np.isnan(st.wilcoxon_p(np.array([1.0, np.inf, 2.0])))
    assert st.wilcoxon_p(np.arange(1.0, 11.0)) == pytest.approx(2 / 2**10)  # exact, one-sided x2


def test_improvement_scores_count_ties_as_half():
    d = np.array([1.0, -1.0, 0.0, 5e-13, -5e-13, 1e-9])
    np.testing.assert_array_equal(st.improvement_scores(d), [1.0, 0.0, 0.5, 0.5, 0.5, 1.0])


def test_paired_difference_on_hand_built_pairs():
    reference = np.array([1.0, 2.0, 3.0, 4.0])
    baseline = np.array([0.0, 2.0, 3.5, 1.0])
    out = st.paired_difference(reference, baseline, [0, 7], n_resamples=FAST)
    assert (out["pairs"], out["wins"], out["ties"], out["losses"]) == (4, 2, 1, 1)
    assert out["mean_difference"] == pytest.approx(0.875)
    assert (out["reference_mean"], out["baseline_mean"]) == (2.5, 1.625)
    assert out["probability_of_improvement"] == pytest.approx(0.625)
    assert out["ci_low"] <= 0.875 <= out["ci_high"]
    assert out["poi_ci_low"] <= 0.625 <= out["poi_ci_high"]
    assert (out["ci_low"], out["ci_high"]) == st.bootstrap_ci(
        reference - baseline, n_resamples=FAST, seed=[0, 7]
    )
    assert out["wilcoxon_p"] == st.wilcoxon_p(reference - baseline)


def test_finite_statistic_ignores_infinities():
    assert st.finite_statistic([np.inf, 3.0, 1.0, 2.0], np.min) == 1.0
    assert st.finite_statistic([np.inf, 3.0, 1.0, 2.0], np.median) == 2.0
    assert st.finite_statistic([np.inf, np.inf], np.min) == np.inf
    assert st.finite_statistic([], np.median) == np.inf
