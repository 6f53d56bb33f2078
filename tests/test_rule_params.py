"""Each rule receives exactly the settings it reads (gamps.settings.rule_params): a plot setting
redraws a plot, one more seed trains only that seed, a step size retrains without recollecting,
and the order of keys in a config file reruns nothing. Unit tests of the function, then dry runs
on a copy of the finished smoke run."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml
from fixtures import ROOT, copy_run, run_snakemake

from gamps import settings, tuning
from gamps.domains import DOMAIN_KEYS
from gamps.experiment import SETTINGS_KEYS
from gamps.settings import rule_params

SMOKE = settings.load_config(ROOT / "config/config.yaml", ROOT / "config/smoke.yaml")
GRID = SMOKE["gridworld"]
ENVS = list(DOMAIN_KEYS)
FIGURE1_DATA = {*DOMAIN_KEYS["gridworld"], "q_norm", "figure1_trajectories"}


def reversed_keys(value):
    """``value`` with every dict's keys in reverse order, recursively."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    return value


def changed(config: dict, section: str, **changes) -> dict:
    config = yaml.safe_load(yaml.safe_dump(config))
    config.setdefault(section, {}).update(changes)
    return config


def all_params(config: dict) -> dict:
    """Every rule's params (per environment where the rule has an {env} wildcard)."""
    params = {}
    for rule in settings.RULES:
        for env in ENVS if rule in settings.PER_ENV_RULES else [None]:
            params[rule, env] = rule_params(rule, config, env)
    return params


# ---------------------------------------------------------------------------------------------
# The function
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_datasets_and_training_read_their_environment_only(env):
    assert set(rule_params("collect_dataset", SMOKE, env)) == {"domain"}
    assert rule_params("collect_dataset", SMOKE, env)["domain"].keys() == set(DOMAIN_KEYS[env])
    train = rule_params("train", SMOKE, env)
    assert set(train) == {"env_config"}
    assert train["env_config"].keys() == {*DOMAIN_KEYS[env], *SETTINGS_KEYS}
    resolved = SMOKE[env] | {"step_size": tuning.resolve_step_size(SMOKE, env)}
    assert train["env_config"] == {key: resolved[key] for key in train["env_config"]}


def test_gridworld_rules_read_their_keys():
    bias = rule_params("gradient_bias", SMOKE)
    assert set(bias) == {"env_config", "bias_config"}
    assert bias["env_config"].keys() == {
        *DOMAIN_KEYS["gridworld"],
        *SETTINGS_KEYS,
        "n_trajectories",
    }
    assert bias["bias_config"] == SMOKE["gradient_bias"]
    used = rule_params("gradient_used", SMOKE)
    assert set(used) == {"env_config", "path_every"}
    assert used["env_config"].keys() == {
        *DOMAIN_KEYS["gridworld"],
        *SETTINGS_KEYS,
        "n_trajectories",
        "algorithms",
    }
    resolved = GRID | {"step_size": tuning.resolve_step_size(SMOKE, "gridworld")}
    assert used["env_config"] == {key: resolved[key] for key in used["env_config"]}
    assert used["path_every"] == SMOKE["gradient_bias"]["path_every"]
    for rule in ("gridworld_weights", "lower_area_mass"):
        params = rule_params(rule, SMOKE)
        assert set(params) == {"env_config"} and params["env_config"].keys() == FIGURE1_DATA
        assert params["env_config"] == {key: GRID[key] for key in FIGURE1_DATA}
    note = SMOKE["scale_note"]
    assert rule_params("figure1", SMOKE) == {"actions": GRID["figure1_actions"], "note": note}
    for rule in ("figure2", "figure3", "figure4"):
        assert rule_params(rule, SMOKE) == {"note": note}
    assert rule_params("replication_report", SMOKE) == {
        "name": SMOKE["name"],
        "note": note,
        "reference": SMOKE["swimmer"]["reference_trajectories"],
        "selection": SMOKE["tuning"]["selection"],
        "step_sizes": {
            env: {
                "step_size": tuning.resolve_step_size(SMOKE, env),
                "tuned": SMOKE[env]["step_size"] == "tuned",
                "update": "plain",
            }
            for env in ENVS
        },
    }


def test_the_gradient_check_reads_the_swimmer_keys_it_uses():
    check = rule_params("gradient_check", SMOKE)["env_config"]
    keys = {*DOMAIN_KEYS["swimmer"], "q_norm", "algorithms", "reference_trajectories"}
    assert check == {key: SMOKE["swimmer"][key] for key in sorted(keys)}


