"""The DataFrames of analysis.tables: bands, per-run outcomes, the outcome table, comparisons
paired by seed, the gradient-bias tables, the importance-weight health and the compute time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gamps.analysis import render, tables

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
    return pd.DataFrame(rows, columns=[*tables.KEYS, "return", "hole_rate"])


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


# --------------------------------------------------------------------------- curves and outcomes


def test_iteration_statistics_matches_aggregate_and_is_order_free():
    curves = synthetic_curves()
    stats = tables.iteration_statistics(curves, seed=0)
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
    pd.testing.assert_frame_equal(tables.iteration_statistics(shuffled, seed=0), stats)
    assert not tables.iteration_statistics(curves, seed=1)["ci_low"].equals(stats["ci_low"])


def test_group_ci_does_not_depend_on_other_groups():
    curves = synthetic_curves()
    full = tables.iteration_statistics(curves)
    alone = curves[(curves["algorithm"] == "ml") & (curves["n_trajectories"] == 100)]
    part = full[(full["algorithm"] == "ml") & (full["n_trajectories"] == 100)]
    pd.testing.assert_frame_equal(tables.iteration_statistics(alone), part.reset_index(drop=True))

    outcomes = tables.run_outcomes(curves)
    table = tables.outcome_table(outcomes, seed=3)
    sub = tables.outcome_table(outcomes[outcomes["algorithm"] == "pgt"], seed=3)
    expected = table[table["algorithm"] == "pgt"].reset_index(drop=True)
    pd.testing.assert_frame_equal(sub, expected)
    # dropping the hole-rate column leaves the return CIs unchanged
    without = tables.outcome_table(outcomes.drop(columns="final_hole_rate"), seed=3)
    pd.testing.assert_frame_equal(without, table[without.columns])


def test_iteration_statistics_single_run_is_finite():
    curves = synthetic_curves(seeds=1, ns=(10,))
    stats = tables.iteration_statistics(curves)
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
    out = tables.run_outcomes(curves)
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
    assert list(out["algorithm"]) == ["gamps", "ml"]  # registry order
    gamps, ml = out.to_dict("records")
    assert (gamps["initial"], gamps["final"], gamps["best"], gamps["overfit"]) == (1, 5, 5, 0)
    assert (ml["initial"], ml["final"], ml["best"], ml["overfit"]) == (1, 3, 4, 1)
    assert (gamps["final_hole_rate"], ml["final_hole_rate"]) == (0.7, 0.4)
    assert "final_hole_rate" not in tables.run_outcomes(curves.drop(columns="hole_rate"))

    with pytest.raises(ValueError, match="duplicate"):
        tables.run_outcomes(pd.concat([curves, curves.iloc[:1]]))


def test_outcome_table_columns_and_values():
    outcomes = tables.run_outcomes(synthetic_curves())
    table = tables.outcome_table(outcomes, n_resamples=FAST)
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
    pd.testing.assert_frame_equal(tables.outcome_table(shuffled, n_resamples=FAST), table)


# --------------------------------------------------------------------------- paired comparisons


def test_reference_winning_on_every_seed():
    rng = np.random.default_rng(11)
    baseline = rng.normal(size=10)
    outcomes = outcomes_frame(baseline + rng.uniform(0.5, 1.5, 10), baseline)
    comparisons = tables.paired_comparisons(outcomes, n_resamples=FAST)
    expected = (
        "n_trajectories baseline outcome pairs reference_mean baseline_mean mean_difference ci_low"
        " ci_high wins ties losses probability_of_improvement poi_ci_low poi_ci_high wilcoxon_p"
    )
    assert list(comparisons.columns) == expected.split()
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
    comparisons = tables.paired_comparisons(outcomes_frame(values, values), n_resamples=FAST)
    for row in comparisons.to_dict("records"):
        assert (row["wins"], row["ties"], row["losses"]) == (0, 8, 0)
        assert row["probability_of_improvement"] == 0.5
        assert (row["poi_ci_low"], row["poi_ci_high"]) == (0.5, 0.5)
        assert (row["mean_difference"], row["ci_low"], row["ci_high"]) == (0.0, 0.0, 0.0)
        assert row["wilcoxon_p"] == 1.0


def test_mixed_pairs_and_single_pair():
    comparisons = tables.paired_comparisons(
        outcomes_frame([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.5, 1.0]), n_resamples=FAST
    )
    final = comparisons.iloc[0]
    assert (final["wins"], final["ties"], final["losses"]) == (2, 1, 1)
    assert final["probability_of_improvement"] == pytest.approx(2.5 / 4)
    assert final["poi_ci_low"] <= 0.625 <= final["poi_ci_high"]
    single = tables.paired_comparisons(outcomes_frame([2.0], [1.0]), n_resamples=FAST).iloc[0]
    assert single["pairs"] == 1 and single["wilcoxon_p"] == 1.0
    assert (single["ci_low"], single["ci_high"]) == (1.0, 1.0)


def test_missing_seed_raises():
    outcomes = outcomes_frame(np.arange(5.0), np.arange(5.0))
    incomplete = outcomes.drop(index=outcomes.index[(outcomes["algorithm"] == "ml")][-1])
    with pytest.raises(ValueError, match=r"seeds \[4\] missing for 'ml'"):
        tables.paired_comparisons(incomplete)
    with pytest.raises(ValueError, match="reference algorithm"):
        tables.paired_comparisons(outcomes, reference="reinforce")
    diverged = outcomes.copy()
    diverged.loc[0, "final"] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        tables.paired_comparisons(diverged)


def test_paired_comparisons_are_order_free_and_sorted():
    outcomes = tables.run_outcomes(synthetic_curves(algorithms=("pgt", "gamps", "ml")))
    comparisons = tables.paired_comparisons(outcomes, n_resamples=FAST)
    assert list(comparisons["baseline"].unique()) == ["ml", "pgt"]
    assert list(comparisons["n_trajectories"]) == [10] * 6 + [100] * 6
    shuffled = outcomes.sample(frac=1.0, random_state=2)
    pd.testing.assert_frame_equal(
        tables.paired_comparisons(shuffled, n_resamples=FAST), comparisons
    )
    assert np.isfinite(comparisons.drop(columns=["baseline", "outcome"]).to_numpy(float)).all()


# --------------------------------------------------------------------------- committed results


def test_smoke_on_committed_minigolf_curves():
    curves = pd.read_csv(ROOT / "results/minigolf/curves.csv")
    stats = tables.iteration_statistics(curves)
    assert np.isfinite(stats[["mean", "ci_low", "ci_high"]]).all().all()
    assert ((stats["ci_low"] <= stats["mean"]) & (stats["mean"] <= stats["ci_high"])).all()

    outcomes = tables.run_outcomes(curves)
    assert (outcomes["overfit"] >= 0).all()
    table = tables.outcome_table(outcomes)
    committed = pd.read_csv(ROOT / "results/tables/minigolf_outcomes.csv")  # from the pipeline
    pd.testing.assert_frame_equal(table, committed, check_dtype=False, rtol=1e-12)
    # the paper's mean +- std across runs, from the per-run outcomes
    by = outcomes.groupby(["algorithm", "n_trajectories"], sort=False)
    means = by[["initial", "final", "best", "final_hole_rate"]].mean().add_suffix("_mean")
    means["final_std"] = by["final"].std()
    means = table.join(means.add_suffix("_runs"), on=["algorithm", "n_trajectories"])
    for column in ("initial_mean", "final_mean", "final_std", "best_mean", "final_hole_rate_mean"):
        np.testing.assert_allclose(table[column], means[f"{column}_runs"], rtol=1e-12)
    for x in ("final", "best", "overfit", "final_hole_rate"):
        low, mean, high = (table[f"{x}_{s}"] for s in ("ci_low", "mean", "ci_high"))
        assert np.isfinite([low, high]).all()
        assert ((low <= mean) & (mean <= high)).all()

    comparisons = tables.paired_comparisons(outcomes)
    assert len(comparisons) == 3 * 3
    numbers = comparisons.drop(columns=["baseline", "outcome"]).to_numpy(float)
    assert np.isfinite(numbers).all()
    d, low, high = (comparisons[c] for c in ("mean_difference", "ci_low", "ci_high"))
    assert ((low <= d) & (d <= high)).all()
    assert comparisons["wilcoxon_p"].between(0, 1).all()
    assert (comparisons[["wins", "ties", "losses"]].sum(axis=1) == comparisons["pairs"]).all()


def test_concatenate_runs_is_in_registry_order_whatever_the_files(tmp_path):
    curves = synthetic_curves(seeds=2, iterations=2, algorithms=("pgt", "ml", "gamps", "mine"))
    paths = []
    for i, (_, run) in enumerate(curves.groupby(["algorithm", "n_trajectories", "seed"])):
        paths.append(tmp_path / f"run{i}.csv")
        run.sample(frac=1.0, random_state=i).to_csv(paths[-1], index=False)
    table = tables.concatenate_runs(paths)
    assert tables.concatenate_runs(paths[::-1]).equals(table)
    assert list(table["algorithm"].unique()) == ["gamps", "ml", "pgt", "mine"]  # unknown last
    assert table.groupby(["algorithm", "n_trajectories", "seed"], sort=False)[
        "iteration"
    ].is_monotonic_increasing.all()
    assert len(table) == len(curves)


# --------------------------------------------------------------------------- importance weights


def test_weight_health_on_a_hand_built_table():
    rows = []
    for algorithm, ess in (("ml", (10, 5, 2)), ("gamps", (10, 8, 4))):
        for seed, shift in enumerate((0.0, 2.0)):
            for k in range(3):
                rows.append((algorithm, 10, seed, k, ess[k] - shift * (k > 0), k == 2, 0.1 * k))
    columns = [*tables.KEYS, "ess", "degenerate", "return_se"]
    curves = pd.DataFrame(rows, columns=columns)
    health = tables.weight_health(curves)
    assert list(health["algorithm"]) == ["gamps", "ml"] and health.attrs["last_iteration"] == 2
    gamps = health.iloc[0]
    assert [gamps["ess_first"], gamps["ess_second"], gamps["ess_last"]] == pytest.approx(
        [1, 0.7, 0.3]
    )
    assert gamps["degenerate"] == pytest.approx(1 / 3)
    assert gamps["return_se"] == pytest.approx(0.1)
    assert "return_se" not in tables.weight_health(curves.drop(columns="return_se"))
    one = tables.weight_health(curves[curves["iteration"] != 1])
    assert (one["ess_second"] == 0.0).all()


# --------------------------------------------------------------------------- gradient bias


def bias_rows() -> pd.DataFrame:
    """Two seeds of behaviour-policy rows (exact and one dataset at N = 10) and a GAMPS path."""
    rows = []
    for seed in range(2):
        for policy, n, weights, iteration in (
            ("behaviour", 0, "exact", 0),
            ("behaviour", 10, "sample", 0),
            ("gamps_path", 10, "exact", 0),
            ("gamps_path", 10, "sample", 0),
            ("gamps_path", 10, "exact", 3),
            ("gamps_path", 10, "sample", 3),
        ):
            for model, cosine in (("gamps", 0.9 - 0.1 * seed), ("ml", 0.5 + 0.5 * seed)):
                bias = 0.0 if (seed, model, weights) == (1, "gamps", "exact") else 0.5
                rows.append(
                    {"policy": policy, "seed": seed, "n_trajectories": n, "repetition": 0}
                    | {"iteration": iteration, "model": model, "weights": weights}
                    | {"grad_norm": 2.0, "bias": bias, "cosine": cosine + 0.01 * iteration}
                    | {"bound": np.inf if model == "ml" and seed == 1 else 4.0 * bias + 1.0}
                    | {"bound_l1": 2.0 * bias + 0.5, "weighted_q_error": bias, "weight_l1": 0.0}
                )
    return pd.DataFrame(rows)


def test_bias_ratios_never_give_nan():
    table = tables.bias_ratios(bias_rows())
    zero = table[table["bias"] == 0]
    assert len(zero) and (zero["bound_ratio"] == np.inf).all()
    assert (zero["relative_bias"] == 0).all()
    positive = table[table["bias"] > 0]
    np.testing.assert_allclose(positive["relative_bias"], 0.25)
    np.testing.assert_allclose(positive["bound_l1_ratio"], 3.0)
    assert not table.isna().any().any()


def test_concatenate_bias_and_summary_order(tmp_path):
    table = bias_rows()
    for seed in (1, 0):
        table[table["seed"] == seed].iloc[::-1].to_csv(tmp_path / f"s{seed}.csv", index=False)
    joined = tables.concatenate_bias([tmp_path / "s1.csv", tmp_path / "s0.csv"])
    assert list(joined["seed"].iloc[:2]) == [0, 0] and list(joined["model"].iloc[:2]) == [
        "ml",
        "gamps",
    ]
    summary = tables.bias_summary(joined)
    assert list(summary["policy"].unique()) == ["behaviour", "gamps_path"]
    first = summary.iloc[0]  # behaviour, N = 0 (exact), ML before GAMPS
    assert (first["model"], first["weights"], first["cases"]) == ("ml", "exact", 2)
    assert first["cosine_mean"] == pytest.approx(0.75)
    assert first["infinite_bounds"] == 1 and first["bound_ratio_min"] == pytest.approx(6.0)


def test_bias_findings_count_wins_and_the_bound():
    findings = tables.bias_findings(bias_rows())
    assert findings["seeds"] == 2 and findings["repetitions"] == 1
    assert findings["exact_wins"] == (1, 2)  # GAMPS 0.9 > ML 0.5 at seed 0; 0.8 < 1.0 at seed 1
    assert findings["sample_wins"] == [(10, 1, 2)]
    assert findings["path_wins"] == (2, 4)  # 2 seeds x 2 iterations
    path = findings["path"]
    assert list(path["model"]) == ["ml", "gamps"]
    gamps = path.iloc[1]
    assert gamps["sample_mean"] == pytest.approx(0.865)
    assert gamps["final_sample_mean"] == pytest.approx(0.88)
    assert findings["cases"] == 24 and findings["held"] == 24 and findings["infinite"] == 6
    assert findings["ratio_min"] == pytest.approx(6.0)  # the zero-bias case's inf is left out
    assert findings["slack"] == pytest.approx([1.0, 3.0, 2.0])
    no_path = tables.bias_findings(bias_rows().query("policy == 'behaviour'"))
    assert no_path["path"] is None and no_path["path_wins"] is None


# --------------------------------------------------------------------------- compute


BENCHMARK_HEADER = (
    "\t".join(
        ["s", "h:m:s", "max_rss", "max_vms", "max_uss", "max_pss", "io_in", "io_out", "mean_load"]
    )
    + "\tcpu_time\n"
)


def write_benchmark(path, seconds, rss, cpu):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(BENCHMARK_HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t90\t{cpu}\n")


def test_compute_time_groups_benchmarks_by_env_and_stage(tmp_path):
    for seed, (seconds, rss, cpu) in enumerate(((1.5, 100, 1.0), (2.0, 300, 1.5))):
        write_benchmark(tmp_path / f"gridworld/train/ml/N10_seed{seed}.tsv", seconds, rss, cpu)
    write_benchmark(tmp_path / "figures/fig1.tsv", 3.0, 50, 2.5)
    write_benchmark(tmp_path / "claims.tsv", 0.5, "-", "-")  # a reading's own, at the top
    compute = tables.compute_time(tmp_path)
    assert list(compute.columns) == [
        "env", "stage", "jobs", "seconds", "cpu_seconds", "max_rss_mb"
    ]  # fmt: skip
    assert compute.fillna(-1).values.tolist() == [
        ["all", "claims", 1, 0.5, 0.0, -1],
        ["figures", "fig1", 1, 3.0, 2.5, 50.0],
        ["gridworld", "train", 2, 3.5, 2.5, 300.0],
    ]
    assert tables.compute_time(tmp_path / "none").empty
    files = tables.benchmark_files(tmp_path)
    assert files["file"].tolist()[-1] == "gridworld/train/ml/N10_seed1.tsv"
    assert (files["modified"] > 0).all() and len(files) == 4
    kept = tables.compute_time(tmp_path, exclude=tables.NOT_KEPT)
    assert "figures" not in set(kept["env"]) and kept["jobs"].sum() == 3


def test_run_cost_splits_a_full_run_into_its_parts(tmp_path):
    write_benchmark(tmp_path / "benchmarks/swimmer/train/ml/N100_seed0.tsv", 30.0, 300, 20.0)
    write_benchmark(tmp_path / "benchmarks/swimmer/tune/ml/plain_alpha0.1.tsv", 10.0, 200, 8.0)
    write_benchmark(tmp_path / "benchmarks/swimmer/tuning_table.tsv", 1.0, 100, 0.5)
    write_benchmark(tmp_path / "robustness/adam/benchmarks/claims.tsv", 2.0, 100, 1.0)
    reading = tmp_path / "robustness/adam/benchmarks"
    write_benchmark(reading / "swimmer/train/ml/N100_seed0.tsv", 5.0, 100, 4.0)
    write_benchmark(tmp_path / "robustness/benchmarks/verdicts.tsv", 1.0, 100, 1.0)
    cost = tables.run_cost(tmp_path)
    assert list(cost.columns[:2]) == ["part", "reading"]
    by_part = cost.groupby("part")[["jobs", "seconds", "cpu_seconds"]].sum()
    assert by_part.to_dict("index") == {
        "default": {"jobs": 1, "seconds": 30.0, "cpu_seconds": 20.0},
        "robustness": {"jobs": 3, "seconds": 8.0, "cpu_seconds": 6.0},
        "tuning": {"jobs": 2, "seconds": 11.0, "cpu_seconds": 8.5},
    }
    assert set(cost.loc[cost["part"] == "robustness", "reading"]) == {"-", "adam"}
    assert tables.run_cost(tmp_path / "none").empty


def test_model_health_on_a_hand_built_table():
    """Means over runs at iteration 0 and over every fitted iteration; model-free rows and the
    last iteration (no fit: NaN) are left out."""
    nan = np.nan
    rows = []
    for seed, shift in enumerate((0.0, 2.0)):
        rows += [
            ("gamps", 10, seed, 0, -40.0 + shift, 0.1, 900.0, 0.2, 300.0),
            ("gamps", 10, seed, 1, -44.0 + shift, 0.3, 10.0, 0.4, 100.0),
            ("gamps", 10, seed, 2, nan, nan, nan, nan, nan),
            ("pgt", 10, seed, 0, nan, nan, nan, nan, nan),
        ]
    columns = ["algorithm", "n_trajectories", "seed", "iteration", *tables.MODEL_METRICS]
    health = tables.model_health(pd.DataFrame(rows, columns=columns))
    assert list(health["algorithm"]) == ["gamps"]
    row = health.iloc[0]
    assert row["model_nll_first"] == pytest.approx(-39.0)
    assert row["model_nll_all"] == pytest.approx(-41.0)
    assert row["model_nmse_all"] == pytest.approx(0.2)
    assert row["fit_ess_first"] == pytest.approx(900.0)
    assert row["off_support_all"] == pytest.approx(0.3)
    assert row["model_epochs_all"] == pytest.approx(200.0) and row["runs"] == 2
    # curves without model diagnostics (gridworld, minigolf) give an empty table
    assert tables.model_health(pd.DataFrame(rows, columns=columns).iloc[:, :5]).empty


def test_gradient_check_table_summarises_the_cosines_over_seeds():
    check = pd.DataFrame(
        {
            "n_trajectories": [100] * 6,
            "seed": [0, 0, 1, 1, 2, 2],
            "algorithm": ["reference_halves", "gamps"] * 3,
            "cosine": [0.99, 0.5, 0.97, -0.2, 0.98, 0.8],
            "norm_ratio": [1.0, 2.0, 1.0, 6.0, 1.0, 1.0],
        }
    )
    table = tables.gradient_check_table(check)
    assert list(table["algorithm"]) == ["reference_halves", "gamps"]
    gamps = table.iloc[1]
    assert gamps["cosine_mean"] == pytest.approx(0.366666, abs=1e-5)
    assert gamps["cosine_std"] == pytest.approx(np.std([0.5, -0.2, 0.8], ddof=1))
    assert gamps["cosine_min"] == pytest.approx(-0.2)
    assert gamps["positive"] == pytest.approx(2 / 3)
    assert gamps["norm_ratio_median"] == pytest.approx(2.0) and gamps["seeds"] == 3


def test_step_sizes_table_gives_each_algorithms_alpha_and_tuning_score_in_registry_order():
    from gamps import tuning

    frame = pd.DataFrame(
        [
            {"env": "gridworld", "algorithm": a, "update": "plain", "step_size": s,
             "seed": seed, "n_trajectories": 10, "final_return": -s * (seed - 999),
             "best_return": 0.0, "diverged": False}
            for a in ("gamps", "pgt") for s in (1.0, 3.0) for seed in (1000, 1001)
        ]
    )  # fmt: skip
    tuned = tuning.score_table(frame)
    settings = {
        "gridworld": {
            "update": "plain",
            "step_size": {"pgt": 1.0, "reinforce": 3.0, "gamps": 1.0},
            "tuned": True,
        },
        "minigolf": {"update": "adam", "step_size": 0.01, "tuned": False},
    }
    table = tables.step_sizes(settings, {"gridworld": tuned})
    assert table[["env", "algorithm", "step_size"]].values.tolist() == [
        ["gridworld", "gamps", 1.0],
        ["gridworld", "reinforce", 3.0],
        ["gridworld", "pgt", 1.0],
        ["minigolf", "all", 0.01],
    ]  # in the registry's order, not the mapping's
    assert pd.isna(table["score"].iloc[1])  # no tuning row for reinforce
    assert table["score"].iloc[0] == pytest.approx(-1.5)
    assert table["at_edge"].iloc[0] and pd.isna(table["score"].iloc[3])
    text = render.step_size_markdown(table)
    assert "| gridworld | GAMPS | plain | 1 | -1.500 [" in text
    assert "2 seeds, at the grid's edge" in text
    assert "| minigolf | all (shared) | adam | 0.01 | set in the config |" in text


def test_the_last_full_run_is_read_and_rendered(tmp_path):
    assert tables.full_run(tmp_path) is None
    record = {"commit": "0123456789abcdef", "date": "2026-12-07", "target": "all", "cores": 2}
    record |= {"mode": "empty folder"}
    record |= {"wall_s": 612.3, "jobs": 471}
    (tmp_path / tables.FULL_RUN).write_text(json.dumps(record))
    text = render.compute_markdown(tables.compute_time(tmp_path), tables.full_run(tmp_path))
    assert "(empty folder; `benchmarks/time_pipeline.py`, commit 0123456789ab, 2026-12-07)" in text
    assert "`snakemake all` took 612 s" in text
    assert "(10.2 min) on 2 cores, 471 jobs." in text and "summed job time" not in text
