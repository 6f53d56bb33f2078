"""Gather the gradient-bias diagnostics of every seed: tidy table, summary, Markdown."""

from gamps import experiment, io
from gamps.analysis import render, tables

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
table = tables.concatenate_bias(sm.input.seeds)
io.write_csv(table, sm.output.table, float_format="%.8g")
summary = tables.bias_summary(table)
io.write_csv(summary, sm.output.summary)
text = render.gradient_bias_markdown(summary, tables.bias_findings(table))
io.atomic_write_text(sm.output.markdown, text)
experiment.log.info("%d rows from %d seeds", len(table), len(sm.input.seeds))
