"""What a job pays to start: the imports of each per-seed script against its jobs' median time.

    python benchmarks/startup.py [--results results] [--repeat 5]

For each script of a per-seed stage (the stages with many short jobs), runs a fresh interpreter
that executes only the script's top-level imports, ``--repeat`` times, and prints the median
wall time beside the median wall time of that stage's jobs in the benchmark files (per
environment) and their ratio. Each job also runs Snakemake's script preamble (it unpickles
the job's ``snakemake`` object and imports Snakemake's logger), which is counted with the
script's imports; a bare interpreter and the preamble alone are the first rows. Run it on an
idle machine: the numbers are wall times.
"""

import argparse
import ast
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from gamps.analysis import tables

ROOT = Path(__file__).resolve().parents[1]
#: Per-seed stages (benchmark folder) and the script their jobs run.
STAGES = {
    "collect": "collect_dataset.py",
    "train": "train.py",
    "tune": "tune.py",
    "gradient_bias": "gradient_bias.py",
    "gradient_used": "gradient_used.py",
    "gradient_check": "gradient_check.py",
}


#: What Snakemake's preamble of a Python script imports.
PREAMBLE = (
    "import pickle\nimport snakemake.io\nfrom snakemake.logging import logger\n"
    "from snakemake.iocontainers import Snakemake"
)


def imports_of(script: Path) -> str:
    """The script's top-level import statements, as source."""
    tree = ast.parse(script.read_text())
    nodes = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    return "\n".join(ast.unparse(node) for node in nodes) or "pass"


def median_seconds(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def job_medians(benchmarks: Path, stage: str) -> dict[str, float]:
    """Median wall seconds of the stage's jobs, per environment."""
    files = tables.benchmark_files(benchmarks)
    return files[files["stage"] == stage].groupby("env")["seconds"].median().to_dict()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    benchmarks = ROOT / args.results / "benchmarks"
    rows = [
        {"script": "(python -c pass)", "imports_s": median_seconds("pass", args.repeat)},
        {"script": "(preamble)", "imports_s": median_seconds(PREAMBLE, args.repeat)},
    ]
    for stage, script in STAGES.items():
        code = PREAMBLE + "\n" + imports_of(ROOT / "workflow/scripts" / script)
        cost = median_seconds(code, args.repeat)
        medians = job_medians(benchmarks, stage) or {"-": float("nan")}
        for env, job in medians.items():
            rows.append(
                {"script": script, "env": env, "imports_s": cost, "median_job_s": job}
                | {"imports_share": cost / job}
            )
    table = pd.DataFrame(rows).fillna({"env": ""})
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))


if __name__ == "__main__":
    main()
