"""The pipeline under stress, at smoke scale: killed mid-training, fed corrupted or stale
datasets. Each test works on its own folder and compares with the uninterrupted ``smoke_run``."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import yaml
from fixtures import ROOT, SMOKE_CONFIG, copy_run, result_csvs, run_snakemake

from gamps import data, experiment, settings

#: The full config of a smoke run: config/smoke.yaml is an overlay of config/config.yaml.
SMOKE = settings.load_config(ROOT / "config/config.yaml", SMOKE_CONFIG)
GRID = SMOKE["gridworld"]
N_RUNS = len(GRID["algorithms"]) * len(GRID["n_trajectories"]) * GRID["seeds"]
DATASET = "results/_smoke/gridworld/data/N10_seed0.npz"
pytestmark = pytest.mark.pipeline


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def run_csvs(run: Path) -> list[Path]:
    return sorted((run / "results/_smoke/gridworld/runs").rglob("*.csv"))


def temporaries(run: Path) -> list[Path]:
    return sorted(run.rglob("*.tmp"))


def assert_complete_or_absent(run: Path, reference: Path, broken: Sequence[str] = ()) -> None:
    """Every result file present in ``run`` (but the ``broken`` datasets) is a complete one, equal
    to the reference's."""
    for rel, content in result_csvs(run).items():
        assert content == (reference / rel).read_bytes(), f"{rel} is not the complete file"
    for path in sorted((run / "results/_smoke").rglob("*.npz")):
        if data.metadata_path(path).exists() and path not in [run / b for b in broken]:
            got, want = data.load(path), data.load(reference / path.relative_to(run))
            for name in data.ARRAYS:
                np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def with_config(run: Path, **changes) -> Path:
    """The whole smoke config with ``changes`` to its gridworld section, written to ``run``."""
    config = yaml.safe_load(yaml.safe_dump(SMOKE))
    config["gridworld"].update(changes)
    path = run / "changed.yaml"
    path.write_text(yaml.safe_dump(config))  # sorted keys: the key order must not matter
    return path


# ---------------------------------------------------------------------------------------------
# Interruption
# ---------------------------------------------------------------------------------------------


def start_pipeline(workdir: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    cmd += ["--directory", str(workdir), "--configfile", str(SMOKE_CONFIG), "--cores", "2"]
    return subprocess.Popen(
        cmd,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: SIGKILL reaches every job too
    )


def test_sigkill_mid_training_then_rerun_equals_uninterrupted(smoke_run, tmp_path):
    pipeline = start_pipeline(tmp_path)
    train_logs = tmp_path / "results/_smoke/logs/gridworld/train"
    deadline = time.monotonic() + 120
    try:
        while not (train_logs.exists() and any(train_logs.rglob("*.log"))):
            assert pipeline.poll() is None, "the pipeline ended before training started"
            assert time.monotonic() < deadline, "training never started"
            time.sleep(0.02)
    finally:
        os.killpg(pipeline.pid, signal.SIGKILL)  # the pipeline and every job it started
        pipeline.wait()

    # Killed in the middle of training, and every file it left is complete or absent.
    assert len(run_csvs(tmp_path)) < N_RUNS
    assert_complete_or_absent(tmp_path, smoke_run)

    # Snakemake's lock outlives a SIGKILL: the rerun asks for --unlock, then resumes.
    locked = run_snakemake(tmp_path, "--cores", "2")
    assert locked.returncode != 0 and "--unlock" in output(locked)
    assert run_snakemake(tmp_path, "--unlock").returncode == 0
    rerun = run_snakemake(tmp_path, "--cores", "2")
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    assert result_csvs(tmp_path) == result_csvs(smoke_run)
    assert len(run_csvs(tmp_path)) == N_RUNS
    assert not temporaries(tmp_path), "temporary files of the killed jobs were left behind"


# ---------------------------------------------------------------------------------------------
# Corrupted datasets
# ---------------------------------------------------------------------------------------------


def truncate(path: Path) -> None:
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])


def scramble(path: Path) -> None:
    """Overwrite bytes in the middle of the compressed arrays: the zip directory is intact."""
    content = bytearray(path.read_bytes())
    middle = len(content) // 3
    content[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(content))


def break_metadata(path: Path) -> None:
    data.metadata_path(path).write_text('{"env": "gridworld", "n_traj')


