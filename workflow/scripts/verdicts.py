"""Every statement's verdict under main and each reading, per claim under how many readings it
holds and which flip it, and ROBUSTNESS.md (rule verdicts)."""

from gamps import experiment, io
from gamps.analysis import claims, report, robustness

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
readings = sm.params.readings
statements = dict(zip(sm.params.rerun, map(claims.read_statements, sm.input.readings), strict=True))
verdicts = robustness.verdict_table(claims.read_statements(sm.input.main), statements)
summary = robustness.claim_summary(verdicts)
io.write_csv(verdicts, sm.output.verdicts)
io.write_csv(summary, sm.output.summary)
flips = robustness.statement_flips(verdicts)
matrix = robustness.claim_matrix(verdicts)
text = report.robustness_report(
    summary, flips, readings, sm.params.main_seeds, sm.params.note, sm.params.figures, matrix
)
io.atomic_write_text(sm.output.markdown, text)
