"""Bad configs fail before any job starts, naming the offending key; the overlays hold only what
they change; config/README.md is current; light jobs stay light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from fixtures import ROOT, run_snakemake

from gamps import settings

BASE = ROOT / "config/config.yaml"
OVERLAYS = [ROOT / "config" / name for name in settings.OVERLAYS]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
#: The full config of a smoke run: config.yaml with smoke.yaml over it (a full config is also a
#: valid overlay, so each bad config below is written whole).
SMOKE = settings.load_config(BASE, ROOT / "config/smoke.yaml")


def dry_run(tmp_path: Path, config: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return run_snakemake(tmp_path, "--cores", "1", "--dry-run", configfile=path)


def with_change(section: str, key: str, value) -> dict:
    config = yaml.safe_load(yaml.safe_dump(SMOKE))
    config[section][key] = value
    return config


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        (with_change("gridworld", "gama", 0.9), "'gama' was unexpected"),
        (with_change("minigolf", "rollout", 3), "'rollout' was unexpected"),
        (with_change("swimmer", "model_step", 3), "'model_step' was unexpected"),
        (with_change("gradient_bias", "repetition", 3), "'repetition' was unexpected"),
        (with_change("gridworld", "horizon", "twenty"), "['gridworld']['horizon']"),
        (with_change("gridworld", "horizon", 0), "['gridworld']['horizon']"),
        (with_change("gridworld", "seeds", -3), "['gridworld']['seeds']"),
        (with_change("gridworld", "n_trajectories", [10, 0]), "['gridworld']['n_trajectories']"),
        (with_change("gridworld", "n_trajectories", [10, 10]), "has non-unique elements"),
        (with_change("swimmer", "algorithms", ["ml", "ml"]), "has non-unique elements"),
        (with_change("swimmer", "q_norm", 0.5), "['swimmer']['q_norm']"),
        (with_change("gridworld", "step_size", 0), "['gridworld']['step_size']"),
        (with_change("gridworld", "gamma", 1.0), "['gridworld']['gamma']"),
        (with_change("gridworld", "algorithms", ["gamps", "trpo"]), "'trpo' is not one of"),
        (
            with_change("gridworld", "degenerate_ess_fraction", 2),
            "['gridworld']['degenerate_ess_fraction']",
        ),
        ({**SMOKE, "gridwold": SMOKE["gridworld"]}, "'gridwold' was unexpected"),
        (with_change("minigolf", "rollouts", 0), "['minigolf']['rollouts']"),
        (with_change("minigolf", "horizon", 0), "['minigolf']['horizon']"),
        (with_change("minigolf", "policy_std", -0.3), "['minigolf']['policy_std']"),
        (with_change("minigolf", "behaviour_weights", [1.0]), "['minigolf']['behaviour_weights']"),
        (
            with_change("minigolf", "evaluation_episodes", 2.5),
            "['minigolf']['evaluation_episodes']",
        ),
        (with_change("gradient_bias", "repetitions", 0), "['gradient_bias']['repetitions']"),
        (with_change("gridworld", "update", "momentum"), "['gridworld']['update']"),
        (with_change("minigolf", "step_size", "tunned"), "['minigolf']['step_size']"),
        (
            with_change("swimmer", "step_size", {"gamps": 0.1, "trpo": 1}),
            "['swimmer']['step_size']",
        ),
        (with_change("tuning", "gridworld", {"plain": []}), "['tuning']['gridworld']['plain']"),
        (with_change("tuning", "minigolf", {"seeds": [1000], "plain": [0.1]}), "['tuning']"),
        (with_change("swimmer", "baseline", "mean"), "'mean' is not one of ['none', 'state']"),
    ],
    ids=[
        "misspelled-key",
        "misspelled-minigolf-key",
        "misspelled-swimmer-key",
        "misspelled-bias-key",
        "wrong-type",
        "zero-horizon",
        "negative-seeds",
        "zero-N",
        "repeated-N",
        "repeated-algorithm",
        "swimmer-q-below-one",
        "zero-step",
        "gamma-one",
        "unknown-algorithm",
        "ess-fraction-above-one",
        "unknown-environment",
        "zero-rollouts",
        "minigolf-zero-horizon",
        "negative-std",
        "short-weight-range",
        "fractional-episodes",
        "zero-bias-repetitions",
        "unknown-update-rule",
        "misspelled-tuned",
        "step-for-unknown-algorithm",
        "empty-grid",
        "one-tuning-seed",
        "unknown-baseline",
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, config, needle):
    result = dry_run(tmp_path, config)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Error validating config file" in output
    assert needle in output
    assert not (tmp_path / "results").exists()


def test_tuning_seeds_that_overlap_evaluation_seeds_fail_before_any_job(tmp_path):
    config = with_change("tuning", "minigolf", {"seeds": [1, 1000], "plain": [0.001]})
    result = dry_run(tmp_path, config)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "tuning.minigolf.seeds [1] overlap the evaluation seeds 0..1" in output
    assert not (tmp_path / "results").exists()


def test_smoke_config_is_valid(tmp_path):
    result = dry_run(tmp_path, SMOKE)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_overlay_holds_only_changes_and_its_merge_validates(overlay):
    base = yaml.safe_load(BASE.read_text())
    assert not settings.redundant_keys(base, yaml.safe_load(overlay.read_text()))
    jsonschema.Draft202012Validator(SCHEMA).validate(settings.load_config(BASE, overlay))
    jsonschema.Draft202012Validator(SCHEMA).validate(base)


def test_paper_config_lists_every_key():
    """config.yaml is complete and explicit: every key of the schema has its value there."""
    base = yaml.safe_load(BASE.read_text())
    assert set(base) == set(SCHEMA["properties"])
    for section, node in SCHEMA["properties"].items():
        if node.get("type") == "object":
            assert set(base[section]) == set(settings.section_properties(SCHEMA, node)), section


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda path: path.name)
def test_snakemake_merges_an_overlay_as_load_config_does(tmp_path, overlay):
    """The config the pipeline validates and runs with (``--configfile`` over the Snakefile's
    ``configfile:``) is settings.load_config's deep merge, which the tests use."""
    (tmp_path / "Snakefile").write_text(
        "import json\n"
        "from snakemake.utils import validate\n"
        f"configfile: {str(BASE)!r}\n"
        f"validate(config, {str(ROOT / 'workflow/schemas/config.schema.yaml')!r})\n"
        "with open('config.json', 'w') as handle:\n"
        "    json.dump(config, handle)\n"
        "rule all:\n"
        "    input: []\n"
    )
    cmd = [sys.executable, "-m", "snakemake", "--dry-run", "--configfile", str(overlay)]
    subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True)
    seen = json.loads((tmp_path / "config.json").read_text())
    assert seen == settings.load_config(BASE, overlay)


def test_config_readme_is_current():
    """config/README.md is generated (python -m gamps.settings .): it cannot drift."""
    assert (ROOT / "config/README.md").read_text() == settings.config_readme(ROOT)


@pytest.mark.parametrize(
    "module",
    [
        "gamps.experiment",
        "gamps.analysis.tables",
        "gamps.analysis.render",
        "gamps.analysis.robustness",
        "gamps.readings",
    ],
)
def test_light_jobs_do_not_import_torch_or_seaborn(module):
    code = (
        f"import sys, {module}; heavy = {{'torch', 'seaborn'}} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
