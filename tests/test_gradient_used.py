"""The gradient each algorithm used on the gridworld and the decomposition of a final-return gap
(gamps.domains.gridworld.gradient_used, gamps.analysis.gradient_used): closed-form checks of the
ascents, the fresh-data seeding, the identity of the decomposition, and the tables."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from fixtures import ROOT

from gamps import algorithms, bias, experiment, provenance
from gamps.analysis import gradient_used as tables
from gamps.domains.gridworld import GridworldDomain
from gamps.domains.gridworld import gradient_bias as gb
from gamps.domains.gridworld import gradient_used as gu
from gamps.settings import load_config
from gamps.weights import effective_sample_size

GRIDWORLD = load_config(ROOT / "config/config.yaml")["gridworld"]
#: A small version of the pipeline's gridworld settings: 2 dataset sizes, 4 iterations, one
#: shared step size.
SMALL = GRIDWORLD | {"n_trajectories": [20, 60], "iterations": 4, "step_size": 1.0}


def off_policy(domain: GridworldDomain, theta: np.ndarray) -> np.ndarray:
    """theta moved by one exact gradient step: a policy other than pi_b."""
    return theta + gu.true_gradient(domain, theta)


@pytest.fixture(scope="module")
def small_run():
    """(A) and (B) of seed 3 at the small settings, with the datasets and the batch paths."""
    datasets = {n: experiment.collect_dataset("gridworld", SMALL, n, 3) for n in (20, 60)}
    steps = dict.fromkeys(SMALL["algorithms"], SMALL["step_size"])
    gradients, returns = gu.gradient_used(SMALL, 3, datasets, steps, path_every=2)
    return datasets, pd.DataFrame(gradients), pd.DataFrame(returns)


# ---------------------------------------------------------------------------------------------
# (A) the gradient used
# ---------------------------------------------------------------------------------------------


def test_a_huge_batch_pgt_gradient_tends_to_the_true_gradient(domain, behaviour_theta):
    """Per-decision IS is unbiased off-policy: 1 - cosine falls like 1/N (0.02 at N = 10^4)."""
    theta = off_policy(domain, behaviour_theta)
    truth = gu.true_gradient(domain, theta)
    errors = []
    for n, seed in ((1_000, 11), (100_000, 12)):
        batch = domain.collect(behaviour_theta, n, np.random.default_rng(seed))
        generator = np.random.default_rng(0)
        used, _ = algorithms.estimate_gradient(domain, "pgt", theta, batch, 2.0, generator)
        errors.append(gu.cosine_row(used, truth))
    assert errors[-1]["cosine"] > 0.98
    assert abs(errors[-1]["norm_ratio"] - 1) < 0.1
    assert 1 - errors[-1]["cosine"] < (1 - errors[0]["cosine"]) / 5


def test_the_rows_hold_the_gradient_algorithm_1_stepped_along(small_run):
    """theta_{k+1} - theta_k = alpha g_k on the recorded path: the gradient used is the run's."""
    datasets, gradients, _ = small_run
    domain = GridworldDomain(**experiment.domain_params("gridworld", SMALL))
    batch = datasets[20]
    for name in SMALL["algorithms"]:
        path: list[np.ndarray] = []
        records = experiment.train("gridworld", SMALL, name, batch, trace=path)
        rows = gu.gradients_used(domain, name, batch, path, records, 2.0, [0, 1, 2, 3])
        for row in rows:
            k = row["iteration"]
            step = (path[k + 1] - path[k]) / SMALL["step_size"]
            truth = gu.true_gradient(domain, path[k])
            assert row["cosine"] == pytest.approx(bias.cosine(step, truth), abs=1e-9)
            assert row["used_norm"] == pytest.approx(np.linalg.norm(step), rel=1e-9)
            assert row["return"] == records[k]["return"]
        # at pi_b every ratio is 1
        assert rows[0]["ess_fraction"] == pytest.approx(1.0)
    ours = gradients[(gradients["n_trajectories"] == 20) & (gradients["algorithm"] == "pgt")]
    assert list(ours["iteration"]) == [0, 2, 4]


