"""Gather the gradient-bias diagnostics of every seed: tidy table, summary, Markdown."""

from gamps import experiment
from gamps.analysis import aggregate, gradient_bias

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
table = gradient_bias.concatenate(sm.input)
gradient_bias.write_table(table, sm.output.table)
summary = gradient_bias.summary(table)
aggregate.write_csv(summary, sm.output.summary)
experiment.atomic_write_text(sm.output.markdown, gradient_bias.markdown(table, summary))
experiment.log.info("%d rows from %d seeds", len(table), len(sm.input))
