"""Time the whole pipeline from an empty results folder, as a user would run it.

    python benchmarks/time_pipeline.py [--config config/config.yaml] [--cores 2] [--target all]

Runs the repository's Snakefile in a fresh temporary folder and prints the wall time, the number
of jobs and the summed per-job times that Snakemake's benchmark files recorded.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--cores", default="2")
    parser.add_argument("--target", default="all", help="a rule or file, e.g. fig3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            args.target,
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            workdir,
            "--configfile",
            str(ROOT / args.config),
            "--cores",
            args.cores,
            "--quiet",
            "all",
        ]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - start
        tables = [pd.read_csv(p, sep="\t") for p in Path(workdir).rglob("benchmarks/**/*.tsv")]
        job_seconds = sum(t["s"].sum() for t in tables)
        peak_mb = max(t["max_rss"].max() for t in tables)
    print(
        f"config={args.config} cores={args.cores}: wall {wall:.1f} s, {len(tables)} jobs, "
        f"summed job time {job_seconds:.1f} s, peak job memory {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
