"""results/REPORT.md: every claim, what was measured and the verdict (rule replication_report)."""

from pathlib import Path

import pandas as pd

from gamps import experiment, io
from gamps.analysis import claims, report

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
envs = sm.params.envs
outcomes = {env: pd.read_csv(p) for env, p in zip(envs, sm.input.outcomes, strict=True)}
comparisons = {env: pd.read_csv(p) for env, p in zip(envs, sm.input.comparisons, strict=True)}
statements = claims.evaluate_claims(pd.read_csv(sm.input.masses), outcomes, comparisons)
summary = claims.claim_summary(statements)
io.write_csv(statements, sm.output.statements)
io.write_csv(summary, sm.output.summary)
text = report.render(
    summary,
    statements,
    {env: Path(p).read_text() for env, p in zip(envs, sm.input.tables, strict=True)},
    {env: Path(p).read_text() for env, p in zip(envs, sm.input.comparison_tables, strict=True)},
    {
        env: report.weight_health(pd.read_csv(p))
        for env, p in zip(envs, sm.input.curves, strict=True)
    },
    Path(sm.input.beyond).read_text(),
    report.provenance(Path(sm.params.root)),
    report.compute_time(Path("results/benchmarks")),
    sm.params.name,
)
io.atomic_write_text(sm.output.report, text)
