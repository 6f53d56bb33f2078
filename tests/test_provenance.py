"""What each output is computed from (gamps.provenance): the code a script runs, the stamps, the
committed record, a fresh clone's adoption of the committed results, and missing intermediates.
The pipeline tier checks, in a fresh clone of the repository, that one figure is redrawn without
recomputing anything, that a toy run leaves the committed files alone, and that a code change
reruns what it affects and only that."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures import AFTER_GRIDWORLD_SETTINGS, ROOT

from gamps import provenance, settings
from gamps.domains import DOMAIN_KEYS

CONFIG = settings.load_config(ROOT / "config/config.yaml")
SMOKE = settings.load_config(ROOT / "config/config.yaml", ROOT / "config/smoke.yaml")
SCRIPTS = ROOT / "workflow/scripts"
GAMPS = provenance.PACKAGE


def labels(paths) -> set[str]:
    return {
        path.relative_to(GAMPS.parent).as_posix() for path in paths if path.is_relative_to(GAMPS)
    }


# ---------------------------------------------------------------------------------------------
# The code a script runs
# ---------------------------------------------------------------------------------------------


def test_code_of_training_follows_imports_and_leaves_out_other_environments():
    gridworld = labels(provenance.code_files(SCRIPTS / "train.py", ("gridworld",)))
    assert {
        "gamps/__init__.py",
        "gamps/algorithms.py",
        "gamps/gradients.py",
        "gamps/weights.py",
        "gamps/domains/__init__.py",
        "gamps/domains/gridworld/model.py",
    } <= gridworld
    assert not any(
        name.startswith(("gamps/domains/swimmer", "gamps/domains/minigolf")) for name in gridworld
    )
    assert "gamps/analysis/plots.py" not in gridworld
    # The swimmer's model and fused rollouts are imported inside functions (torch loads lazily).
    swimmer = labels(provenance.code_files(SCRIPTS / "train.py", ("swimmer",)))
    assert {"gamps/domains/swimmer/model.py", "gamps/domains/swimmer/rollouts.py"} <= swimmer
    assert SCRIPTS / "train.py" in provenance.code_files(SCRIPTS / "train.py")


def test_relative_imports_are_resolved(tmp_path):
    """``from .model import X`` in a subpackage and ``from . import io`` at the top."""
    found = labels(provenance._imports(GAMPS / "domains/swimmer/domain.py"))
    assert "gamps/domains/swimmer/model.py" in found
    assert "gamps/domains/swimmer/__init__.py" in found
    top = labels(provenance._imports(GAMPS / "analysis/plots.py"))
    assert "gamps/io.py" in top


def test_figures_do_not_depend_on_the_training_code_they_do_not_run():
    figure = labels(provenance.code_files(SCRIPTS / "figure2.py", ("gridworld",)))
    assert "gamps/analysis/plots.py" in figure
    assert "gamps/domains/swimmer/model.py" not in figure


# ---------------------------------------------------------------------------------------------
# Stamps and the record
# ---------------------------------------------------------------------------------------------


def changed_stamps(section: str, **values) -> set[str]:
    config = copy.deepcopy(SMOKE)
    config[section].update(values)
    before, after = provenance.stamps(SMOKE, ROOT), provenance.stamps(config, ROOT)
    assert before.keys() == after.keys()
    return {name for name in before if before[name] != after[name]}


def test_a_setting_changes_the_stamps_of_its_rules_and_of_everything_downstream():
    assert changed_stamps("gridworld", step_size=0.5) == AFTER_GRIDWORLD_SETTINGS
    assert changed_stamps("gridworld", figure1_actions=["up", "left"]) == {"figure1", "provenance"}
    assert "collect_dataset-minigolf" in changed_stamps("minigolf", horizon=9)
    assert not changed_stamps("gridworld", seeds=7)  # new jobs, not changed ones


def test_stamps_are_canonical_json_naming_code_settings_and_upstream():
    texts = provenance.stamps(SMOKE, ROOT)
    assert set(texts) == {
        *(
            f"{rule}-{env}"
            for rule in provenance.PER_ENV
            for env in ("gridworld", "minigolf", "swimmer")
        ),
        *(rule for rule in provenance.UPSTREAM if rule not in provenance.PER_ENV),
    }
    train = json.loads(texts["train-gridworld"])
    assert set(train) == {"code", "settings", "upstream"}
    assert train["settings"] == settings.rule_params("train", SMOKE, "gridworld")
    assert train["upstream"] == {
        "collect_dataset-gridworld": provenance._digest(texts["collect_dataset-gridworld"].encode())
    }
    assert train["code"]["workflow/scripts/train.py"] == provenance._digest(
        (SCRIPTS / "train.py").read_bytes()
    )
    report = json.loads(texts["replication_report"])
    assert {f"aggregate-{env}" for env in ("gridworld", "minigolf", "swimmer")} <= set(
        report["upstream"]
    )


def test_upstream_is_the_rule_graph_of_the_workflow(tmp_path):
    """UPSTREAM (with UPSTREAM_OF_ENV), which makes stamps transitive, is Snakemake's rule graph
    (without the stamp jobs and the targets that only gather files). The readings' own rules
    (``{reading}__{rule}``) are stamped in their roots, as their modules' rule graphs."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    cmd += ["--configfile", str(ROOT / "config/smoke.yaml"), "--rulegraph", "--forceall"]
    cmd += ["all", "tuning", "robustness"]
    dot = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    # A seed-batched environment's rule (``train_gridworld``) is stamped as its rule (``train``).
    suffix = re.compile(rf"_({'|'.join(DOMAIN_KEYS)})$")
    labels = re.findall(r'^\s*(\d+)\[label = "(\w+)"', dot, re.MULTILINE)
    names = {node: suffix.sub("", label) for node, label in labels}
    edges = {(names[a], names[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.MULTILINE)}
    upstream = [*provenance.UPSTREAM.items(), *provenance.UPSTREAM_OF_ENV.items()]
    ours = {
        (pattern.partition("-")[0], rule if isinstance(rule, str) else rule[0])
        for rule, patterns in upstream
        for pattern in patterns
    }
    gathering = {"all", "fig1", "fig2", "fig3", "fig4", "replication", "stamp", "tuning"}
    gathering.add("robustness")
    theirs = {(a, b) for a, b in edges if not {a, b} & gathering and "__" not in a + b}
    assert theirs == ours
    readings = {(a.split("__")[1], b.split("__")[1]) for a, b in edges if "__" in a and "__" in b}
    assert readings and readings <= ours


def test_committed_record_is_current():
    """results/provenance.json is what the code and config of this commit would record: a change
    of code or settings is committed with the results it produces (run `snakemake`)."""
    recorded = json.loads((ROOT / "results/provenance.json").read_text())
    texts = provenance.stamps(CONFIG, ROOT)
    stale = provenance.differences(recorded, texts)
    assert not stale, "committed results are stale; run `snakemake` and commit:\n" + "\n".join(
        stale
    )
    assert (ROOT / "results/provenance.json").read_text() == provenance.record(texts)


def test_a_stamp_version_is_written_once_and_pruned_by_a_real_run(tmp_path):
    first = provenance.write_stamp(tmp_path, "train-gridworld", "a\n")
    os.utime(first, (1, 1))
    assert provenance.write_stamp(tmp_path, "train-gridworld", "a\n") == first
    assert first.stat().st_mtime == 1  # an existing version keeps its time
    second = provenance.write_stamp(tmp_path, "train-gridworld", "b\n")
    assert second == provenance.stamp_path(tmp_path, "train-gridworld", "b\n") != first
    assert first.is_file() and second.read_text() == "b\n"  # a dry run keeps the old version
    provenance.prune_stamps(tmp_path, {"train-gridworld": "b\n"})
    assert list((tmp_path / "train-gridworld").iterdir()) == [second]


# ---------------------------------------------------------------------------------------------
# Adoption of the committed results (a small repository)
# ---------------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
    }
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