def test_where_the_direction_is_lost_matches_figure_4(small_run):
    """exact_cosine of a model-based row is Figure 4's cosine of the model fitted on the batch
    (gradient_bias.sample_rows); a model-free estimator's exact counterpart is grad J itself."""
    datasets, gradients, _ = small_run
    domain = GridworldDomain(**experiment.domain_params("gridworld", SMALL))
    theta_b = np.asarray(datasets[60].meta["behaviour_theta"])
    pi_b = domain.policy.probs(theta_b)
    analysis = bias.BiasAnalysis(domain.mdp, pi_b, 2.0)
    figure4 = {
        r["model"]: r["cosine"]
        for r in gb.sample_rows(domain, analysis, pi_b, theta_b, datasets[60], 2.0)
    }
    start = gradients[(gradients["n_trajectories"] == 60) & (gradients["iteration"] == 0)]
    ours = start.set_index("algorithm")
    for name in algorithms.MODEL_BASED:
        assert ours.loc[name, "exact_cosine"] == pytest.approx(figure4[name], abs=1e-12)
    free = gradients[~gradients["algorithm"].isin(algorithms.MODEL_BASED)]
    np.testing.assert_allclose(free["exact_cosine"], 1.0, atol=1e-12)
    np.testing.assert_allclose(free["sampling_cosine"], free["cosine"], atol=1e-12)


def test_gradient_rows_contract(small_run):
    _, gradients, returns = small_run
    assert len(gradients) == 2 * 4 * 3  # N x algorithms x iterations {0, 2, 4}
    assert gradients["cosine"].between(-1, 1).all()
    assert (gradients["norm_ratio"] > 0).all() and not gradients.isna().any().any()
    np.testing.assert_allclose(
        gradients["norm_ratio"], gradients["used_norm"] / gradients["grad_norm"]
    )
    # (B): per algorithm, 3 exact ascents (N = 0) and per N a batch and a fresh one
    assert len(returns) == 4 * (3 + 2 * 2)
    assert set(returns.loc[returns["n_trajectories"] == 0, "setting"]) == {
        "exact_limit",
        "exact_limit_batch",
        "true",
    }
    # every ascent starts at pi_b
    assert returns["initial_return"].nunique() == 1


def test_recomputed_paths_are_checked_against_the_recorded_returns(small_run):
    datasets, _, returns = small_run
    steps = dict.fromkeys(SMALL["algorithms"], SMALL["step_size"])
    config = SMALL | {"n_trajectories": [20], "algorithms": ["gamps"]}
    batch_run = experiment.train("gridworld", config, "gamps", datasets[20])
    recorded = np.array([r["return"] for r in batch_run])
    gu.gradient_used(config, 3, {20: datasets[20]}, steps, 2, {("gamps", 20): recorded})
    with pytest.raises(ValueError, match="differs from its run"):
        gu.gradient_used(config, 3, {20: datasets[20]}, steps, 2, {("gamps", 20): recorded + 1e-6})
    with pytest.raises(ValueError, match="not collected by this seed"):
        gu.gradient_used(config, 4, {20: datasets[20]}, steps, 2)


# ---------------------------------------------------------------------------------------------
# (B) the ascents
# ---------------------------------------------------------------------------------------------


def test_exact_true_gradient_ascent_improves_j_monotonically(domain, behaviour_theta):
    returns = gu.ascent(domain, behaviour_theta, 0.1, 30, gu.true_direction(domain))
    assert np.all(np.diff(returns) > 0)
    assert returns[-1] - returns[0] > 0.05
    # the first step is a first-order step: J rises by about alpha ||grad J||^2
    grad = gu.true_gradient(domain, behaviour_theta)
    assert returns[1] - returns[0] == pytest.approx(0.1 * grad @ grad, rel=0.05)


