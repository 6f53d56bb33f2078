"""Gather the gradient-bias diagnostics of every seed: tidy table, summary, Markdown."""

from gamps import experiment, io
from gamps.analysis import gradient_bias

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
table = gradient_bias.concatenate(sm.input)
io.write_csv(table, sm.output.table, float_format="%.8g")
summary = gradient_bias.summary(table)
io.write_csv(summary, sm.output.summary)
io.atomic_write_text(sm.output.markdown, gradient_bias.markdown(table, summary))
experiment.log.info("%d rows from %d seeds", len(table), len(sm.input))
