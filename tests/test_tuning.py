"""The fair tuning's rule (gamps.tuning): the score, the selection and what `step_size: tuned`
reads, on tables whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures import ROOT

from gamps import experiment, io, settings, tuning

SMOKE = settings.load_config(ROOT / "config/config.yaml", ROOT / "config/smoke.yaml")


def runs(finals: dict[tuple[str, str, float], list[float]], sizes=(10, 100)) -> pd.DataFrame:
    """Tuning runs whose final return is ``finals[point][seed]`` at every N (NaN: diverged)."""
    rows = []
    for (algorithm, update, alpha), values in finals.items():
        for seed, value in enumerate(values):
            for n in sizes:
                rows.append(
                    {
                        "env": "gridworld",
                        "algorithm": algorithm,
                        "update": update,
                        "step_size": alpha,
                        "seed": 1000 + seed,
                        "n_trajectories": n,
                        "final_return": value,
                        "best_return": value,
                        "diverged": bool(np.isnan(value)),
                    }
                )
    return pd.DataFrame(rows, columns=tuning.RUN_COLUMNS)


def test_the_best_mean_final_return_is_selected_per_algorithm_and_update():
    table = tuning.score_table(
        runs(
            {
                ("gamps", "plain", 0.1): [-9.0, -8.0, -7.0],
                ("gamps", "plain", 1.0): [-6.0, -5.0, -7.0],
                ("gamps", "plain", 10.0): [-8.0, -8.0, -8.0],
                ("pgt", "plain", 0.1): [-5.0, -5.0, -5.0],
                ("pgt", "plain", 1.0): [-6.0, -6.0, -6.0],
                ("gamps", "adam", 0.01): [-7.0, -7.0, -7.0],
            }
        )
    )
    assert list(table.columns) == tuning.TABLE_COLUMNS
    chosen = table[table["selected"]].set_index(["algorithm", "update"])["step_size"]
    assert chosen.to_dict() == {
        ("gamps", "plain"): 1.0,
        ("gamps", "adam"): 0.01,
        ("pgt", "plain"): 0.1,
    }
    gamps = table[(table["algorithm"] == "gamps") & (table["update"] == "plain")]
    assert gamps["score"].tolist() == pytest.approx([-8.0, -6.0, -8.0])
    assert (gamps["ci_low"] <= gamps["score"]).all() and (gamps["score"] <= gamps["ci_high"]).all()
    # At the grid's edge: pgt's smallest step and a one-point grid; gamps' interior step is not.
    edge = table[table["selected"]].set_index(["algorithm", "update"])["at_edge"].to_dict()
    assert edge == {("gamps", "plain"): False, ("gamps", "adam"): True, ("pgt", "plain"): True}
    assert table["algorithm"].tolist()[:3] == ["gamps"] * 3  # registry order, then update, alpha


def test_a_tie_goes_to_the_smaller_step_and_a_diverged_point_is_ineligible():
    table = tuning.score_table(
        runs(
            {
                ("ml", "normalised", 3.0): [-5.0, -6.0],
                ("ml", "normalised", 0.3): [-6.0, -5.0],
                ("ml", "normalised", 30.0): [-1.0, np.nan],
            }
        )
    )
    diverged = table[table["step_size"] == 30.0].iloc[0]
    assert diverged["diverged"] == 2 and np.isnan(diverged["score"]) and not diverged["selected"]
    assert table.loc[table["selected"], "step_size"].tolist() == [0.3]


def test_the_score_averages_over_dataset_sizes_before_seeds():
    frame = runs({("pgt", "plain", 1.0): [-4.0, -6.0]})
    frame.loc[frame["n_trajectories"] == 100, "final_return"] -= 2.0  # N = 100 is 2 worse
    table = tuning.score_table(frame)
    assert table["score"].iloc[0] == pytest.approx(-6.0)


def test_tuned_step_sizes_read_the_committed_selection(tmp_path, monkeypatch):
    table = tuning.score_table(
        runs(
            {
                (a, u, s): [-s, -s]
                for a in ("gamps", "ml", "reinforce", "pgt")
                for u, s in (("plain", 1.0), ("plain", 3.0), ("adam", 0.1))
            }
        )  # fmt: skip
    )
    table.loc[(table["algorithm"] == "pgt") & (table["update"] == "plain"), "selected"] = [
        False,
        True,
    ]
    io.write_csv(table, tmp_path / "tuning/gridworld.csv")
    monkeypatch.chdir(tmp_path)  # the tables are the repository's, not the working directory's
    assert tuning.table_path("results/tuning", "gridworld") == (
        ROOT / "results/tuning/gridworld.csv"
    )
    config = SMOKE | {"tuning": SMOKE["tuning"] | {"selection": str(tmp_path / "tuning")}}
    config["gridworld"] = SMOKE["gridworld"] | {"step_size": "tuned"}
    expected = {"gamps": 1.0, "ml": 1.0, "reinforce": 1.0, "pgt": 3.0}
    assert tuning.resolve_step_size(config, "gridworld") == expected
    params = settings.rule_params("train", config, "gridworld")["env_config"]
    assert params["step_size"] == expected
    config["gridworld"]["update"] = "adam"
    assert set(tuning.resolve_step_size(config, "gridworld").values()) == {0.1}
    config["gridworld"]["update"] = "normalised"
    with pytest.raises(ValueError, match="selects no step size for .*'normalised'"):
        tuning.resolve_step_size(config, "gridworld")
    config["tuning"]["selection"] = "elsewhere"
    with pytest.raises(FileNotFoundError, match="run `snakemake tuning`"):
        tuning.resolve_step_size(config, "gridworld")


def test_a_number_or_a_mapping_passes_through_and_tune_params_leave_the_step_out():
    config = SMOKE | {"minigolf": SMOKE["minigolf"] | {"step_size": {"pgt": 2, "gamps": 1}}}
    assert tuning.resolve_step_size(config, "minigolf") == {"gamps": 1.0, "pgt": 2.0}
    shared = SMOKE | {"gridworld": SMOKE["gridworld"] | {"step_size": 0.5}}
    assert tuning.resolve_step_size(shared, "gridworld") == 0.5
    params = settings.rule_params("tune", config, "minigolf")
    assert "step_size" not in params["env_config"] and "update" not in params["env_config"]
    assert params["seeds"] == SMOKE["tuning"]["minigolf"]["seeds"]
    assert params["env_config"]["n_trajectories"] == SMOKE["minigolf"]["n_trajectories"]


def test_grid_points_and_seed_checks():
    grid = {"seeds": [1000, 1001], "plain": [0.001, 1e-05], "adam": [30.0]}
    assert tuning.grid(grid) == [("plain", 0.001), ("plain", 1e-05), ("adam", 30.0)]
    assert [tuning.step_label(a) for _, a in tuning.grid(grid)] == ["0.001", "1e-05", "30"]
    assert tuning.grid_point(grid, "plain", "1e-05") == 1e-05
    with pytest.raises(ValueError, match="no step size 0.3 in the adam grid"):
        tuning.grid_point(grid, "adam", "0.3")
    tuning.check_seeds([1000, 1001], 20, "gridworld")
    with pytest.raises(ValueError, match=r"\[3, 19\] overlap the evaluation seeds 0..19"):
        tuning.check_seeds([3, 19, 20], 20, "gridworld")


def test_a_run_point_runs_every_seed_and_size_and_records_a_divergence(monkeypatch):
    config = SMOKE["gridworld"]
    frame = tuning.run_point("gridworld", config, "pgt", "plain", 1.0, [1000, 1001])
    assert len(frame) == 2 * len(config["n_trajectories"])
    batch = experiment.collect_dataset("gridworld", config, 10, 1001)
    records = experiment.train("gridworld", config | {"step_size": 1.0}, "pgt", batch)
    row = frame[(frame["seed"] == 1001) & (frame["n_trajectories"] == 10)].iloc[0]
    assert row["final_return"] == records[-1]["return"]
    assert row["best_return"] == max(r["return"] for r in records)

    def diverge(*args, **kwargs):
        raise FloatingPointError("gradient is not finite")

    monkeypatch.setattr(experiment, "train", diverge)
    frame = tuning.run_point("gridworld", config, "pgt", "plain", 1.0, [1000])
    assert frame["diverged"].all() and frame["final_return"].isna().all()