@pytest.mark.parametrize("algorithm", ["gamps", "ml"])
def test_exact_limit_gradient_is_bias_modules_exact_mvg(domain, behaviour_theta, algorithm):
    """The same gradient as Figure 4's exact fits (gamps.bias through gradient_bias.exact_rows)."""
    pi_b = domain.policy.probs(behaviour_theta)
    for theta in (behaviour_theta, off_policy(domain, behaviour_theta)):
        analysis = bias.BiasAnalysis(domain.mdp, domain.policy.probs(theta), 2.0)
        limit = bias.exact_weights(analysis, algorithm, pi_b)
        model = bias.fit_on_distribution(domain.make_model(), domain.mdp, limit)
        expected = analysis.mvg(model.transition_tensor()).ravel()
        ours = gu.exact_limit_gradient(domain, algorithm, theta, 2.0, pi_b)
        np.testing.assert_array_equal(ours, expected)
        row = {r["model"]: r for r in gb.exact_rows(domain, analysis, pi_b)}[algorithm]
        assert bias.cosine(ours, gu.true_gradient(domain, theta)) == pytest.approx(
            row["cosine"], abs=1e-12
        )
    # GAMPS's limit is eta of the current policy whatever the data's policy (Lemma 4.1); ML's is
    # the visitation of the data's policy, so it changes with it off pi_b
    theta = off_policy(domain, behaviour_theta)
    on_policy = gu.exact_limit_gradient(domain, algorithm, theta, 2.0)
    batch = gu.exact_limit_gradient(domain, algorithm, theta, 2.0, pi_b)
    if algorithm == "gamps":
        np.testing.assert_array_equal(on_policy, batch)
    else:
        assert not np.allclose(on_policy, batch)


def test_the_model_free_limit_is_the_true_ascent(small_run):
    _, _, returns = small_run
    exact = returns[returns["n_trajectories"] == 0].set_index(["algorithm", "setting"])
    true = exact.loc[("gamps", "true"), "final_return"]
    for name in ("reinforce", "pgt"):
        for setting in ("exact_limit", "exact_limit_batch", "true"):
            assert exact.loc[(name, setting), "final_return"] == true


def test_fresh_data_are_on_policy(domain, behaviour_theta):
    """The fresh trajectories of iteration k are pi_theta's own: rho = 1 at every step, so the
    estimator is the on-policy one and the GAMPS weights carry no ratio."""
    theta = off_policy(domain, behaviour_theta)
    batch = domain.collect(theta, 300, experiment.rng(5, gu.FRESH_KEY, 300, 2))
    log_rho = algorithms.log_ratios(domain, theta, batch)
    assert np.all(log_rho == 0.0)
    assert effective_sample_size(log_rho[:, -1]) == pytest.approx(300)
    for name in algorithms.ALGORITHMS:
        generator = np.random.default_rng(0)
        expected, _ = algorithms.estimate_gradient(domain, name, theta, batch, 2.0, generator)
        ours = gu.fresh_gradient(domain, name, theta, 300, 2.0, 5, 2)
        np.testing.assert_array_equal(ours, expected)
    # another iteration draws other trajectories
    other = gu.fresh_gradient(domain, "pgt", theta, 300, 2.0, 5, 3)
    assert not np.array_equal(other, gu.fresh_gradient(domain, "pgt", theta, 300, 2.0, 5, 2))


def test_the_stamp_of_the_per_seed_job_covers_the_gridworld_code():
    """Its environment comes from the rule graph (the aggregated gridworld curves it reads): the
    stamp holds this module and the gridworld's domain, so a change of either reruns it."""
    text = provenance.stamps(load_config(ROOT / "config/config.yaml"), ROOT)["gradient_used"]
    code = json.loads(text)["code"]
    assert {
        "gamps/domains/gridworld/gradient_used.py",
        "gamps/domains/gridworld/domain.py",
        "gamps/experiment.py",
    } <= set(code)
    assert not any(name.startswith("gamps/domains/swimmer") for name in code)


def test_the_fresh_data_spawn_key_is_new():
    """(6, N, k) is in experiment's seeding table once, and its stream is its own."""
    table = re.findall(r"spawn key \((\d+),", experiment.__doc__ or "")
    assert len(table) >= 7, "the seeding table of gamps.experiment was not found"
    assert table.count(str(gu.FRESH_KEY)) == 1 and len(set(table)) == len(table)
    draws = {key: experiment.rng(0, *key).random(4).tobytes() for key in ((6, 10, 0), (3, 10, 0))}
    draws[(5, 10)] = experiment.rng(0, 5, 10).random(4).tobytes()
    assert len(set(draws.values())) == len(draws)


# ---------------------------------------------------------------------------------------------
# The decomposition
# ---------------------------------------------------------------------------------------------