def stamp_text(**settings_) -> str:
    return json.dumps({"code": {}, "settings": settings_, "upstream": {}}, sort_keys=True) + "\n"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository with committed results: an output and the record of two stamps."""
    texts = {"train-gridworld": stamp_text(step_size=1.0), "figure2": stamp_text(note="")}
    (tmp_path / "results/gridworld").mkdir(parents=True)
    (tmp_path / "results/gridworld/curves.csv").write_text("x\n1\n")
    (tmp_path / "results/provenance.json").write_text(provenance.record(texts))
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "results")
    old = 1_000_000_000
    for path in (tmp_path / "results").rglob("*"):
        os.utime(path, (old, old))
    monkeypatch.chdir(tmp_path)
    return tmp_path, texts


def test_adoption_dates_committed_outputs_and_matching_stamps_alike(repo):
    root, texts = repo
    changed = {**texts, "figure2": stamp_text(note="toy")}
    message = provenance.adopt(changed, "results", "results/.stamps", ".snakemake/adopted")
    assert "Using the committed results in results/" in message
    assert "figure2: settings changed" in message and "train-gridworld" not in message
    curves = (root / "results/gridworld/curves.csv").stat().st_mtime
    kept = provenance.stamp_path("results/.stamps", "train-gridworld", texts["train-gridworld"])
    assert kept.stat().st_mtime == curves > 1_000_000_000
    # A stamp that differs from the record is newer than the outputs: its jobs rerun.
    newer = provenance.stamp_path("results/.stamps", "figure2", changed["figure2"])
    assert newer.stat().st_mtime > curves
    # Once per commit.
    assert provenance.adopt(changed, "results", "results/.stamps", ".snakemake/adopted") == ""


def test_roots_adopted_by_one_invocation_share_its_time(repo):
    """The main root and a reading's root (a subfolder of it) adopted in one process get one
    time, so the reading's committed files are not newer than the main root's outputs that read
    them (else a fresh clone would redo the gathering of `snakemake robustness`)."""
    root, texts = repo
    reading = root / "results/robustness/walled"
    reading.mkdir(parents=True)
    (reading / "claims.csv").write_text("claim\n2\n")
    (reading / "provenance.json").write_text(provenance.record(texts))
    (root / "results/robustness/verdicts.csv").write_text("reading\nwalled\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "readings")
    now = provenance.invocation_time()
    assert provenance.invocation_time() == now  # one per process
    for results, marker in (("results", "main"), ("results/robustness/walled", "walled")):
        stamps = f"{results}/.stamps"
        assert provenance.adopt(texts, results, stamps, f".snakemake/{marker}")
    times = {
        p.stat().st_mtime
        for p in (reading / "claims.csv", root / "results/robustness/verdicts.csv")
    }
    assert times == {now}


def test_no_adoption_when_a_committed_output_was_changed(repo):
    root, texts = repo
    (root / "results/gridworld/curves.csv").write_text("x\n2\n")
    assert provenance.adopt(texts, "results", "results/.stamps", ".snakemake/adopted") == ""
    assert not (root / "results/.stamps").exists()


def test_no_adoption_outside_a_repository_or_of_an_untracked_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert provenance.adopt({}, "results", "results/.stamps", ".snakemake/adopted") == ""


# ---------------------------------------------------------------------------------------------
# Intermediate files deleted by hand
# ---------------------------------------------------------------------------------------------


def test_missing_intermediates_names_only_files_built_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    metadata = tmp_path / ".snakemake/metadata"
    metadata.mkdir(parents=True)
    built, never, present = "r/a/runs/x.csv", "r/a/runs/y.csv", "r/a/runs/z.csv"
    for path in (built, present):
        (metadata / base64.urlsafe_b64encode(path.encode()).decode()).write_text("{}")
    Path(present).parent.mkdir(parents=True)
    Path(present).write_text("1")
    note = provenance.missing_intermediates([built, never, present], metadata)
    assert note.startswith("1 intermediate file(s) built here are missing")
    assert note.endswith(f"snakemake --forcerun {built}\n")
    assert provenance.missing_intermediates([never, present], metadata) == ""


# ---------------------------------------------------------------------------------------------
# A fresh clone (pipeline tier)
# ---------------------------------------------------------------------------------------------

pipeline = pytest.mark.pipeline


def clone_snakemake(clone: Path, *args: str) -> subprocess.CompletedProcess:
    """Snakemake as a user runs it in ``clone``, with the clone's own package."""
    env = {**os.environ, "PYTHONPATH": str(clone / "src")}
    cmd = [sys.executable, "-m", "snakemake", *args]
    return subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True)


