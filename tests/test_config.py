"""Bad configs fail before any job starts, naming the offending key; light jobs stay light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_snakemake

SMOKE = yaml.safe_load((ROOT / "config/smoke.yaml").read_text())


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
        (with_change("gridworld", "horizon", "twenty"), "['gridworld']['horizon']"),
        (with_change("gridworld", "horizon", 0), "['gridworld']['horizon']"),
        (with_change("gridworld", "seeds", -3), "['gridworld']['seeds']"),
        (with_change("gridworld", "n_trajectories", [10, 0]), "['gridworld']['n_trajectories']"),
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
    ],
    ids=[
        "misspelled-key",
        "wrong-type",
        "zero-horizon",
        "negative-seeds",
        "zero-N",
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
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, config, needle):
    result = dry_run(tmp_path, config)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Error validating config file" in output
    assert needle in output
    assert not (tmp_path / "results").exists()


def test_smoke_config_is_valid(tmp_path):
    result = dry_run(tmp_path, SMOKE)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize(
    "module", ["gamps.experiment", "gamps.analysis.tables", "gamps.analysis.render"]
)
def test_light_jobs_do_not_import_torch_or_seaborn(module):
    code = (
        f"import sys, {module}; heavy = {{'torch', 'seaborn'}} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
