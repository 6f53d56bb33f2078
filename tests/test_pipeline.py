"""The Snakemake pipeline end to end at toy scale (config/smoke.yaml), in temporary folders."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures import ROOT, SMOKE_CONFIG, result_csvs, run_snakemake

from gamps import algorithms, data
from gamps.domains.swimmer import SwimmerDomain
from gamps.settings import load_config

CONFIG = load_config(ROOT / "config/config.yaml", SMOKE_CONFIG)
SMOKE = CONFIG["gridworld"]
pytestmark = pytest.mark.pipeline


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, *args)


def test_every_output_exists_and_is_complete(smoke_run):
    for name in ("fig1", "fig2", "fig3", "fig4_gradient_bias"):
        for ext in ("pdf", "png"):
            path = smoke_run / "paper_figures/_smoke" / f"{name}.{ext}"
            assert path.stat().st_size > 5000, path
    assert (smoke_run / "paper_figures/_smoke/fig2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    leftovers = [p for p in smoke_run.rglob("*.tmp")]
    assert not leftovers, f"temporary files left behind: {leftovers}"


def test_curves_contract(smoke_run):
    curves = pd.read_csv(smoke_run / "results/_smoke/gridworld/curves.csv")
    assert list(curves.columns) == [
        "algorithm",
        "n_trajectories",
        "seed",
        "iteration",
        "return",
        "ess",
        "degenerate",
        "stopped",
    ]
    expected_rows = (
        len(SMOKE["algorithms"])
        * len(SMOKE["n_trajectories"])
        * SMOKE["seeds"]
        * (SMOKE["iterations"] + 1)
    )
    assert len(curves) == expected_rows
    assert set(curves["algorithm"]) == set(SMOKE["algorithms"])
    assert set(curves["n_trajectories"]) == set(SMOKE["n_trajectories"])
    assert sorted(curves["iteration"].unique()) == list(range(SMOKE["iterations"] + 1))
    assert np.isfinite(curves.select_dtypes("number").to_numpy()).all()
    # J is an expected discounted sum of -1 rewards: between -(1 - gamma^T) / (1 - gamma) and 0.
    floor = -(1 - SMOKE["gamma"] ** SMOKE["horizon"]) / (1 - SMOKE["gamma"])
    assert curves["return"].between(floor - 1e-9, 0).all()
    # Iteration 0 is pi_b for every algorithm: paired runs start from the same policy.
    start = curves[curves["iteration"] == 0].groupby(["n_trajectories", "seed"])["return"]
    assert (start.nunique() == 1).all()


def test_summary_matches_curves(smoke_run):
    curves = pd.read_csv(smoke_run / "results/_smoke/gridworld/curves.csv")
    summary = pd.read_csv(smoke_run / "results/_smoke/tables/gridworld_outcomes.csv")
    last = curves[curves["iteration"] == SMOKE["iterations"]]
    for row in summary.itertuples():
        finals = last[
            (last["algorithm"] == row.algorithm) & (last["n_trajectories"] == row.n_trajectories)
        ]["return"]
        assert row.final_mean == pytest.approx(finals.mean())
        assert row.final_std == pytest.approx(finals.std())
        assert row.best_mean >= row.final_mean - 1e-12
    bands = pd.read_csv(smoke_run / "results/_smoke/gridworld/curves_summary.csv")
    assert len(bands) == len(curves) // SMOKE["seeds"]
    assert "±" in (smoke_run / "results/_smoke/tables/gridworld_outcomes.md").read_text()


def test_figure1_contract(smoke_run):
    weights = pd.read_csv(smoke_run / "results/_smoke/gridworld/fig1_weights.csv")
    assert list(weights.columns) == ["row", "col", "action", "delta", "eta"]
    assert len(weights) == 25 * 4
    assert set(weights["action"]) == {"up", "down", "left", "right"}
    assert weights["delta"].sum() == pytest.approx(1.0)
    assert weights["eta"].sum() == pytest.approx(1.0)
    assert (weights[["delta", "eta"]] >= 0).all().all()
    theta = np.array(
        json.loads((smoke_run / "results/_smoke/gridworld/fig1_behaviour_policy.json").read_text())[
            "theta"
        ]
    )
    assert theta.shape == (25, 4)
    dataset = data.load(
        smoke_run / f"results/_smoke/gridworld/data/N{SMOKE['figure1_trajectories']}_seed0.npz"
    )
    np.testing.assert_array_equal(theta.ravel(), dataset.meta["behaviour_theta"])
    # The behaviour log-probabilities stored with the data are those of this theta.
    from gamps.policies import BoltzmannPolicy

    policy = BoltzmannPolicy(25, 4)
    lp = policy.log_prob(theta, dataset.states[:, :-1], dataset.actions)
    np.testing.assert_allclose(np.where(dataset.mask, lp, 0), dataset.behaviour_log_prob)


def test_gradient_bias_contract(smoke_run):
    table = pd.read_csv(smoke_run / "results/_smoke/gridworld/gradient_bias.csv")
    bias_cfg = CONFIG["gradient_bias"]
    behaviour = 2 + 2 * len(bias_cfg["n_trajectories"]) * bias_cfg["repetitions"]
    last = SMOKE["iterations"]
    path = 4 * len({*range(0, last + 1, bias_cfg["path_every"]), last})
    per_seed = behaviour + len(SMOKE["n_trajectories"]) * path
    assert len(table) == SMOKE["seeds"] * per_seed
    assert not table.isna().any().any()
    assert (table["bias"] <= table["bound_l1"]).all() and (
        table["bound_l1"] <= table["bound"]
    ).all()
    assert table["cosine"].between(-1, 1).all()
    summary = pd.read_csv(smoke_run / "results/_smoke/gridworld/gradient_bias_summary.csv")
    assert not summary.isna().any().any() and (summary["violations"] == 0).all()
    assert "Theorem 3.2" in (smoke_run / "results/_smoke/gridworld/gradient_bias.md").read_text()


def test_gradient_used_contract(smoke_run):
    results = smoke_run / "results/_smoke/gridworld"
    gradients = pd.read_csv(results / "gradient_used.csv")
    iterations = {*range(0, SMOKE["iterations"] + 1, CONFIG["gradient_bias"]["path_every"])}
    iterations.add(SMOKE["iterations"])
    runs = len(SMOKE["algorithms"]) * len(SMOKE["n_trajectories"]) * SMOKE["seeds"]
    assert len(gradients) == runs * len(iterations)
    cosines = gradients[["cosine", "exact_cosine", "sampling_cosine"]]
    assert cosines.apply(lambda c: c.between(-1, 1)).all().all()
    assert (gradients["norm_ratio"] > 0).all()
    # the recomputed paths are the runs' (the summary checked them; here at the last iteration)
    curves = pd.read_csv(results / "curves.csv")
    keys = ["algorithm", "n_trajectories", "seed", "iteration"]
    joined = gradients.merge(curves, on=keys, suffixes=("", "_run"))
    assert len(joined) == len(gradients)
    np.testing.assert_allclose(joined["return"], joined["return_run"], rtol=1e-7)
    summary = pd.read_csv(results / "gradient_used_summary.csv")
    assert len(summary) == len(SMOKE["algorithms"]) * len(SMOKE["n_trajectories"]) * 3
    decomposition = pd.read_csv(results / "gap_decomposition.csv")
    assert len(decomposition) == len(SMOKE["n_trajectories"]) * SMOKE["seeds"]
    terms = decomposition.filter(
        items=[
            "batch_reference",
            "sampling_reference",
            "model_reference",
            "step_size",
            "model_baseline",
            "sampling_baseline",
            "batch_baseline",
        ]
    )
    assert terms.shape[1] == 7
    np.testing.assert_allclose(terms.sum(axis=1), decomposition["gap"], atol=1e-12)
    assert (pd.read_csv(results / "gap_decomposition_summary.csv")["seeds"] == SMOKE["seeds"]).all()
    assert (
        "#### gridworld: the gradient each algorithm used"
        in (smoke_run / "results/_smoke/REPORT.md").read_text()
    )


def test_rerun_is_bit_identical_on_other_core_counts(smoke_run, tmp_path):
    result = snakemake(tmp_path, "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    reference = result_csvs(smoke_run)
    assert len(reference) > 10
    assert result_csvs(tmp_path) == reference


def test_no_output_holds_nan_or_inf(smoke_run):
    csvs = sorted((smoke_run / "results/_smoke").rglob("*.csv"))
    assert len(csvs) > 10
    # Theorem 3.2's bound is +inf, by its own terms, where the model gives probability 0 to a
    # transition the true MDP makes (the KL is infinite), and so is its ratio to the bias: the one
    # place an infinity is an answer.
    may_be_infinite = {"expected_kl", "bound", "bound_ratio_min", "bound_ratio_median"}
    for path in csvs:
        table = pd.read_csv(path)
        # The model diagnostics are NaN, by design, where no model was fitted: the model-free
        # algorithms, the last iteration, and the held-out scores when no trajectory is held out.
        diagnostics = [c for c in SwimmerDomain.diagnostic_keys if c in table]
        if diagnostics:
            fitted = table["algorithm"].isin(algorithms.MODEL_BASED)
            if "iteration" in table:
                fitted &= table["iteration"] < table["iteration"].max()
            recorded = ["model_iterations", "fit_ess", "off_support"]
            assert table.loc[fitted, recorded].notna().all().all()
            assert table.loc[~fitted, diagnostics].isna().all().all(), path
            table = table.drop(columns=diagnostics)
        assert not table.isna().any().any(), path
        numbers = table.select_dtypes("number")
        if path.name.startswith("gradient_bias") or path.parent.name == "gradient_bias":
            assert (numbers[[c for c in may_be_infinite if c in numbers]] != -np.inf).all().all()
            numbers = numbers.drop(columns=[c for c in may_be_infinite if c in numbers])
        assert np.isfinite(numbers.to_numpy()).all(), path

    def reject(constant):
        raise ValueError(f"{constant} in JSON")

    for path in sorted((smoke_run / "results/_smoke").rglob("*.json")):
        json.loads(path.read_text(), parse_constant=reject)
    for path in sorted((smoke_run / "results/_smoke").rglob("*.npz")):
        batch = data.load(path)  # rejects NaN or inf rewards and log-probabilities itself
        assert np.isfinite(batch.states).all() and np.isfinite(batch.actions).all()
    markdown = (smoke_run / "results/_smoke/tables/gridworld_outcomes.md").read_text()
    assert not re.search(r"\b(nan|inf)\b", markdown, re.IGNORECASE)


def test_degenerate_weights_column(smoke_run):
    curves = pd.read_csv(smoke_run / "results/_smoke/gridworld/curves.csv")
    assert curves["degenerate"].dtype == bool
    expected = curves["ess"] < SMOKE["degenerate_ess_fraction"] * curves["n_trajectories"]
    assert (curves["degenerate"] == expected).all()
    # iteration 0 is pi_b itself: every ratio is 1, so the ESS is N
    start = curves[curves["iteration"] == 0]
    np.testing.assert_allclose(start["ess"], start["n_trajectories"])
    assert not start["degenerate"].any()


def test_nothing_to_do_after_a_complete_run(smoke_run):
    result = snakemake(smoke_run, "--cores", "1", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Nothing to be done" in result.stdout + result.stderr


def test_one_figure_target_builds_only_what_it_needs(tmp_path):
    result = snakemake(tmp_path, "--cores", "2", "fig1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "paper_figures/_smoke/fig1.pdf").exists()
    assert not (tmp_path / "paper_figures/_smoke/fig2.pdf").exists()
    assert not (tmp_path / "results/_smoke/gridworld/runs").exists()


def test_minigolf_curves_contract(smoke_run):
    cfg = CONFIG["minigolf"]
    curves = pd.read_csv(smoke_run / "results/_smoke/minigolf/curves.csv")
    required = {"algorithm", "n_trajectories", "seed", "iteration", "return", "hole_rate"}
    assert required <= set(curves.columns)
    runs = len(cfg["algorithms"]) * len(cfg["n_trajectories"]) * cfg["seeds"]
    assert len(curves) == runs * (cfg["iterations"] + 1)
    assert np.isfinite(curves.select_dtypes("number").to_numpy()).all()
    assert curves["hole_rate"].between(0, 1).all()
    # Returns lie between an overshoot on the first putt and a hole in one.
    assert curves["return"].between(-100, 0).all()
    # Common random numbers: every algorithm is evaluated on the same episodes, so the initial
    # policy (shared by all algorithms of a seed) gets one and the same estimate.
    start = curves[curves["iteration"] == 0].groupby(["n_trajectories", "seed"])
    assert (start["return"].nunique() == 1).all()
    assert (start["hole_rate"].nunique() == 1).all()
    summary = (smoke_run / "results/_smoke/tables/minigolf_outcomes.md").read_text()
    assert "hole rate" in summary


def test_statistics_tables_and_report_contract(smoke_run):
    from gamps.analysis import claims
    from gamps.analysis.claims import CLAIMS, VERDICTS

    results = smoke_run / "results/_smoke"
    for env in ("gridworld", "minigolf", "swimmer"):
        bands = pd.read_csv(results / f"{env}/curves_summary.csv")
        assert {"mean", "std", "ci_low", "ci_high", "runs"} <= set(bands.columns)
        assert (bands["ci_low"] <= bands["mean"] + 1e-12).all()
        assert (bands["mean"] <= bands["ci_high"] + 1e-12).all()
        table = pd.read_csv(results / f"tables/{env}_outcomes.csv")
        cfg = CONFIG[env]
        assert len(table) == len(cfg["algorithms"]) * len(cfg["n_trajectories"])
        for outcome in ("final", "best"):
            assert (table[f"{outcome}_ci_low"] <= table[f"{outcome}_mean"] + 1e-12).all()
        comparisons = pd.read_csv(results / f"tables/{env}_comparisons.csv")
        assert set(comparisons["baseline"]) == set(cfg["algorithms"]) - {"gamps"}
        assert (comparisons["pairs"] == cfg["seeds"]).all()
        assert "±" in (results / f"tables/{env}_outcomes.md").read_text()
        latex = (results / f"tables/{env}_outcomes.tex").read_text()
        assert "\\begin{tabular}" in latex and "\\end{table}" in latex
        # plain text escaped once: ± as $\pm$, % as \%, never an escaped backslash
        assert "\\textbackslash" not in latex and "±" not in latex
        assert "mean $\\pm$ std [95\\% bootstrap CI]" in latex
        assert latex.count("$") % 2 == 0 and latex.count("{") == latex.count("}")
    masses = pd.read_csv(results / "gridworld/lower_area_mass.csv")
    assert list(masses["seed"]) == list(range(SMOKE["seeds"]))
    assert masses[["delta_lower", "eta_lower"]].apply(lambda c: c.between(0, 1)).all().all()
    statements = pd.read_csv(results / "claims.csv")
    assert set(statements["claim"]) == set(CLAIMS) and statements["verdict"].isin(VERDICTS).all()
    # The report's statements are those of the rule `claims`, environment by environment.
    envs = ("gridworld", "minigolf", "swimmer")
    gathered = claims.gather(results / f"{env}/claims.csv" for env in envs)
    assert gathered.equals(claims.read_statements(results / "claims.csv"))
    summary = pd.read_csv(results / "claims_summary.csv")
    assert list(summary["claim"]) == list(CLAIMS)
    text = (results / "REPORT.md").read_text()
    assert "toy scale (config/smoke.yaml)" in text and "## Decision rule" in text
    for row in summary.itertuples():
        assert f"## Claim {row.claim}: {row.figure} — {row.verdict}" in text
    assert "**commit**" in text and "summed job time" in text
    swimmer = text[text.index("## Claim 4") : text.index("## Beyond the paper")]
    assert "#### swimmer: the fitted models, on held-out trajectories" in swimmer
    assert "#### swimmer: each algorithm's first gradient against an on-policy reference" in swimmer
    assert not re.search(r"\bnan\b", text, re.IGNORECASE)
