"""The smoke pipeline on a real single-node SLURM cluster, through ``profiles/slurm``: every job is
an sbatch submission, and the outputs equal those of the local run, byte for byte.

Needs root and apt-get (it installs Debian's munge, slurmctld, slurmd and slurm-client and starts
the daemons); skipped with the reason otherwise. Deselect it with ``-m "not slurm"``.

The executor plugin is the ``slurm`` extra of pyproject.toml. It is installed into a throwaway
virtual environment that sees this interpreter's packages, never into the test environment itself:
there its import would probe for a cluster at every ``snakemake`` start of the other tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
from pathlib import Path

import pytest
from fixtures import ROOT, SMOKE_CONFIG, result_csvs, run_snakemake
from slurm_cluster import SlurmCluster, apt_install, missing_tools


def planned_jobs(workdir) -> int:
    """Jobs of the smoke DAG that go to the cluster: all but the local target rule ``all``."""
    plan = run_snakemake(workdir, "--dry-run", "--quiet", "rules", "--cores", "1")
    assert plan.returncode == 0, plan.stderr[-2000:]
    return int(re.search(r"^total +(\d+)$", plan.stdout, re.MULTILINE).group(1)) - 1


#: This test cluster has no accounting database (no sacct) and no accounts.
CLUSTER_ARGS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks",
    "1",
)


def skip_reason() -> str | None:
    if not sys.platform.startswith("linux"):
        return "needs Linux to run a SLURM cluster"
    if os.geteuid() != 0:
        return "needs root: it installs Debian's SLURM packages and starts their daemons"
    if missing_tools() and shutil.which("apt-get") is None:
        return f"needs apt-get to install {', '.join(missing_tools())} (Debian's SLURM packages)"
    return None


@pytest.fixture(scope="module")
def slurm_python(tmp_path_factory) -> Path:
    """Python of a throwaway venv holding the ``slurm`` extra, on top of this interpreter's
    packages."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    venv = tmp_path_factory.mktemp("slurm-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin/python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    parents = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    lines = [f"import site; site.addsitedir({path!r})" for path in parents]
    (Path(site) / "gamps-test-parent.pth").write_text("\n".join(lines) + "\n")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extra = pyproject["project"]["optional-dependencies"]["slurm"]
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", *extra]
    subprocess.run(pip, check=True, timeout=300)
    return python


@pytest.fixture(scope="module")
def cluster(slurm_python, tmp_path_factory):
    if missing_tools():
        apt_install()
    still_missing = missing_tools()
    assert not still_missing, f"apt-get did not provide {still_missing}"
    slurm = SlurmCluster(tmp_path_factory.mktemp("slurm"), cpus=os.cpu_count() or 1)
    try:
        slurm.start()
        yield slurm
    finally:
        slurm.cancel_jobs()
        slurm.stop()


def job_logs(workdir: Path, tail: int = 30) -> str:
    parts = []
    for path in sorted((workdir / ".snakemake/slurm_logs").rglob("*.log")):
        lines = path.read_text(errors="replace").splitlines()[-tail:]
        parts.append(f"==> {path.relative_to(workdir)} <==\n" + "\n".join(lines))
    return "\n".join(parts)


@pytest.mark.slurm
@pytest.mark.pipeline
def test_smoke_pipeline_on_slurm_equals_local_run(slurm_python, cluster, smoke_run, tmp_path):
    (tmp_path / "plan").mkdir()
    n_jobs = planned_jobs(tmp_path / "plan")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cmd = [str(slurm_python), "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    cmd += ["--directory", str(run_dir), "--configfile", str(SMOKE_CONFIG)]
    cmd += ["--profile", str(ROOT / "profiles/slurm"), *CLUSTER_ARGS]
    start = time.monotonic()
    result = subprocess.run(
        cmd, cwd=run_dir, env=cluster.env, capture_output=True, text=True, timeout=600
    )
    elapsed = time.monotonic() - start
    report = f"{result.stderr[-4000:]}\n{cluster.logs()}\n{job_logs(run_dir)}"
    assert result.returncode == 0, report

    # Every job went through the cluster: submitted by the executor, completed by slurmctld.
    log = result.stdout + result.stderr
    assert log.count("has been submitted with SLURM jobid") == n_jobs, report
    assert cluster.completed_jobs() == n_jobs, report
    assert result_csvs(run_dir) == result_csvs(smoke_run)
    for name in ("fig1", "fig2", "fig3"):
        assert (run_dir / f"paper_figures/_smoke/{name}.pdf").stat().st_size > 5000
    print(f"{n_jobs} SLURM jobs in {elapsed:.1f} s")

    # The daemons end with the test: stopped by their own process ids.
    stopped = cluster.stop()
    assert len(stopped) == 3
    for pid in stopped:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_skip_reasons_are_explicit(monkeypatch):
    """Where the cluster cannot be set up, the test says why instead of passing silently."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "needs root" in skip_reason()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    reason = skip_reason()
    assert reason.startswith("needs apt-get to install munged, mungekey, slurmctld")
