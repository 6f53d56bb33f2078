"""Bootstrap CIs, per-run outcomes, paired comparisons and report tables of analysis.statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gamps.analysis import aggregate
from gamps.analysis import statistics as st

ROOT = Path(__file__).resolve().parents[1]
FAST = 2_000  # resamples where only the structure, not the precision, is tested


def synthetic_curves(seeds=10, iterations=6, algorithms=("gamps", "ml", "pgt"), ns=(10, 100)):
    """Paired runs: iteration 0 is shared by every algorithm of a (N, seed)."""
    rng = np.random.default_rng(123)
    rows = []
    for n in ns:
        for seed in range(seeds):
            start = rng.normal(-5.0, 1.0)
            for k, algorithm in enumerate(algorithms):
                steps = rng.normal(0.1 * (k + 1), 0.3, iterations - 1)
                returns = start + np.concatenate([[0.0], np.cumsum(steps)])
                for iteration, value in enumerate(returns):
                    rows.append((algorithm, n, seed, iteration, value, rng.uniform()))
    return pd.DataFrame(rows, columns=[*aggregate.KEYS, "return", "hole_rate"])


def outcomes_frame(reference, baseline, seeds=None):
    """Hand-built run_outcomes output of two algorithms at N = 10."""
    reference, baseline = np.asarray(reference, float), np.asarray(baseline, float)
    seeds = list(range(len(reference))) if seeds is None else seeds
    frames = []
    for algorithm, final in (("gamps", reference), ("ml", baseline)):
        frame = pd.DataFrame({"algorithm": algorithm, "n_trajectories": 10, "seed": seeds})
        frame["initial"] = 0.0
        frame["final"] = final
        frame["best"] = final + 1.0
        frame["overfit"] = 1.0
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


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


# --------------------------------------------------------------------------- tables


def test_iteration_statistics_matches_aggregate_and_is_order_free():
    curves = synthetic_curves()
    stats = st.iteration_statistics(curves, seed=0)
    assert list(stats.columns) == [
        "algorithm",
        "n_trajectories",
        "iteration",
        "mean",
        "std",
        "ci_low",
        "ci_high",
        "runs",
    ]
    grouped = curves.groupby(["algorithm", "n_trajectories", "iteration"])["return"]
    expected = grouped.agg(mean="mean", std="std", runs="count")
    got = stats.set_index(["algorithm", "n_trajectories", "iteration"])[expected.columns]
    pd.testing.assert_frame_equal(got.sort_index(), expected, check_exact=False)
    assert list(stats["algorithm"].unique()) == ["gamps", "ml", "pgt"]
    assert (stats["ci_low"] <= stats["mean"]).all() and (stats["mean"] <= stats["ci_high"]).all()
    # iteration 0 is shared by all algorithms: same data, different group seed, same mean
    first = stats[stats["iteration"] == 0].groupby("n_trajectories")["mean"].nunique()
    assert (first == 1).all()

    shuffled = curves.sample(frac=1.0, random_state=7).reset_index(drop=True)
    pd.testing.assert_frame_equal(st.iteration_statistics(shuffled, seed=0), stats)
    assert not st.iteration_statistics(curves, seed=1)["ci_low"].equals(stats["ci_low"])


def test_group_ci_does_not_depend_on_other_groups():
    curves = synthetic_curves()
    full = st.iteration_statistics(curves)
    alone = curves[(curves["algorithm"] == "ml") & (curves["n_trajectories"] == 100)]
    part = full[(full["algorithm"] == "ml") & (full["n_trajectories"] == 100)]
    pd.testing.assert_frame_equal(st.iteration_statistics(alone), part.reset_index(drop=True))

    outcomes = st.run_outcomes(curves)
    table = st.outcome_table(outcomes, seed=3)
    sub = st.outcome_table(outcomes[outcomes["algorithm"] == "pgt"], seed=3)
    expected = table[table["algorithm"] == "pgt"].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub, expected)
    # dropping the hole-rate column leaves the return CIs unchanged
    without = st.outcome_table(outcomes.drop(columns="final_hole_rate"), seed=3)
    pd.testing.assert_frame_equal(without, table[without.columns])


def test_iteration_statistics_single_run_is_finite():
    curves = synthetic_curves(seeds=1, ns=(10,))
    stats = st.iteration_statistics(curves)
    assert (stats["runs"] == 1).all()
    assert np.isfinite(stats[["ci_low", "ci_high"]]).all().all()
    assert (stats["ci_low"] == stats["mean"]).all() and (stats["ci_high"] == stats["mean"]).all()


def test_run_outcomes_on_a_hand_built_table():
    curves = pd.DataFrame(
        {
            "algorithm": ["ml"] * 4 + ["gamps"] * 4,
            "n_trajectories": 10,
            "seed": 0,
            "iteration": [0, 1, 2, 3] * 2,
            "return": [1.0, 4.0, 2.0, 3.0, 1.0, 2.0, 3.0, 5.0],
            "hole_rate": [0.1, 0.2, 0.3, 0.4, 0.1, 0.5, 0.6, 0.7],
        }
    ).iloc[::-1]
    out = st.run_outcomes(curves)
    assert list(out.columns) == [
        "algorithm",
        "n_trajectories",
        "seed",
        "initial",
        "final",
        "best",
        "overfit",
        "final_hole_rate",
    ]
    assert list(out["algorithm"]) == ["gamps", "ml"]  # LABELS order
    gamps, ml = out.to_dict("records")
    assert (gamps["initial"], gamps["final"], gamps["best"], gamps["overfit"]) == (1, 5, 5, 0)
    assert (ml["initial"], ml["final"], ml["best"], ml["overfit"]) == (1, 3, 4, 1)
    assert (gamps["final_hole_rate"], ml["final_hole_rate"]) == (0.7, 0.4)
    assert "final_hole_rate" not in st.run_outcomes(curves.drop(columns="hole_rate"))

    with pytest.raises(ValueError, match="duplicate"):
        st.run_outcomes(pd.concat([curves, curves.iloc[:1]]))


def test_outcome_table_columns_and_values():
    outcomes = st.run_outcomes(synthetic_curves())
    table = st.outcome_table(outcomes, n_resamples=FAST)
    measures = ["final", "best", "overfit", "final_hole_rate"]
    stats = [f"{x}_{s}" for x in measures for s in ("mean", "std", "ci_low", "ci_high")]
    assert list(table.columns) == ["algorithm", "n_trajectories", "runs", "initial_mean", *stats]
    assert list(table["n_trajectories"]) == [10, 10, 10, 100, 100, 100]
    assert (table["runs"] == 10).all()
    group = outcomes[(outcomes["algorithm"] == "ml") & (outcomes["n_trajectories"] == 100)]
    row = table[(table["algorithm"] == "ml") & (table["n_trajectories"] == 100)].iloc[0]
    assert row["best_mean"] == pytest.approx(group["best"].mean())
    assert row["overfit_std"] == pytest.approx(group["overfit"].std())
    for x in measures:
        assert row[f"{x}_ci_low"] <= row[f"{x}_mean"] <= row[f"{x}_ci_high"]
    shuffled = outcomes.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(st.outcome_table(shuffled, n_resamples=FAST), table)


# --------------------------------------------------------------------------- paired comparisons


def test_reference_winning_on_every_seed():
    rng = np.random.default_rng(11)
    baseline = rng.normal(size=10)
    outcomes = outcomes_frame(baseline + rng.uniform(0.5, 1.5, 10), baseline)
    comparisons = st.paired_comparisons(outcomes, n_resamples=FAST)
    assert list(comparisons.columns) == [
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
    assert list(comparisons["outcome"]) == ["final", "best", "overfit"]
    final = comparisons.iloc[0]
    assert (final["pairs"], final["wins"], final["ties"], final["losses"]) == (10, 10, 0, 0)
    assert final["probability_of_improvement"] == 1.0
    assert (final["poi_ci_low"], final["poi_ci_high"]) == (1.0, 1.0)
    assert 0 < final["ci_low"] <= final["mean_difference"] <= final["ci_high"]
    assert final["wilcoxon_p"] < 0.05
    assert final["mean_difference"] == pytest.approx(
        final["reference_mean"] - final["baseline_mean"]
    )
    # overfit is identical on both sides
    overfit = comparisons.iloc[2]
    assert (overfit["ties"], overfit["probability_of_improvement"]) == (10, 0.5)


def test_reference_equal_to_baseline():
    values = np.linspace(-3.0, 2.0, 8)
    comparisons = st.paired_comparisons(outcomes_frame(values, values), n_resamples=FAST)
    for row in comparisons.to_dict("records"):
        assert (row["wins"], row["ties"], row["losses"]) == (0, 8, 0)
        assert row["probability_of_improvement"] == 0.5
        assert (row["poi_ci_low"], row["poi_ci_high"]) == (0.5, 0.5)
        assert (row["mean_difference"], row["ci_low"], row["ci_high"]) == (0.0, 0.0, 0.0)
        assert row["wilcoxon_p"] == 1.0


def test_mixed_pairs_and_single_pair():
    comparisons = st.paired_comparisons(
        outcomes_frame([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.5, 1.0]), n_resamples=FAST
    )
    final = comparisons.iloc[0]
    assert (final["wins"], final["ties"], final["losses"]) == (2, 1, 1)
    assert final["probability_of_improvement"] == pytest.approx(2.5 / 4)
    assert final["poi_ci_low"] <= 0.625 <= final["poi_ci_high"]
    single = st.paired_comparisons(outcomes_frame([2.0], [1.0]), n_resamples=FAST).iloc[0]
    assert single["pairs"] == 1 and single["wilcoxon_p"] == 1.0
    assert (single["ci_low"], single["ci_high"]) == (1.0, 1.0)


def test_missing_seed_raises():
    outcomes = outcomes_frame(np.arange(5.0), np.arange(5.0))
    incomplete = outcomes.drop(index=outcomes.index[(outcomes["algorithm"] == "ml")][-1])
    with pytest.raises(ValueError, match=r"seeds \[4\] missing for 'ml'"):
        st.paired_comparisons(incomplete)
    with pytest.raises(ValueError, match="reference algorithm"):
        st.paired_comparisons(outcomes, reference="reinforce")
    diverged = outcomes.copy()
    diverged.loc[0, "final"] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        st.paired_comparisons(diverged)


def test_paired_comparisons_are_order_free_and_sorted():
    outcomes = st.run_outcomes(synthetic_curves(algorithms=("pgt", "gamps", "ml")))
    comparisons = st.paired_comparisons(outcomes, n_resamples=FAST)
    assert list(comparisons["baseline"].unique()) == ["ml", "pgt"]
    assert list(comparisons["n_trajectories"]) == [10] * 6 + [100] * 6
    shuffled = outcomes.sample(frac=1.0, random_state=2)
    pd.testing.assert_frame_equal(st.paired_comparisons(shuffled, n_resamples=FAST), comparisons)
    assert np.isfinite(comparisons.drop(columns=["baseline", "outcome"]).to_numpy(float)).all()


# --------------------------------------------------------------------------- writers


def test_outcome_writers():
    outcomes = st.run_outcomes(synthetic_curves(algorithms=("gamps", "my_alg")))
    table = st.outcome_table(outcomes, n_resamples=FAST)
    row = table.iloc[0]
    cell = (
        f"{row['final_mean']:.3f} ± {row['final_std']:.3f} "
        f"[{row['final_ci_low']:.3f}, {row['final_ci_high']:.3f}]"
    )

    markdown = st.outcome_markdown(table, "toy")
    assert markdown.startswith("### toy\n")
    assert f"| 10 | GAMPS | 10 | {row['initial_mean']:.3f} | {cell} |" in markdown
    assert "final hole rate" in markdown and "95% bootstrap CI" in markdown

    latex = st.outcome_latex(table, "Toy: 95% of final_J", "tab:toy_final")
    assert cell.replace("±", "$\\pm$") in latex
    assert "\\caption{Toy: 95\\% of final\\_J}" in latex and "\\label{tab:toy_final}" in latex
    assert "my\\_alg" in latex and "my_alg" not in latex.replace("my\\_alg", "")
    assert "final hole rate" in latex
    for command in ("\\begin{tabular}", "\\toprule", "\\midrule", "\\bottomrule"):
        assert command in latex
    body = [line for line in latex.splitlines() if line.endswith("\\\\")]
    assert all(line.count("&") == 7 for line in body)  # 8 columns with the hole rate


def test_comparison_markdown():
    rng = np.random.default_rng(11)
    baseline = rng.normal(size=10)
    comparisons = st.paired_comparisons(outcomes_frame(baseline + 1.0, baseline), n_resamples=FAST)
    markdown = st.comparison_markdown(comparisons, "paired")
    row = comparisons.iloc[0]
    assert markdown.startswith("### paired\n")
    assert "| 10 | ML | final J | 10 |" in markdown
    assert f"{row['mean_difference']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" in markdown
    assert "| 10 / 0 / 0 | 1.000 [1.000, 1.000] | 0.002 |" in markdown  # exact p = 2 / 2**10
    assert "P(GAMPS > baseline)" in markdown
    assert "P(REINFORCE > baseline)" in st.comparison_markdown(comparisons, "x", "reinforce")


# --------------------------------------------------------------------------- committed results


def test_smoke_on_committed_minigolf_curves():
    curves = pd.read_csv(ROOT / "results/minigolf/curves.csv")
    stats = st.iteration_statistics(curves)
    assert np.isfinite(stats[["mean", "ci_low", "ci_high"]]).all().all()
    assert ((stats["ci_low"] <= stats["mean"]) & (stats["mean"] <= stats["ci_high"])).all()

    outcomes = st.run_outcomes(curves)
    assert (outcomes["overfit"] >= 0).all()
    table = st.outcome_table(outcomes)
    summary = st.run_summary(curves)
    committed = pd.read_csv(ROOT / "results/minigolf/summary.csv")  # written by the pipeline
    pd.testing.assert_frame_equal(summary, committed, check_dtype=False)
    for column in ("initial_mean", "final_mean", "final_std", "best_mean", "final_hole_rate_mean"):
        np.testing.assert_allclose(table[column], summary[column], rtol=1e-12)
    for x in ("final", "best", "overfit", "final_hole_rate"):
        low, mean, high = (table[f"{x}_{s}"] for s in ("ci_low", "mean", "ci_high"))
        assert np.isfinite([low, high]).all()
        assert ((low <= mean) & (mean <= high)).all()

    comparisons = st.paired_comparisons(outcomes)
    assert len(comparisons) == 3 * 3
    numbers = comparisons.drop(columns=["baseline", "outcome"]).to_numpy(float)
    assert np.isfinite(numbers).all()
    d, low, high = (comparisons[c] for c in ("mean_difference", "ci_low", "ci_high"))
    assert ((low <= d) & (d <= high)).all()
    assert comparisons["wilcoxon_p"].between(0, 1).all()
    assert (comparisons[["wins", "ties", "losses"]].sum(axis=1) == comparisons["pairs"]).all()
