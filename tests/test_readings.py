"""The readings of `snakemake robustness` (gamps.readings): the declared file is valid, each
reading's config (scale, overlay, roots) and the environments it reruns, clear errors before any
job starts; the verdict table, the flips and Figure 6 on hand-made statements whose answer is
known; and, at toy scale, the stage end to end."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fixtures import ROOT, SMOKE_CONFIG, copy_run, run_snakemake

from gamps import io, provenance, readings, settings
from gamps.analysis import claims, plots, render, report, robustness
from gamps.analysis.claims import INCONCLUSIVE, NOT_REPLICATED, REPLICATED, Statement
from gamps.readings import ReadingError

BASE = ROOT / "config/config.yaml"
PAPER = settings.load_config(BASE)
SMOKE = settings.load_config(BASE, SMOKE_CONFIG)
DECLARED = yaml.safe_load((ROOT / "config/readings.yaml").read_text())


def declare(folder: Path, declared: dict, base: dict = SMOKE) -> dict:
    """``base`` with its readings file replaced by ``declared`` (written in ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "readings.yaml"
    path.write_text(yaml.safe_dump(declared, sort_keys=False))
    return {**base, "readings": str(path)}


def some(*names: str) -> dict:
    """Some of the declared readings, as a readings file of their own."""
    return {"readings": {name: DECLARED["readings"][name] for name in names}}


def one(overlay: dict, name: str = "x", **fields) -> dict:
    return {"readings": {name: {"rationale": "a reason", "overlay": overlay, **fields}}}


# ---------------------------------------------------------------------------------------------
# The declared readings and each reading's config
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("config", [PAPER, SMOKE], ids=["paper", "smoke"])
def test_the_declared_readings_are_valid_and_write_under_their_own_roots(config):
    found = readings.load(config, ROOT)
    assert list(found) == list(DECLARED["readings"])
    for name, reading in found.items():
        assert reading.results == f"{config['results']}/robustness/{name}"
        assert reading.config["figures"] == f"{config['figures']}/robustness/{name}"
        assert f"reading '{name}'" in reading.config["scale_note"]
        assert reading.rationale == DECLARED["readings"][name]["rationale"].strip()
    assert found["walled"].envs == ("gridworld",)
    assert found["more_rollouts"].envs == ("minigolf", "swimmer")
    assert found["thirty_runs"].envs == ("minigolf",)
    assert found["walled"].config["gridworld"]["layout"] == "walled"
    assert found["thirty_runs"].config["minigolf"]["seeds"] == 30  # the overlay over the cap


def test_the_declared_readings_run_at_the_main_scale():
    for reading in readings.load(PAPER, ROOT).values():
        for env in reading.envs:
            assert reading.config[env]["seeds"] >= PAPER[env]["seeds"], (reading.name, env)


def test_the_scale_caps_sizes_and_never_enlarges_a_toy_run(tmp_path):
    declared = some("swimmer_free_model") | {"scale": {"swimmer": {"seeds": 5}}}
    paper = readings.load(declare(tmp_path / "paper", declared, PAPER), ROOT)
    smoke = readings.load(declare(tmp_path / "smoke", declared), ROOT)
    paper, smoke = paper["swimmer_free_model"].config, smoke["swimmer_free_model"].config
    assert paper["swimmer"]["seeds"] == 5 < PAPER["swimmer"]["seeds"]
    assert smoke["swimmer"]["seeds"] == SMOKE["swimmer"]["seeds"] == 2
    assert paper["minigolf"] == PAPER["minigolf"] and paper["gridworld"] == PAPER["gridworld"]


def test_a_reading_reruns_only_the_environments_whose_settings_it_changes():
    same = PAPER["gridworld"]["step_size"]
    assert readings.changed_envs(PAPER, {"gridworld": {"step_size": same}}) == ()
    overlay = {"swimmer": {"rollouts": 20}, "gridworld": {"layout": "walled"}}
    overlay["minigolf"] = {"seeds": PAPER["minigolf"]["seeds"]}
    assert readings.changed_envs(PAPER, overlay) == ("gridworld", "swimmer")  # registry order


def test_a_module_runs_the_reading_environments_only(tmp_path):
    reading = readings.load(declare(tmp_path, some("walled")), ROOT)["walled"]
    module = reading.module_config
    assert "gridworld" in module and not {"minigolf", "swimmer"} & set(module)
    assert module["tuning"] == SMOKE["tuning"] and module["results"] == reading.results
    assert (reading.module, reading.prefix) == ("reading_walled", "walled__")


def test_a_reading_stamps_its_own_rules_with_its_own_settings(tmp_path):
    found = readings.load(declare(tmp_path, some("walled", "thirty_runs")), ROOT)
    walled = provenance.stamps(found["walled"].module_config, ROOT, ["claims"])
    chain = ("collect_dataset", "train", "aggregate", "tables", "claims")
    assert set(walled) == {f"{rule}-gridworld" for rule in chain} | {"lower_area_mass"}
    assert "lower_area_mass" in json.loads(walled["claims-gridworld"])["upstream"]
    main = provenance.stamps(SMOKE, ROOT)
    ours, theirs = json.loads(walled["train-gridworld"]), json.loads(main["train-gridworld"])
    assert ours["code"] == theirs["code"] and ours["settings"] != theirs["settings"]
    golf = provenance.stamps(found["thirty_runs"].module_config, ROOT, ["claims"])
    assert set(golf) == {f"{rule}-minigolf" for rule in chain}
    assert set(json.loads(main["claims-minigolf"])["upstream"]) == {"tables-minigolf"}


# ---------------------------------------------------------------------------------------------
# Bad readings: one clear error, naming the reading and the key
# ---------------------------------------------------------------------------------------------

BAD = {
    "unknown-key": (
        one({"gridworld": {"layot": "walled"}}),
        "reading 'x': gridworld.layot is not a config key",
    ),
    "invalid-value": (
        one({"gridworld": {"layout": "wallled"}}, name="walled"),
        "reading 'walled': gridworld.layout: 'wallled' is not one of ['paper', 'walled']",
    ),
    "unknown-environment": (
        one({"gridwold": {"layout": "walled"}}),
        "reading 'x': gridwold is not an environment",
    ),
    "missing-rationale": (
        {"readings": {"x": {"overlay": {"gridworld": {"layout": "walled"}}}}},
        "reading 'x': 'rationale' is a required property",
    ),
}
MORE_BAD = {
    "zero-rollouts": (
        one({"swimmer": {"rollouts": 0}}),
        "reading 'x': swimmer.rollouts: 0 is less than the minimum of 1",
    ),
    "misspelled-tuned": (
        one({"minigolf": {"step_size": "tunned"}}),
        "reading 'x': minigolf.step_size: 'tunned' is not valid",
    ),
    "empty-overlay": (one({}), "reading 'x': overlay: {} should be non-empty"),
    "reserved-name": (one({"minigolf": {"seeds": 3}}, name="main"), "reading 'main': the name"),
    "bad-name": (one({"minigolf": {"seeds": 3}}, name="Walled"), "'Walled' does not match"),
    "seeds-overlap-tuning": (
        one({"minigolf": {"seeds": 1001}}),
        "reading 'x': tuning.minigolf.seeds [1000] overlap the evaluation seeds 0..1000",
    ),
    "unknown-scale-key": (
        {**one({"minigolf": {"seeds": 3}}), "scale": {"swimmer": {"sedes": 5}}},
        "readings scale: swimmer.sedes is not a config key",
    ),
    "scale-of-a-list": (
        {**one({"minigolf": {"seeds": 3}}), "scale": {"gridworld": {"n_trajectories": 5}}},
        "readings scale: gridworld.n_trajectories is not an integer setting",
    ),
}


@pytest.mark.parametrize(
    ("declared", "needle"), [*BAD.values(), *MORE_BAD.values()], ids=[*BAD, *MORE_BAD]
)
def test_a_bad_reading_is_named_with_its_key(tmp_path, declared, needle):
    with pytest.raises(ReadingError) as error:
        readings.load(declare(tmp_path, declared), ROOT)
    assert needle in str(error.value)


def test_a_missing_readings_file_is_named(tmp_path):
    with pytest.raises(ReadingError, match="readings file .*nowhere.yaml not found"):
        readings.load({**SMOKE, "readings": str(tmp_path / "nowhere.yaml")}, ROOT)


@pytest.mark.parametrize(("declared", "needle"), BAD.values(), ids=BAD)
def test_a_bad_reading_fails_before_any_job(tmp_path, declared, needle):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(declare(tmp_path / "declared", declared)))
    result = run_snakemake(tmp_path, "--cores", "1", "--dry-run", "robustness", configfile=config)
    assert result.returncode != 0
    assert needle in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def job_stats(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The job counts of a Snakemake run or dry run, by rule."""
    text = result.stdout + result.stderr
    stats = re.search(r"^Job stats:\n.*?\n-+ +-+\n(.*?)^total", text, re.M | re.S)
    assert stats is not None, text[-3000:]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+) +(\d+)$", stats[1], re.M)}


def test_each_reading_runs_the_main_rules_under_its_own_names(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(declare(tmp_path, some("walled", "thirty_runs"))))
    result = run_snakemake(tmp_path, "--cores", "1", "--dry-run", "robustness", configfile=config)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = job_stats(result)
    grid, golf = SMOKE["gridworld"], SMOKE["minigolf"]
    # The gridworld and minigolf train every seed of an (algorithm, N) in one job.
    batches = len(grid["algorithms"]) * len(grid["n_trajectories"])
    assert stats["walled__train_gridworld"] == batches and stats["walled__claims"] == 1
    assert stats["walled__collect_dataset_gridworld"] == len(grid["n_trajectories"])
    assert "walled__train" not in stats
    assert stats["thirty_runs__train_minigolf"] == len(golf["algorithms"])
    assert "thirty_runs__lower_area_mass" not in stats and stats["reading_claims"] == 2
    # Main's own runs, for its claims.csv: the swimmer's one job a seed.
    swim = SMOKE["swimmer"]
    assert stats["train"] == len(swim["algorithms"]) * len(swim["n_trajectories"]) * swim["seeds"]
    assert stats["train_gridworld"] == batches


# ---------------------------------------------------------------------------------------------
# Verdicts, flips, the report and Figure 6 on hand-made statements
# ---------------------------------------------------------------------------------------------


def statements(*rows: tuple[int, str, str, int, str]) -> pd.DataFrame:
    """A table of statements (claim, env, statement, N, verdict) with made-up numbers."""
    made = [
        Statement(c, env, text, n, 0.5, 0.1, 0.9, 0.0, 0.01, verdict, "detail")
        for c, env, text, n, verdict in rows
    ]
    return claims.gather([]) if not made else pd.DataFrame([vars(s) for s in made])


MAIN = statements(
    (1, "gridworld", "eta below delta", 20, REPLICATED),
    (2, "gridworld", "GAMPS above ML", 10, REPLICATED),
    (2, "gridworld", "GAMPS above ML", 100, REPLICATED),
    (3, "minigolf", "GAMPS above PGT", 50, INCONCLUSIVE),
    (4, "swimmer", "GAMPS above PGT", 100, NOT_REPLICATED),
)
READINGS = {
    "walled": statements(
        (1, "gridworld", "eta below delta", 20, REPLICATED),
        (2, "gridworld", "GAMPS above ML", 10, REPLICATED),
        (2, "gridworld", "GAMPS above ML", 100, NOT_REPLICATED),
    ),
    "more_rollouts": statements(
        (3, "minigolf", "GAMPS above PGT", 50, REPLICATED),
        (4, "swimmer", "GAMPS above PGT", 100, NOT_REPLICATED),
    ),
    "thirty_runs": statements((3, "minigolf", "GAMPS above PGT", 50, INCONCLUSIVE)),
}


def test_the_verdict_table_holds_main_and_what_each_reading_reran():
    table = robustness.verdict_table(MAIN, READINGS)
    assert list(table.columns) == robustness.COLUMNS
    assert list(dict.fromkeys(table["reading"])) == ["main", *READINGS]
    assert table.groupby("reading", sort=False).size().to_dict() == {
        "main": 5,
        "walled": 3,
        "more_rollouts": 2,
        "thirty_runs": 1,
    }
    assert set(table.loc[table["reading"] == "walled", "env"]) == {"gridworld"}  # not copied
    assert (table["p"] == 0.01).all()
    assert robustness.verdict_table(MAIN, {"shared_step": claims.gather([])}).shape == (5, 10)


def test_the_claim_summary_counts_the_readings_and_names_the_flips():
    summary = robustness.claim_summary(robustness.verdict_table(MAIN, READINGS)).set_index("claim")
    assert summary.loc[1, ["main", "readings", "replicated", "flipped_by"]].tolist() == [
        REPLICATED,
        1,
        1,
        "",
    ]
    assert summary.loc[2, "flipped_by"] == "walled (not replicated)"
    assert summary.loc[2, ["replicated", "not_replicated", "inconclusive"]].tolist() == [0, 1, 0]
    assert summary.loc[3, ["readings", "replicated", "inconclusive"]].tolist() == [2, 1, 1]
    assert summary.loc[3, "flipped_by"] == "more_rollouts (replicated)"
    assert summary.loc[4, ["main", "readings", "flipped_by"]].tolist() == [NOT_REPLICATED, 1, ""]


def test_the_claim_matrix_gives_each_claims_verdict_under_each_reading():
    matrix = robustness.claim_matrix(robustness.verdict_table(MAIN, READINGS))
    assert list(matrix.index) == ["main", *READINGS] and list(matrix.columns) == [1, 2, 3, 4]
    assert matrix.loc["main", 2] == "replicated (2/0/0)"
    assert matrix.loc["walled", 2] == "not replicated (1/1/0)"
    assert matrix.loc["walled", 3] == ""  # not rerun
    assert matrix.loc["thirty_runs"].tolist() == ["", "", "inconclusive (0/0/1)", ""]
    text = render.claim_matrix_markdown(matrix)
    assert "| reading | claim 1 | claim 2 | claim 3 | claim 4 |" in text
    assert "| walled | replicated (1/0/0) | not replicated (1/1/0) | – | – |" in text


def test_statement_flips_name_each_changed_verdict():
    flips = robustness.statement_flips(robustness.verdict_table(MAIN, READINGS))
    assert flips[["reading", "claim", "n_trajectories", "main", "verdict"]].values.tolist() == [
        ["walled", 2, 100, REPLICATED, NOT_REPLICATED],
        ["more_rollouts", 3, 50, INCONCLUSIVE, REPLICATED],
    ]


def test_the_robustness_report_says_per_claim_what_holds_and_what_flips():
    verdicts = robustness.verdict_table(MAIN, READINGS)
    summary, flips = robustness.claim_summary(verdicts), robustness.statement_flips(verdicts)
    described = {
        "walled": {"rationale": "A wall.", "envs": {"gridworld": 20}},
        "more_rollouts": {"rationale": "More M.", "envs": {"minigolf": 10, "swimmer": 5}},
        "shared_step": {"rationale": "One alpha.", "envs": {}},
    }
    main_seeds = {"gridworld": 20, "minigolf": 10, "swimmer": 10}
    matrix = robustness.claim_matrix(verdicts)
    text = report.robustness_report(summary, flips, described, main_seeds, "TOY", "../figs", matrix)
    assert text.startswith("# Robustness of the verdicts\n\n> **TOY**")
    assert "| walled | gridworld (20 seeds) | A wall. |" in text
    assert "| shared_step | nothing: it changes no setting of this config | One alpha. |" in text
    assert "| 2 | Figure 2 | **replicated** | 1 | 0 / 1 / 0 | walled (not replicated) |" in text
    assert "swimmer (5 of 10 seeds)" in text
    assert "**No statement can be decided for swimmer at 5 seeds**" in text
    assert "cannot go below p = 0.0625" in text
    assert "| walled | 2 | GAMPS above ML | 100 | replicated | **not replicated** |" in text
    assert "## Each claim under each reading" in text
    assert "| more_rollouts | – | – | replicated (1/0/0) | not replicated (0/1/0) |" in text
    assert "](../figs/fig6_robustness.png)" in text
    same = robustness.verdict_table(MAIN, {"thirty_runs": READINGS["thirty_runs"]})
    quiet = report.robustness_report(
        robustness.claim_summary(same), robustness.statement_flips(same), {}, main_seeds
    )
    assert "None: every statement rerun keeps its verdict under main." in quiet
    assert "fewer seeds" not in quiet and "can be decided" not in quiet
    assert render.robustness_markdown(robustness.claim_summary(same)).count("\n| ") == 4


def test_figure6_draws_the_matrix_deterministically(tmp_path):
    assert plots.STATEMENT == robustness.KEY
    verdicts = robustness.verdict_table(MAIN, READINGS)
    first = [tmp_path / "a/fig6.pdf", tmp_path / "a/fig6.png"]
    plots.figure6(verdicts, first, "TOY SCALE")
    assert all(path.stat().st_size > 5000 for path in first)
    again = tmp_path / "b/fig6.pdf"
    plots.figure6(verdicts, [again], "TOY SCALE")
    assert again.read_bytes() == first[0].read_bytes()


def test_statements_read_back_exactly(tmp_path):
    values = [0.1 + 0.2, 1e-300, -math.pi, 2.0**-1074, 1 / 3, math.nan]
    made = pd.DataFrame(
        [vars(Statement(1, "gridworld", 's,"q"', 10, v, v, v, 0.0, v, REPLICATED)) for v in values]
    )
    io.write_csv(made, tmp_path / "claims.csv")
    back = claims.gather([tmp_path / "claims.csv", tmp_path / "claims.csv"])
    assert back.iloc[:6].equals(made) and back.iloc[6:].reset_index(drop=True).equals(made)
    io.write_csv(claims.gather([]), tmp_path / "none.csv")
    assert claims.gather([tmp_path / "none.csv"]).columns.tolist() == claims.COLUMNS


# ---------------------------------------------------------------------------------------------
# The stage at toy scale (pipeline tier)
# ---------------------------------------------------------------------------------------------


def reading_csvs(run: Path, name: str) -> dict[Path, bytes]:
    root = run / "results/_smoke/robustness" / name
    return {path.relative_to(root): path.read_bytes() for path in sorted(root.rglob("*.csv"))}


@pytest.mark.pipeline
def test_the_robustness_stage_at_toy_scale(smoke_run, tmp_path):
    """Two cheap gridworld readings over a finished smoke run: main is not rerun; verdicts.csv
    holds main and what each reading reran; a reading alone gives the same bytes; a third
    reading plans its own jobs only."""
    run = copy_run(smoke_run, tmp_path / "run")
    two = tmp_path / "two.yaml"
    two.write_text(yaml.safe_dump(declare(tmp_path / "two", some("walled", "mu_upper"))))
    result = run_snakemake(run, "--cores", "1", "robustness", configfile=two)
    assert result.returncode == 0, result.stderr[-3000:]
    ran = job_stats(result)
    assert {rule for rule in ran if "__" not in rule} == {
        "reading_claims",
        "verdicts",
        "figure6",
        "robustness",
    }
    out = run / "results/_smoke/robustness"
    verdicts = pd.read_csv(out / "verdicts.csv")
    assert list(verdicts.columns) == robustness.COLUMNS
    assert list(dict.fromkeys(verdicts["reading"])) == ["main", "walled", "mu_upper"]
    main = claims.read_statements(run / "results/_smoke/claims.csv")
    assert (verdicts["reading"] == "main").sum() == len(main)
    assert verdicts["verdict"].isin(claims.VERDICTS).all()
    for name in ("walled", "mu_upper"):
        rows = verdicts[verdicts["reading"] == name]
        own = claims.read_statements(out / name / "claims.csv")
        assert set(rows["env"]) == {"gridworld"} and set(rows["claim"]) == {1, 2}
        assert rows["statement"].tolist() == own["statement"].tolist()
        assert rows["estimate"].tolist() == own["estimate"].tolist()
        record = json.loads((out / name / "provenance.json").read_text())
        assert "train-gridworld" in record and "train-minigolf" not in record
    assert "## Per claim" in (out / "ROBUSTNESS.md").read_text()
    for ext in ("pdf", "png"):
        assert (run / f"paper_figures/_smoke/fig6_robustness.{ext}").stat().st_size > 5000
    # One reading alone, in an empty folder, on its own target: the same files.
    alone = tmp_path / "alone"
    alone.mkdir()
    result = run_snakemake(alone, "--cores", "1", "robustness_walled", configfile=two)
    assert result.returncode == 0, result.stderr[-3000:]
    assert reading_csvs(alone, "walled") == reading_csvs(run, "walled")
    assert not (alone / "results/_smoke/claims.csv").exists()
    # A third reading: its own jobs, and the gathering.
    three = tmp_path / "three.yaml"
    declared = some("walled", "mu_upper", "model_walls")
    three.write_text(yaml.safe_dump(declare(tmp_path / "three", declared)))
    result = run_snakemake(run, "--cores", "1", "--dry-run", "robustness", configfile=three)
    assert result.returncode == 0, result.stderr[-3000:]
    planned = job_stats(result)
    assert {rule.split("__")[0] for rule in planned if "__" in rule} == {"model_walls"}
    assert {rule for rule in planned if "__" not in rule} == {r for r in ran if "__" not in r}
    assert planned["reading_claims"] == 1


@pytest.mark.parametrize("n", [2, 5, 6, 8])
def test_the_smallest_wilcoxon_p_is_scipys_with_every_seed_on_one_side(n):
    from gamps.analysis import stats

    one_side = np.arange(1.0, n + 1.0)
    assert stats.smallest_wilcoxon_p(n) == pytest.approx(stats.wilcoxon_p(one_side))
    mixed = one_side * np.where(np.arange(n) == 0, -1.0, 1.0)
    assert stats.wilcoxon_p(mixed) > stats.smallest_wilcoxon_p(n)
    assert (stats.smallest_wilcoxon_p(n) < 0.05) == (n >= 6)
