"""The cost of a full run per stage, from the benchmark files kept with the results.

    python benchmarks/stage_cost.py [--results results] [--before REV] [--detail]

Prints, for each part of a full run (``default``: `snakemake`, ``tuning``: `snakemake tuning`,
``robustness``: `snakemake robustness`) and each environment and stage: jobs, summed wall and
CPU seconds of the jobs and the peak memory of any job (``tables.run_cost``). ``--before REV``
puts the same numbers of the results committed at git revision REV beside them. ``--detail``
splits the robustness part by reading. Last, what one more seed costs in each environment of
the default target: the summed wall and CPU seconds of the stages that grow with the seeds
(datasets, training, diagnostics) divided by the seeds (``--config``'s), that divided by 2 cores
as a wall-time estimate, and the job time that adding a seed reruns (the new seed's jobs and the
seed-batched ones, which run every seed).
"""

import argparse
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import pandas as pd
import yaml

from gamps.analysis import tables

ROOT = Path(__file__).resolve().parents[1]
KEYS = ["part", "env", "stage"]


def committed(rev: str, results: str, into: Path) -> Path:
    """The results folder of git revision ``rev``, unpacked into ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, results], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / results


def summary(cost: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return cost.groupby(keys, sort=False).agg(
        jobs=("jobs", "sum"),
        wall_s=("seconds", "sum"),
        cpu_s=("cpu_seconds", "sum"),
        peak_mb=("max_rss_mb", "max"),
    )


#: The stages of the default target whose work grows with the seeds: one job a seed, or (for a
#: seed-batched environment) every seed in one job.
SEED_STAGES = ("collect", "train", "gradient_check", "gradient_bias", "gradient_used")


def seed_cost(benchmarks: Path, seeds: dict[str, int]) -> pd.DataFrame:
    """Per environment (``seeds``: its seed count): the wall and CPU seconds per seed of the
    stages that grow with the seeds (``SEED_STAGES``), and ``rerun_s``, the job time of what one
    more seed runs: the new seed's own jobs, and every seed-batched job (which reruns its old
    seeds, byte-identical, with the new one)."""
    files = tables.benchmark_files(benchmarks)
    files = files[files["stage"].isin(SEED_STAGES) & files["env"].isin(list(seeds))]
    files = files.assign(batched=~files["file"].str.contains(r"seed\d+\.tsv$"))
    out = files.groupby("env").agg(wall_s=("seconds", "sum"), cpu_s=("cpu_seconds", "sum"))
    out.insert(0, "seeds", [seeds[env] for env in out.index])
    batched = files[files["batched"]].groupby("env")["seconds"].sum()
    out[["wall_s", "cpu_s"]] = out[["wall_s", "cpu_s"]].div(out["seeds"], axis=0)
    out["wall_s_on_2_cores"] = out["wall_s"] / 2
    out["rerun_s"] = out["wall_s"] + batched.reindex(out.index, fill_value=0.0)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    parser.add_argument("--before", help="a git revision whose committed results to compare")
    parser.add_argument("--detail", action="store_true", help="robustness per reading")
    parser.add_argument("--config", default="config/config.yaml", help="the seeds of the run")
    args = parser.parse_args()
    keys = KEYS[:1] + ["reading"] + KEYS[1:] if args.detail else KEYS
    costs = {"now": tables.run_cost(ROOT / args.results)}
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            costs[args.before] = tables.run_cost(committed(args.before, args.results, Path(tmp)))
    frames = {label: summary(cost, keys) for label, cost in costs.items()}
    totals = {label: summary(cost, ["part"]) for label, cost in costs.items()}
    pd.set_option("display.width", 200)
    for title, table in (("per part", totals), ("per stage", frames)):
        print(f"\n# {title}")
        joined = pd.concat(table, axis=1) if len(table) > 1 else next(iter(table.values()))
        print(joined.to_string(float_format=lambda v: f"{v:.1f}", na_rep="-"))
    print("\n# one more seed of the default target (the stages that grow with the seeds)")
    config = yaml.safe_load((ROOT / args.config).read_text())
    seeds = {env: config[env]["seeds"] for env in ("gridworld", "minigolf", "swimmer")}
    per_seed = seed_cost(ROOT / args.results / "benchmarks", seeds)
    print(per_seed.to_string(float_format=lambda v: f"{v:.1f}"))


if __name__ == "__main__":
    main()