def test_the_terms_add_up_to_the_observed_gap(small_run):
    datasets, _, returns = small_run
    table = tables.gap_decomposition(returns, "gamps", "pgt")
    assert len(table) == 2  # one row per N of the seed
    terms = table[list(tables.TERMS)].to_numpy()
    np.testing.assert_allclose(terms.sum(axis=1), table["gap"], rtol=0, atol=1e-12)
    for row in table.itertuples():
        finals = {
            name: experiment.train("gridworld", SMALL, name, datasets[row.n_trajectories])[-1]
            for name in ("gamps", "pgt")
        }
        assert row.gap == finals["gamps"]["return"] - finals["pgt"]["return"]
    # one shared step size, and PGT is unbiased: those two terms are exactly 0
    assert (table["step_size"] == 0).all() and (table["model_baseline"] == 0).all()


def test_per_algorithm_step_sizes_enter_as_their_own_term():
    config = SMALL | {"n_trajectories": [20], "algorithms": ["gamps", "pgt"]}
    datasets = {20: experiment.collect_dataset("gridworld", config, 20, 1)}
    steps = {"gamps": 1.0, "pgt": 0.5}
    _, returns = gu.gradient_used(config, 1, datasets, steps, 2)
    table = tables.gap_decomposition(pd.DataFrame(returns))
    assert (table["step_size"] != 0).all()
    np.testing.assert_allclose(table[list(tables.TERMS)].sum(axis=1), table["gap"], atol=1e-12)
    pgt = experiment.train("gridworld", config | {"step_size": 0.5}, "pgt", datasets[20])
    assert table["baseline_batch"].iloc[0] == pgt[-1]["return"]


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


def hand_built_gradients() -> pd.DataFrame:
    """Two seeds, one algorithm, iterations 0, 5, 10, with known cosines and ratios."""
    rows = []
    cosines = {0: [0.2, 0.4], 5: [0.5, -0.1], 10: [0.7, 0.3]}
    for k, values in cosines.items():
        for seed, c in enumerate(values):
            rows.append(
                {"seed": seed, "n_trajectories": 10, "algorithm": "gamps", "iteration": k}
                | {"cosine": c, "norm_ratio": 1.0 + seed + k, "relative_error": 1.0 - c}
                | {"exact_cosine": 0.9, "sampling_cosine": c + 0.1}
            )
    return pd.DataFrame(rows)