def test_params_are_canonical():
    """Sorted at every depth, so the order of keys in a config file never reruns a job (Snakemake
    compares the repr of params); lists keep their order (Figure 1's actions are its panels)."""
    again = all_params(reversed_keys(SMOKE))
    for key, params in all_params(SMOKE).items():
        assert repr(again[key]) == repr(params), key
        assert repr(params) == repr(settings.canonical(params))
    nested = {"b": [{"y": 1, "x": 2}], "a": {"d": 1, "c": (3, 1)}}
    assert (
        repr(settings.canonical(nested)) == "{'a': {'c': (3, 1), 'd': 1}, 'b': [{'x': 2, 'y': 1}]}"
    )


@pytest.mark.parametrize(
    ("section", "change", "affected"),
    [
        ("gridworld", {"figure1_actions": ["up", "left"]}, {("figure1", None)}),
        ("gridworld", {"seeds": 7}, set()),
        ("gridworld", {"algorithms": ["gamps"]}, {("gradient_used", None)}),
        (
            "gridworld",
            {"step_size": 0.5},
            {
                ("train", "gridworld"),
                ("gradient_bias", None),
                ("gradient_used", None),
                ("replication_report", None),
            },
        ),
        (
            "gridworld",
            {"q_norm": 3.0},
            {
                ("train", "gridworld"),
                ("tune", "gridworld"),
                ("gradient_bias", None),
                ("gradient_used", None),
                ("gridworld_weights", None),
                ("lower_area_mass", None),
            },
        ),
        ("gradient_bias", {"repetitions": 9}, {("gradient_bias", None)}),
        (
            "gridworld",
            {"update": "adam"},
            {
                ("train", "gridworld"),
                ("gradient_bias", None),
                ("gradient_used", None),
                ("replication_report", None),
            },
        ),
        ("minigolf", {"iterations": 9}, {("train", "minigolf"), ("tune", "minigolf")}),
        ("gradient_bias", {"path_every": 9}, {("gradient_bias", None), ("gradient_used", None)}),
        (
            "swimmer",
            {"model_patience": 9},
            {
                ("collect_dataset", "swimmer"),
                ("train", "swimmer"),
                ("tune", "swimmer"),
                ("gradient_check", None),
            },
        ),
        (
            "swimmer",
            {"reference_trajectories": 9},
            {("gradient_check", None), ("replication_report", None)},
        ),
        ("name", "other", {("replication_report", None)}),
        (
            "scale_note",
            "other",
            {(rule, None) for rule in ("figure1", "figure2", "figure3", "figure4", "figure5")}
            | {("figure6", None), ("verdicts", None), ("replication_report", None)},
        ),
    ],
    ids=[
        "figure1_actions",
        "seeds",
        "algorithms",
        "step_size",
        "q_norm",
        "bias-repetitions",
        "update",
        "bias-path_every",
        "minigolf-iterations",
        "swimmer-model_patience",
        "swimmer-reference_trajectories",
        "name",
        "scale_note",
    ],
)
def test_a_setting_changes_the_params_of_the_rules_that_read_it_only(section, change, affected):
    if isinstance(change, dict):
        config = changed(SMOKE, section, **change)
    else:
        config = {**SMOKE, section: change}
    before, after = all_params(SMOKE), all_params(config)
    assert {key for key in before if before[key] != after[key]} == affected


def test_unknown_rule_or_missing_environment_is_an_error():
    with pytest.raises(ValueError, match="reads no setting"):
        rule_params("tables", SMOKE)
    with pytest.raises(ValueError, match="needs an environment"):
        rule_params("train", SMOKE)


def test_every_rule_params_call_names_a_known_rule_of_its_own():
    """Each rule of the workflow that has params takes them from rule_params, under its name."""
    text = "\n".join(path.read_text() for path in sorted((ROOT / "workflow/rules").glob("*.smk")))
    calls = {}
    for block in re.split(r"^ *rule\b", text, flags=re.MULTILINE)[1:]:
        # A rule made in a loop over environments names itself (``f"train_{ENV}"``).
        name = block.split(":", 1)[0].strip() or re.search(r'f"(\w+?)_\{', block)[1]
        calls.setdefault(name, []).extend(re.findall(r'rule_params\("(\w+)"', block))
    assert {name: sorted(set(found)) for name, found in calls.items() if found} == {
        rule: [rule] for rule in settings.RULES
    }
    params = re.findall(r"^( +)params:\n((?:\1 {4}.*\n)*)", text, re.MULTILINE)
    params = [block for _, block in params]
    assert params and not any("config[" in block for block in params)


# ---------------------------------------------------------------------------------------------
# Dry runs on a copy of the finished smoke run
# ---------------------------------------------------------------------------------------------