#: Three datasets, each broken its own way, in one run: (dataset, how, the file named, problem).
#: Two are gridworld datasets of N = 10, one a minigolf dataset.
CORRUPTIONS = [
    (DATASET, truncate, DATASET, "unreadable dataset, truncated or corrupted"),
    (
        DATASET.replace("gridworld/data/N10_seed0", "minigolf/data/N10_seed1"),
        scramble,
        DATASET.replace("gridworld/data/N10_seed0", "minigolf/data/N10_seed1"),
        "unreadable dataset, truncated or corrupted",
    ),
    (
        DATASET.replace("seed0", "seed1"),
        break_metadata,
        DATASET.replace("seed0", "seed1").replace(".npz", ".json"),
        "unreadable metadata",
    ),
]
#: Every training rule (the gridworld and minigolf train every seed of an (algorithm, N) at once).
TRAIN_RULES = ("train", "train_gridworld", "train_minigolf")


def test_corrupted_datasets_fail_naming_each_file(smoke_run, tmp_path):
    """A truncated, a scrambled and a dataset with broken metadata, in one run: each fails the
    jobs that read it (a seed-batched job checks all its datasets first and names each broken
    one), naming the file and the command that rebuilds it; the other runs are redone; and the
    commands rebuild exactly the smoke run."""
    run = copy_run(smoke_run, tmp_path / "run")
    for dataset, corrupt, _, _ in CORRUPTIONS:
        corrupt(run / dataset)
    retrain = ("--cores", "2", "--forcerun", *TRAIN_RULES, "--keep-going")
    failed = run_snakemake(run, *retrain)
    assert failed.returncode != 0
    for dataset, _, named, problem in CORRUPTIONS:
        assert f"{named}: {problem}" in output(failed)
        command = f"snakemake --forcerun {dataset}"
        assert f"rebuild it and everything computed from it with: {command}" in output(failed)
        # The runs of the broken dataset are gone, not half-written.
        stem = Path(dataset).stem
        assert not list((run / "results/_smoke").glob(f"*/runs/*/{stem}.csv")), stem
    # Every other run was redone: the gridworld's of N = 50 (its N = 10 jobs read a broken
    # dataset each).
    assert len(run_csvs(run)) == N_RUNS - len(GRID["algorithms"]) * GRID["seeds"]
    assert all("N50_" in path.name for path in run_csvs(run))
    assert_complete_or_absent(run, smoke_run, broken=[d for d, *_ in CORRUPTIONS])
    assert not temporaries(run)

    # The commands of the messages, in one, rebuild the datasets and everything computed from them.
    fixed = run_snakemake(run, "--cores", "2", "--forcerun", *[d for d, *_ in CORRUPTIONS])
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert result_csvs(run) == result_csvs(smoke_run)
    assert "Nothing to be done" in output(run_snakemake(run, "--dry-run"))


def test_a_run_file_deleted_by_hand_is_named_with_the_command_that_rebuilds_it(smoke_run, tmp_path):
    """Snakemake keeps the outputs computed from a deleted intermediate file (they are current);
    the workflow says which file is gone and how to rebuild it and everything downstream."""
    run = copy_run(smoke_run, tmp_path / "run")
    deleted = run_csvs(run)[0]
    name = deleted.relative_to(run).as_posix()
    deleted.unlink()
    planned = run_snakemake(run, "--dry-run")
    assert planned.returncode == 0 and "Nothing to be done" in output(planned)
    command = f"snakemake --forcerun {name}"
    assert "1 intermediate file(s) built here are missing" in output(planned)
    assert command in output(planned)
    fixed = run_snakemake(run, "--cores", "2", *command.split()[1:])
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert deleted.is_file() and result_csvs(run) == result_csvs(smoke_run)
    # Everything downstream reran: the aggregate is newer than the rebuilt run.
    curves = run / "results/_smoke/gridworld/curves.csv"
    assert curves.stat().st_mtime_ns >= deleted.stat().st_mtime_ns
    assert "missing" not in output(run_snakemake(run, "--dry-run"))


# ---------------------------------------------------------------------------------------------
# Stale datasets: the config changed after they were built
# ---------------------------------------------------------------------------------------------