def test_used_summary_places_and_statistics():
    summary = tables.used_summary(hand_built_gradients(), n_resamples=2_000)
    assert list(summary["place"]) == list(tables.PLACES)
    at = summary.set_index("place")
    assert at.loc["behaviour", "cosine_mean"] == pytest.approx(0.3)
    assert at.loc["behaviour", "cosine_std"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    # path: per seed the mean over k >= 1, then over seeds
    assert at.loc["path", "cosine_mean"] == pytest.approx(np.mean([(0.5 + 0.7) / 2, 0.1]))
    assert at.loc["final", "cosine_mean"] == pytest.approx(0.5)
    assert at.loc["path", "positive"] == 1.0 and at.loc["behaviour", "seeds"] == 2
    assert at.loc["behaviour", "norm_ratio_median"] == pytest.approx(1.5)
    assert at.loc["path", "exact_cosine_mean"] == pytest.approx(0.9)
    assert at.loc["path", "sampling_cosine_mean"] == pytest.approx(
        at.loc["path", "cosine_mean"] + 0.1
    )
    for metric in tables.USED_METRICS:
        assert (summary[f"{metric}_ci_low"] <= summary[f"{metric}_mean"] + 1e-12).all()
        assert (summary[f"{metric}_mean"] <= summary[f"{metric}_ci_high"] + 1e-12).all()


def hand_built_returns(seeds: int = 6) -> pd.DataFrame:
    """Final returns of GAMPS and PGT with known levels: batch < fresh < limit < true."""
    rng = np.random.default_rng(0)
    rows = []

    def add(seed, n, algorithm, setting, value):
        rows.append(
            {"seed": seed, "n_trajectories": n, "algorithm": algorithm, "setting": setting}
            | {"initial_return": -9.0, "final_return": value}
        )

    for seed in range(seeds):
        true = -7.0 + 0.1 * rng.normal()
        add(seed, 0, "gamps", "true", true)
        add(seed, 0, "pgt", "true", true)
        add(seed, 0, "gamps", "exact_limit", true - 0.3)
        add(seed, 0, "pgt", "exact_limit", true)
        for n in (10, 100):
            add(seed, n, "gamps", "fresh", true - 0.35)
            add(seed, n, "gamps", "batch", true - 0.5 + 0.01 * rng.normal())
            add(seed, n, "pgt", "fresh", true - 0.05)
            add(seed, n, "pgt", "batch", true - 0.2)
    return pd.DataFrame(rows)


def test_gap_decomposition_on_known_levels():
    table = tables.gap_decomposition(hand_built_returns())
    assert list(table["n_trajectories"].unique()) == [10, 100] and len(table) == 12
    np.testing.assert_allclose(table["model_reference"], -0.3, atol=1e-12)
    np.testing.assert_allclose(table["sampling_reference"], -0.05, atol=1e-12)
    np.testing.assert_allclose(table["batch_baseline"], 0.15, atol=1e-12)
    np.testing.assert_allclose(table["sampling_baseline"], 0.05, atol=1e-12)
    np.testing.assert_allclose(table[list(tables.TERMS)].sum(axis=1), table["gap"], atol=1e-12)
    summary = tables.decomposition_summary(table, n_resamples=2_000)
    gap = summary[(summary["quantity"] == "gap") & (summary["n_trajectories"] == 10)].iloc[0]
    terms = summary[summary["quantity"].isin(tables.TERMS) & (summary["n_trajectories"] == 10)]
    assert gap["mean"] == pytest.approx(terms["mean"].sum())
    zero = summary[summary["quantity"] == "step_size"]
    assert (zero["wilcoxon_p"] == 1.0).all() and (zero["positive"] == 0.0).all()
    model = summary[summary["quantity"] == "model_reference"]
    assert (model["ci_high"] < 0).all() and (model["wilcoxon_p"] < 0.05).all()


def test_gap_decomposition_rejects_missing_or_repeated_levels_and_skips_absent_algorithms():
    returns = hand_built_returns()
    missing = returns.drop(returns.index[returns["setting"] == "fresh"][:1])
    with pytest.raises(ValueError, match="no final return"):
        tables.gap_decomposition(missing)
    with pytest.raises(ValueError, match="given twice"):
        tables.gap_decomposition(pd.concat([returns, returns.iloc[:1]]))
    empty = tables.gap_decomposition(returns[returns["algorithm"] == "gamps"])
    assert empty.empty and "gap" in empty.columns
    assert tables.decomposition_summary(empty).empty


def test_concatenate_is_order_free_and_markdown_names_every_term(tmp_path):
    gradients = hand_built_gradients()
    returns = hand_built_returns(seeds=2).query("n_trajectories != 100")
    paths = []
    for seed in (1, 0):
        path = tmp_path / f"seed{seed}.csv"
        returns[returns["seed"] == seed].to_csv(path, index=False)
        paths.append(path)
    joined = tables.concatenate(paths, tables.RETURN_KEYS)
    pd.testing.assert_frame_equal(joined, tables.concatenate(paths[::-1], tables.RETURN_KEYS))
    assert list(joined["seed"].iloc[:2]) == [0, 1]
    first = joined[joined["n_trajectories"] == 10].drop_duplicates(["algorithm", "setting"])
    assert list(first["algorithm"]) == ["gamps", "gamps", "pgt", "pgt"]  # registry order
    assert list(first["setting"]) == ["batch", "fresh"] * 2  # SETTINGS order
    text = tables.markdown(
        tables.used_summary(gradients, n_resamples=500),
        tables.returns_summary(returns, n_resamples=500),
        tables.decomposition_summary(tables.gap_decomposition(returns), n_resamples=500),
        gradients["iteration"].unique(),
    )
    assert text.startswith("#### gridworld: the gradient each algorithm used")
    assert "k = 5, 10" in text and "**gap: GAMPS − PGT**" in text
    assert "| 10 | GAMPS | 0.90 ± 0.00 [0.90, 0.90] |" in text  # where the direction is lost
    for term in ("GAMPS batch − GAMPS fresh", "GAMPS exact limit − true ascent", "PGT fresh"):
        assert term in text
    assert not re.search(r"\bnan\b", text, re.IGNORECASE)