def planned(clone: Path, *args: str) -> dict[str, int]:
    """The job counts of a dry run, by rule."""
    result = clone_snakemake(clone, "--dry-run", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout + result.stderr
    stats = re.search(r"^Job stats:\n.*?\n-+ +-+\n(.*?)^total", text, re.M | re.S)
    if stats is None:
        assert "Nothing to be done" in text
        return {}
    return {rule: int(count) for rule, count in re.findall(r"^(\w+) +(\d+)$", stats[1], re.M)}


def planned_after_edit(clone: Path, name: str) -> dict[str, int]:
    """The dry run after appending a comment to file ``name`` of the clone (then restored, with
    its time: Snakemake reruns a rule whose script is newer than its outputs)."""
    path = clone / name
    original, stat = path.read_bytes(), path.stat()
    path.write_bytes(original + b"\n# an edit\n")
    try:
        return planned(clone)
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def git_status(clone: Path) -> str:
    return git(clone, "status", "--porcelain")


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A fresh clone of the repository's committed state."""
    path = tmp_path_factory.mktemp("clone") / "gamps"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True)
    return path


@pipeline
def test_fresh_clone_redraws_a_figure_from_the_committed_tables(clone):
    assert planned(clone, "fig3") == {"figure3": 1, "fig3": 1}
    result = clone_snakemake(clone, "fig3", "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert git_status(clone) == ""  # the figure's bytes are the committed ones
    # The whole default target: only the other figures and the record; nothing is recomputed.
    assert set(planned(clone)) == {"figure1", "figure2", "figure4", "provenance", "all"}
    result = clone_snakemake(clone, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert git_status(clone) == "" and planned(clone) == {}


@pipeline
def test_code_changes_rerun_what_they_affect_and_only_that(clone):
    """Dry runs after editing a module (reverted after each: a dry run writes nothing)."""
    assert clone_snakemake(clone, "--cores", "2").returncode == 0
    figures = {"figure1": 1, "figure2": 1, "figure3": 1, "figure4": 1}
    cases = {
        "src/gamps/analysis/plots.py": {**figures, "provenance": 1, "all": 1},
        "src/gamps/analysis/report.py": {"replication_report": 1, "provenance": 1, "all": 1},
        "workflow/scripts/figure2.py": {"figure2": 1, "provenance": 1, "all": 1},
    }
    for name, expected in cases.items():
        plan = planned_after_edit(clone, name)
        assert plan == expected, name
    # The estimators: every training job and everything after it.
    plan = planned_after_edit(clone, "src/gamps/gradients.py")
    # The swimmer's runs one job a seed, the others' every seed of an (algorithm, N) at once.
    jobs = {
        env: len(CONFIG[env]["algorithms"]) * len(CONFIG[env]["n_trajectories"])
        for env in ("gridworld", "minigolf", "swimmer")
    }
    assert plan["train"] == jobs["swimmer"] * CONFIG["swimmer"]["seeds"]
    assert plan["train_gridworld"] == jobs["gridworld"]
    assert plan["train_minigolf"] == jobs["minigolf"]
    assert plan["aggregate"] == 3 and plan["replication_report"] == 1
    # Reverted: nothing to do (the dry runs added new stamp versions, and kept the old ones).
    assert planned(clone) == {}


@pipeline
def test_a_toy_run_in_a_fresh_clone_leaves_every_committed_file_alone(clone):
    result = clone_snakemake(clone, "--configfile", "config/smoke.yaml", "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert git_status(clone) == ""
    assert (
        (clone / "results/_smoke/REPORT.md")
        .read_text()
        .startswith("# GAMPS replication report\n\n> **TOY SCALE")
    )
    assert (clone / "paper_figures/_smoke/fig2.pdf").is_file()
    shutil.rmtree(clone / "results/_smoke")