def planned_jobs(result: subprocess.CompletedProcess) -> set[str]:
    """The jobs of a dry run, as ``rule`` or ``rule[wildcards]``; checked against its job stats."""
    text = result.stdout + result.stderr
    jobs = set()
    for match in re.finditer(r"^(?:local)?rule (\w+):\n((?: {4}.*\n)*)", text, re.MULTILINE):
        wildcards = re.search(r"^ {4}wildcards: (.*)$", match[2], re.MULTILINE)
        jobs.add(match[1] + (f"[{wildcards[1]}]" if wildcards else ""))
    total = re.search(r"^total +(\d+)$", text, re.MULTILINE)
    assert len(jobs) == (int(total[1]) if total else 0), text[-3000:]
    return jobs


def plan(smoke_run: Path, tmp_path: Path, config: dict) -> set[str]:
    run = copy_run(smoke_run, tmp_path / "run")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_snakemake(run, "--dry-run", configfile=path)
    assert result.returncode == 0, result.stderr[-3000:]
    return planned_jobs(result)


def gridworld_runs(n=None) -> set[str]:
    """The gridworld's training jobs, each every seed of an (algorithm, N)."""
    return {
        f"train_gridworld[algo={algo}, n={size}]"
        for algo in GRID["algorithms"]
        for size in n or GRID["n_trajectories"]
    }


#: Every job downstream of the gridworld's training (aggregate, its tables, claims and Figure 2,
#: the gradient-bias summary and Figure 4, the gradient-used summary, the report, the provenance
#: record) and the default target.
AFTER_GRIDWORLD_TRAINING = {
    "aggregate[env=gridworld]",
    "tables[env=gridworld]",
    "claims[env=gridworld]",
    "figure2",
    "gradient_bias_summary",
    "figure4",
    "gradient_used_summary",
    "replication_report",
    "provenance",
    "all",
}


pipeline = pytest.mark.pipeline


@pipeline
def test_nothing_to_do_with_the_same_config(smoke_run, tmp_path):
    assert (
        plan(smoke_run, tmp_path, yaml.safe_load((ROOT / "config/smoke.yaml").read_text())) == set()
    )


@pipeline
def test_same_config_with_keys_in_another_order_replans_nothing(smoke_run, tmp_path):
    """The whole config, every key at every depth in reverse order (Snakemake's merged config
    takes the order of the --configfile's keys)."""
    assert plan(smoke_run, tmp_path, reversed_keys(SMOKE)) == set()


@pipeline
def test_figure_setting_replans_only_that_figure(smoke_run, tmp_path):
    """Figure 1's actions redraw Figure 1 and nothing else: the report links the figures but does
    not read them, so it does not wait on them."""
    config = changed(SMOKE, "gridworld", figure1_actions=["up", "left"])
    assert plan(smoke_run, tmp_path, config) == {"figure1", "provenance", "all"}


@pipeline
def test_one_more_seed_reruns_the_seed_batched_jobs_and_the_aggregates(smoke_run, tmp_path):
    """The gridworld runs every seed of an N (datasets) or of an (algorithm, N) (training) and its
    diagnostics in one job each, so one more seed reruns them all (the old seeds' files come out
    byte-identical: test_robustness), Figure 1 with its dataset, and what reads the runs."""
    config = changed(SMOKE, "gridworld", seeds=GRID["seeds"] + 1)
    batched = {f"collect_dataset_gridworld[n={n}]" for n in GRID["n_trajectories"]}
    batched |= gridworld_runs() | {"gradient_bias", "gradient_used"}
    figure1 = {"gridworld_weights", "figure1", "lower_area_mass"}
    assert plan(smoke_run, tmp_path, config) == batched | figure1 | AFTER_GRIDWORLD_TRAINING


def test_one_more_swimmer_seed_plans_only_the_new_seed_and_the_aggregates(smoke_run, tmp_path):
    swim = SMOKE["swimmer"]
    seed = swim["seeds"]
    config = changed(SMOKE, "swimmer", seeds=seed + 1)
    new_seed = {f"collect_dataset[env=swimmer, n={n}, seed={seed}]" for n in swim["n_trajectories"]}
    new_seed |= {
        f"train[env=swimmer, algo={algo}, n={n}, seed={seed}]"
        for algo in swim["algorithms"]
        for n in swim["n_trajectories"]
    }
    new_seed |= {f"gradient_check[n={n}, seed={seed}]" for n in swim["n_trajectories"]}
    after = {"aggregate[env=swimmer]", "tables[env=swimmer]", "claims[env=swimmer]", "figure3"}
    after |= {"gradient_check_summary", "replication_report", "provenance", "all"}
    assert plan(smoke_run, tmp_path, config) == new_seed | after


@pipeline
def test_step_size_retrains_without_recollecting_or_redrawing_figure1(smoke_run, tmp_path):
    """Training and what follows it; never the datasets, Figure 1 or claim 1 (lower_area_mass)."""
    config = changed(SMOKE, "gridworld", step_size=0.5)
    assert plan(smoke_run, tmp_path, config) == (
        gridworld_runs() | {"gradient_bias", "gradient_used"} | AFTER_GRIDWORLD_TRAINING
    )
