"""Time the whole pipeline from an empty results folder, as a user would run it.

    python benchmarks/time_pipeline.py [--config config/config.yaml] [--cores 2] [--target all]
                                       [--in-place] [--record]

Runs the repository's Snakefile in a fresh temporary folder (``--in-place``: in the repository
itself, with ``--forceall``, which recomputes every output and its benchmark file) and prints
the wall time, then the jobs, summed wall and CPU time and peak memory per environment and stage
from the benchmark files the run wrote. ``--record`` keeps the wall time in
``{results}/benchmarks/full_run.json`` (the config's results root), where the replication
report's compute section reads it.
"""

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from gamps.analysis import tables
from gamps.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every benchmark file under ``folder`` (as ``tables.benchmark_files`` names it): its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.tsv")}


def uncommitted_code() -> bool:
    """Whether a tracked file outside the outputs (results/, paper_figures/) differs from HEAD."""
    status = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--", "."]
        + [":!results", ":!paper_figures"],
        capture_output=True,
        text=True,
    ).stdout
    return bool(status.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--cores", default="2")
    parser.add_argument("--target", default="all", help="a rule or file, e.g. fig3")
    parser.add_argument("--in-place", action="store_true", help="rerun everything in the repo")
    parser.add_argument("--record", action="store_true", help="write " + tables.FULL_RUN)
    args = parser.parse_args()
    results = yaml.safe_load((ROOT / args.config).read_text()).get("results", "results")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = ROOT if args.in_place else Path(tmp)
        cmd = [sys.executable, "-m", "snakemake", args.target]
        cmd += ["--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
        cmd += ["--configfile", str(ROOT / args.config), "--cores", args.cores]
        cmd += ["--quiet", "all"]  # quiet about everything (not a target)
        cmd += ["--forceall"] if args.in_place else []
        folder = workdir / results / "benchmarks"
        before = snapshot(folder)
        uncommitted = uncommitted_code()
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - start
        files = tables.benchmark_files(folder)
        # This run's files only: new or rewritten. Not by their times, which Snakemake's adoption
        # of committed results (gamps.provenance.adopt) moves to the run's start.
        after = snapshot(folder)
        ran = [after[name] != before.get(name) for name in files["file"]]
        cost = tables.compute_summary(files[ran])
    jobs, job_s, cpu_s = int(cost["jobs"].sum()), cost["seconds"].sum(), cost["cpu_seconds"].sum()
    print(
        f"config={args.config} cores={args.cores} target={args.target}: wall {wall:.1f} s, "
        f"{jobs} jobs, summed job time {job_s:.1f} s, CPU time {cpu_s:.1f} s, "
        f"peak job memory {cost['max_rss_mb'].max():.0f} MB"
    )
    print(cost.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    if args.record:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        record = {
            "commit": commit or "unknown",
            "date": datetime.date.today().isoformat(),
            "config": args.config,
            "target": args.target,
            # The commit alone names the code only if nothing outside the outputs was modified.
            "mode": ("in place, --forceall" if args.in_place else "empty folder")
            + (", uncommitted changes" if uncommitted else ""),
            "cores": int(args.cores),
            "wall_s": round(wall, 1),
            "jobs": jobs,
            "job_s": round(float(job_s), 1),
            "cpu_s": round(float(cpu_s), 1),
        }
        path = ROOT / results / "benchmarks" / tables.FULL_RUN
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(record, indent=1) + "\n")
        print(f"recorded in {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
