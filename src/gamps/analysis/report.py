"""results/REPORT.md: for each claim of the paper, what it says, what was measured and the verdict
(``claims``), with the tables, the figures, the software and the compute that produced them."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from .aggregate import _algorithm_order, display_name
from .claims import CLAIM_ENV, CLAIMS, DECISION_RULE

#: What the results depend on, for the commit's "uncommitted changes" mark.
CODE = ("Snakefile", "src", "workflow", "config", "pyproject.toml")
PACKAGES = ("gamps", "numpy", "scipy", "pandas", "torch", "gymnasium", "mujoco", "snakemake")
#: The figure of each claim, in paper_figures/.
FIGURES = {1: "fig1.png", 2: "fig2.png", 3: "fig3.png", 4: "fig3.png"}


def provenance(root: Path) -> dict[str, str]:
    """Package versions, platform and the git commit of ``root``, marked when the code (not the
    pipeline's own outputs) differs from it."""
    info = {}
    for name in PACKAGES:
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = "not installed"
    info["python"] = platform.python_version()
    info["platform"] = f"{platform.system()} {platform.machine()}, {_cpu()}, {os.cpu_count()} cores"
    info["commit"] = _git(root, "rev-parse", "HEAD") or "unknown (not a git checkout)"
    if _git(root, "status", "--porcelain", "--untracked-files=no", "--", *CODE):
        info["commit"] += " + uncommitted changes"
    return info


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown processor"


def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def compute_time(benchmark_dir: Path) -> pd.DataFrame:
    """Per environment and stage (the first folders under ``results/benchmarks``): jobs, summed
    job seconds and peak memory, from Snakemake's benchmark files."""
    rows = []
    for path in sorted(Path(benchmark_dir).rglob("*.tsv")):
        parts = path.relative_to(benchmark_dir).parts
        table = pd.read_csv(path, sep="\t")
        rows.append(
            {
                "env": parts[0],
                "stage": parts[1] if len(parts) > 2 else Path(parts[1]).stem,
                "seconds": float(table["s"].sum()),
                "max_rss_mb": pd.to_numeric(table["max_rss"], errors="coerce").max(),
            }
        )
    if not rows:
        return pd.DataFrame(columns=["env", "stage", "jobs", "seconds", "max_rss_mb"])
    frame = pd.DataFrame(rows)
    return (
        frame.groupby(["env", "stage"], sort=True)
        .agg(jobs=("seconds", "size"), seconds=("seconds", "sum"), max_rss_mb=("max_rss_mb", "max"))
        .reset_index()
    )


def weight_health(curves: pd.DataFrame) -> str:
    """Markdown: per algorithm and N, the effective sample size of the trajectory importance
    weights as a fraction of N (mean over runs) at iterations 0, 1 and the last, the share of
    iterations flagged degenerate, and the mean standard error of one evaluation of J."""
    last = int(curves["iteration"].max())
    frame = curves.assign(ess_fraction=curves["ess"] / curves["n_trajectories"])
    by = ["n_trajectories", "algorithm"]
    at = frame.pivot_table(index=by, columns="iteration", values="ess_fraction", aggfunc="mean")
    degenerate = frame.groupby(by)["degenerate"].mean()
    noise = frame.groupby(by)["return_se"].mean() if "return_se" in frame else None
    lines = [
        f"| N | algorithm | ESS/N at k = 0 | k = 1 | k = {last} | degenerate iterations "
        "| evaluation s.e. of J |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for (n, algorithm), row in at.sort_index(key=_algorithm_order).iterrows():
        se = "exact" if noise is None else f"{noise.loc[(n, algorithm)]:.3f}"
        lines.append(
            f"| {n} | {display_name(algorithm)} | {row[0]:.3f} | {row.get(1, 0.0):.3f} "
            f"| {row[last]:.3f} | {degenerate.loc[(n, algorithm)]:.0%} | {se} |"
        )
    return "\n".join(lines) + "\n"


def _number(x: float) -> str:
    x = round(float(x), 12) + 0.0  # bootstrap ends of exact ties come out as 1e-15, not 0
    return f"{x:.3g}" if 0 < abs(x) < 1e-3 else f"{x:.3f}"


def _statements_markdown(statements: pd.DataFrame) -> str:
    lines = [
        "| statement | N | estimate | 95% CI | threshold | Wilcoxon p | verdict | measured |",
        "|---|---:|---:|---|---:|---:|---|---|",
    ]
    for r in statements.itertuples():
        lines.append(
            f"| {r.statement} | {r.n_trajectories} | {_number(r.estimate)} "
            f"| [{_number(r.ci_low)}, {_number(r.ci_high)}] | {_number(r.threshold)} "
            f"| {r.p_value:.2g} | **{r.verdict}** | {r.detail} |"
        )
    return "\n".join(lines) + "\n"


def render(
    summary: pd.DataFrame,
    statements: pd.DataFrame,
    outcome_tables: dict[str, str],
    comparison_tables: dict[str, str],
    weight_tables: dict[str, str],
    beyond: str,
    info: dict[str, str],
    compute: pd.DataFrame,
    config_name: str,
) -> str:
    """The whole report as Markdown. Figure links are relative to results/."""
    out = [
        "# GAMPS replication report",
        "",
        "Generated by the pipeline (`snakemake`, config `" + config_name + "`) from the runs in "
        "`results/`. Each claim of the paper (as worded in REPLICATION_SPEC.md) is split into "
        "statements that the runs can decide.",
        "",
        "## Decision rule",
        "",
        DECISION_RULE,
        "## Verdicts",
        "",
        "| claim | figure | the paper says | verdict | statements: replicated / not / inconcl. |",
        "|---:|---|---|---|---|",
    ]
    for r in summary.itertuples():
        out.append(
            f"| {r.claim} | {r.figure} | {r.paper} | **{r.verdict}** "
            f"| {r.replicated} / {r.not_replicated} / {r.inconclusive} |"
        )
    out.append("")
    for claim, (figure, text) in CLAIMS.items():
        env = CLAIM_ENV[claim]
        rows = statements[statements["claim"] == claim] if len(statements) else statements
        verdict = summary.loc[summary["claim"] == claim, "verdict"].iloc[0]
        out += [f"## Claim {claim}: {figure} — {verdict}", "", f"> {text}", ""]
        if len(rows):
            out += [_statements_markdown(rows)]
        else:
            out += ["Not measured by this configuration.", ""]
        out += [f"![{figure}](../paper_figures/{FIGURES[claim]})", ""]
        if claim != 1 and env in outcome_tables:  # claim 1 shares the gridworld with claim 2
            out += [outcome_tables[env], comparison_tables[env]]
        if claim != 1 and env in weight_tables:
            out += [
                f"#### {env}: health of the importance weights (runs' trajectory ESS)",
                "",
                weight_tables[env],
            ]
    if beyond:
        out += [beyond.replace("### ", "## ", 1), ""]
    out += _provenance_section(info, compute)
    return "\n".join(out).rstrip() + "\n"


def _provenance_section(info: dict[str, str], compute: pd.DataFrame) -> list[str]:
    out = ["## Software, platform and compute", ""]
    out += [f"- **{key}**: {value}" for key, value in info.items()]
    if len(compute):
        total = compute["seconds"].sum()
        out += [
            "",
            f"Compute, from Snakemake's benchmark files: {int(compute['jobs'].sum())} jobs, "
            f"{total:.0f} s of summed job time ({total / 60:.1f} min; wall time is about this "
            "divided by the cores used). Peak memory of any job: "
            f"{compute['max_rss_mb'].max():.0f} MB.",
            "",
            "| environment | stage | jobs | job time (s) | peak memory (MB) |",
            "|---|---|---:|---:|---:|",
        ]
        for r in compute.itertuples():
            memory = "–" if pd.isna(r.max_rss_mb) else f"{r.max_rss_mb:.0f}"
            out.append(f"| {r.env} | {r.stage} | {r.jobs} | {r.seconds:.1f} | {memory} |")
    return out + [""]
