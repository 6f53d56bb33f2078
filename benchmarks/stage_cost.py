"""What a run cost, per stage: Snakemake's benchmark files summed by rule and environment.

    python benchmarks/stage_cost.py [ROOT ...] [--only-newer-than FILE]

Each ROOT is a results folder (default: results); its benchmark files are
ROOT/benchmarks/{env}/{rule}/... and, for `snakemake robustness`, each reading's
ROOT/robustness/{reading}/benchmarks/... (counted under the reading's name). Prints, per
(reading, env, rule): jobs, summed wall seconds, summed CPU seconds (Snakemake's ``cpu_time``)
and the largest peak memory (``max_rss``, MB). With several ROOTs (e.g. a run before a change
and one after), one table each.
"""

import argparse
from pathlib import Path

import pandas as pd


def stage_table(root: Path, newer_than: float = 0.0) -> pd.DataFrame:
    rows = []
    for folder, reading in [(root / "benchmarks", "main")] + [
        (path, path.parent.name) for path in sorted(root.glob("robustness/*/benchmarks"))
    ]:
        for path in sorted(folder.rglob("*.tsv")):
            if path.stat().st_mtime < newer_than:
                continue
            # {env}/{rule}/{job}.tsv, {env}/{rule}.tsv, figures/{figure}.tsv or {rule}.tsv
            parts = path.relative_to(folder).with_suffix("").parts
            if len(parts) == 1 or parts[0] == "figures":
                env, rule = "-", parts[-1]
            else:
                env, rule = parts[0], parts[1]
            table = pd.read_csv(path, sep="\t")
            rows.append(
                {
                    "reading": reading,
                    "env": env,
                    "rule": rule,
                    "wall_s": float(table["s"].sum()),
                    "cpu_s": float(pd.to_numeric(table["cpu_time"], errors="coerce").sum()),
                    "max_rss_mb": float(pd.to_numeric(table["max_rss"], errors="coerce").max()),
                }
            )
    frame = pd.DataFrame(rows, columns=["reading", "env", "rule", "wall_s", "cpu_s", "max_rss_mb"])
    return (
        frame.groupby(["reading", "env", "rule"], sort=True)
        .agg(
            jobs=("wall_s", "size"),
            wall_s=("wall_s", "sum"),
            cpu_s=("cpu_s", "sum"),
            max_rss_mb=("max_rss_mb", "max"),
        )
        .reset_index()
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", default=["results"])
    parser.add_argument(
        "--only-newer-than", help="count only benchmark files written after FILE was"
    )
    args = parser.parse_args()
    newer = Path(args.only_newer_than).stat().st_mtime if args.only_newer_than else 0.0
    for root in args.roots:
        table = stage_table(Path(root), newer)
        print(f"# {root}")
        print(table.to_string(index=False, float_format=lambda x: f"{x:.1f}"))
        total = table[["jobs", "wall_s", "cpu_s"]].sum()
        print(
            f"total: {total['jobs']:.0f} jobs, {total['wall_s']:.0f} s of job wall time, "
            f"{total['cpu_s']:.0f} s of CPU, peak {table['max_rss_mb'].max():.0f} MB\n"
        )


if __name__ == "__main__":
    main()
