"""Shared fixtures of the unit tests: the gridworld domain, its exact MDP, seeded policies and a
dataset of pi_b; and a finished smoke run of the pipeline. Plain helpers shared by several test
files (pipeline runners, reference estimators, toy MDPs, tolerances) are in fixtures.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from fixtures import run_snakemake

from gamps.data import TrajectoryBatch
from gamps.domains.gridworld import GridworldDomain
from gamps.domains.gridworld import dynamics as gw
from gamps.policies import BoltzmannPolicy

#: The slow tiers: they run the pipeline, the CI-scale replication, a real SLURM cluster or long
#: reference fits of the Swimmer model.
SLOW_MARKS = ("pipeline", "replication", "slurm", "convergence")


def pytest_addoption(parser):
    parser.addoption(
        "--full",
        action="store_true",
        help="also run the tests marked " + ", ".join(SLOW_MARKS) + " (what CI runs)",
    )


#: The files that start first (pyproject's addopts keep this order for pytest-xdist): the SLURM
#: test mostly waits on the cluster's queue and the CI-scale replication is the longest run, so
#: each overlaps the other worker's tests.
FIRST = ("test_slurm.py", "test_replication.py", "test_swimmer_fit.py")


def _start_order(item) -> int:
    name = item.path.name
    return FIRST.index(name) if name in FIRST else len(FIRST)


def pytest_collection_modifyitems(config, items):
    """Plain ``pytest`` runs the fast tier; ``--full`` or an explicit ``-m`` runs what it asks,
    the ``FIRST`` files first."""
    items.sort(key=_start_order)  # stable: every other file keeps its place
    if config.getoption("--full") or config.getoption("markexpr"):
        return
    slow = [any(item.get_closest_marker(m) for m in SLOW_MARKS) for item in items]
    if any(slow):
        config.hook.pytest_deselected(items=[i for i, s in zip(items, slow, strict=True) if s])
        items[:] = [i for i, s in zip(items, slow, strict=True) if not s]


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, worker_id) -> Path:
    """A complete, uninterrupted smoke run on 2 cores: the reference of the pipeline tests.
    Read-only: a test that changes files works on a copy (``copy_run``). Under pytest-xdist the
    workers share one: the first to need it builds it, under a file lock."""
    if worker_id == "master":
        workdir = tmp_path_factory.mktemp("smoke")
        _build_smoke_run(workdir)
        return workdir
    workdir = tmp_path_factory.getbasetemp().parent / "smoke"  # the session's, every worker's
    with FileLock(f"{workdir}.lock"):
        if not (workdir / ".complete").is_file():
            shutil.rmtree(workdir, ignore_errors=True)  # a build that failed on another worker
            workdir.mkdir()
            _build_smoke_run(workdir)
            (workdir / ".complete").touch()
    return workdir


def _build_smoke_run(workdir: Path) -> None:
    result = run_snakemake(workdir, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]


#: Fixed seeds: every statistical test below is deterministic, and its tolerance is still derived
#: from the Monte Carlo error so that it would hold for (almost) any seed.
BEHAVIOUR_SEED = 20200207
GENERIC_SEED = 7


@pytest.fixture(scope="session")
def domain() -> GridworldDomain:
    return GridworldDomain(gamma=0.9, horizon=20)


@pytest.fixture(scope="session")
def mdp(domain):
    return domain.mdp


@pytest.fixture(scope="session")
def policy() -> BoltzmannPolicy:
    return BoltzmannPolicy(gw.N_STATES, len(gw.ACTIONS))


@pytest.fixture(scope="session")
def behaviour_theta(domain) -> np.ndarray:
    """The paper's pi_b (Section 7.1): N(0, 1) logits in the upper area, logit 12 on one action of
    every lower cell."""
    return domain.behaviour_parameters(np.random.default_rng(BEHAVIOUR_SEED))


@pytest.fixture(scope="session")
def generic_theta() -> np.ndarray:
    """A well-conditioned policy (all logits N(0, 1)): every action has non-negligible probability
    everywhere, so Monte Carlo errors of gradient estimates are not dominated by rare events."""
    return np.random.default_rng(GENERIC_SEED).normal(size=gw.N_STATES * len(gw.ACTIONS))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def batch(domain, behaviour_theta, rng) -> TrajectoryBatch:
    """300 trajectories of pi_b in the gridworld, with metadata (test_data, test_gridworld). A
    test file may define its own ``batch``, which then takes precedence (test_algorithms)."""
    b = domain.collect(behaviour_theta, 300, rng)
    return TrajectoryBatch(
        b.states,
        b.actions,
        b.rewards,
        b.mask,
        b.behaviour_log_prob,
        meta={"seed": 1, "n": 300, "env": "gridworld", "gamma": 0.9},
    )