def test_config_change_rebuilds_stale_datasets(smoke_run, tmp_path):
    run = copy_run(smoke_run, tmp_path / "run")
    config = with_config(run, horizon=15)
    result = run_snakemake(run, "--cores", "2", configfile=config)
    assert result.returncode == 0, result.stderr[-3000:]
    # The datasets' stamp (gamps.provenance) has a new version: the reason Snakemake gives.
    assert "Updated input files: results/_smoke/.stamps/collect_dataset-gridworld/" in output(
        result
    )
    changed = yaml.safe_load(config.read_text())["gridworld"]
    for seed in range(GRID["seeds"]):
        for n in GRID["n_trajectories"]:
            path = run / f"results/_smoke/gridworld/data/N{n}_seed{seed}.npz"
            expected = experiment.dataset_metadata("gridworld", changed, n, seed)
            stored = data.load(path, expect=expected)  # rebuilt with the new horizon
            fresh = experiment.collect_dataset("gridworld", changed, n, seed)
            assert stored.horizon == 15
            for name in data.ARRAYS:
                np.testing.assert_array_equal(getattr(stored, name), getattr(fresh, name))
    before, after = result_csvs(smoke_run), result_csvs(run)
    assert before.keys() == after.keys()
    gridworld_runs = [rel for rel in before if rel.parts[2:4] == ("gridworld", "runs")]
    assert gridworld_runs
    assert all(after[rel] != before[rel] for rel in gridworld_runs)
    # Other environments' outputs do not depend on the gridworld's horizon (the report's
    # claims.csv, which gathers every environment, does).
    others = [
        rel
        for rel in before
        if rel.parts[2] in ("minigolf", "swimmer")
        or (rel.parts[2] == "tables" and not rel.name.startswith("gridworld"))
    ]
    assert len(others) > 10
    assert all(after[rel] == before[rel] for rel in others)


def test_step_size_change_retrains_without_recollecting(smoke_run, tmp_path):
    run = copy_run(smoke_run, tmp_path / "run")
    config = with_config(run, step_size=0.5)
    plan = run_snakemake(run, "--dry-run", "--quiet", "rules", configfile=config)
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = dict(re.findall(r"^(\w+) +(\d+)$", plan.stdout, re.MULTILINE))  # the job stats
    assert counts.get("train_gridworld") == str(
        len(GRID["algorithms"]) * len(GRID["n_trajectories"])
    )
    assert not [rule for rule in counts if rule.startswith("collect_dataset")]


def test_config_change_is_seen_without_snakemake_records(smoke_run, tmp_path):
    """With .snakemake/ lost, the stamps (gamps.provenance) still see that the config changed:
    the datasets are rebuilt with the new horizon."""
    run = copy_run(smoke_run, tmp_path / "run")
    shutil.rmtree(run / ".snakemake")
    config = with_config(run, horizon=15)
    result = run_snakemake(run, "--cores", "2", configfile=config)
    assert result.returncode == 0, result.stderr[-3000:]
    assert data.load(run / DATASET).horizon == 15


def test_a_dataset_that_does_not_match_the_config_is_rejected(smoke_run, tmp_path):
    """Should a stale dataset reach a job anyway (here: the gridworld's datasets replaced by hand
    with ones of another horizon, which no stamp sees), its own metadata stops every job that
    reads it, in training and in Figure 1, and the message names the file."""
    run = copy_run(smoke_run, tmp_path / "run")
    other = {**GRID, "horizon": 15}
    for seed in range(GRID["seeds"]):
        for n in GRID["n_trajectories"]:
            path = run / f"results/_smoke/gridworld/data/N{n}_seed{seed}.npz"
            data.save(experiment.collect_dataset("gridworld", other, n, seed), path)
    forced = ("--forcerun", "train", "gridworld_weights", "--keep-going")
    result = run_snakemake(run, "--cores", "2", *forced)
    assert result.returncode != 0
    stale = ": stale dataset, its metadata does not match the config: domain.horizon is 15 but"
    assert f"{DATASET}{stale} the config asks for 20" in output(result)
    figure1_data = f"results/_smoke/gridworld/data/N{GRID['figure1_trajectories']}_seed0.npz"
    assert f"{figure1_data}{stale} the config asks for 20" in output(result)
    assert not run_csvs(run) and not (run / "results/_smoke/gridworld/fig1_weights.csv").exists()
    for rel, content in result_csvs(run).items():  # what is left is complete
        assert content == (smoke_run / rel).read_bytes(), rel
    assert not temporaries(run)
