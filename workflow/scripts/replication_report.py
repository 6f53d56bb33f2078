"""results/REPORT.md: every claim, what was measured and the verdict (rule replication_report)."""

from pathlib import Path

import pandas as pd

from gamps import experiment, io, tuning
from gamps.analysis import claims, render, report, tables

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
envs = sm.params.envs


def by_env(paths, read):
    return {env: read(path) for env, path in zip(envs, paths, strict=True)}


def weight_table(path):
    return render.weight_health_markdown(tables.weight_health(pd.read_csv(path)))


def model_sections() -> dict[str, str]:
    sections = {}
    for env, path in zip(envs, sm.input.curves, strict=True):
        health = tables.model_health(pd.read_csv(path))
        if len(health):
            check = ""
            if env == "swimmer":
                check_table = tables.gradient_check_table(pd.read_csv(sm.input.gradient_check))
                check = render.gradient_check_markdown(check_table)
            markdown = render.model_health_markdown(health)
            sections[env] = report.model_section(env, markdown, check, sm.params.reference)
    # The gridworld: the gradient each algorithm used and the decomposition of the gap to PGT.
    gridworld = Path(sm.input.gradient_used).read_text()
    sections["gridworld"] = "\n".join(filter(None, [sections.get("gridworld"), gridworld]))
    return sections


def step_size_section() -> str:
    steps = sm.params.step_sizes
    tuned = {
        env: tuning.table_path(sm.params.selection, env) for env in steps if steps[env]["tuned"]
    }
    table = tables.step_sizes(steps, {env: pd.read_csv(path) for env, path in tuned.items()})
    return render.step_size_markdown(table)


statements = claims.gather(sm.input.claims)
summary = claims.claim_summary(statements)
io.write_csv(statements, sm.output.statements)
io.write_csv(summary, sm.output.summary)
text = report.assemble(
    summary,
    statements,
    by_env(sm.input.tables, lambda p: Path(p).read_text()),
    by_env(sm.input.comparison_tables, lambda p: Path(p).read_text()),
    by_env(sm.input.curves, weight_table),
    Path(sm.input.beyond).read_text(),
    report.provenance(Path(sm.params.root)),
    tables.compute_time(sm.params.benchmarks, exclude=tables.NOT_KEPT),
    sm.params.name,
    sm.params.results,
    sm.params.figures,
    sm.params.note,
    model_sections(),
    step_size_section(),
    tables.full_run(sm.params.benchmarks),
)
io.atomic_write_text(sm.output.report, text)
