"""Gather every run of an environment into tidy curves, bands (mean, std and a 95% bootstrap CI
per iteration) and a summary (rule aggregate)."""

from gamps import experiment, io
from gamps.analysis import aggregate, statistics

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
curves = aggregate.concatenate_runs(sm.input)
io.write_csv(curves, sm.output.curves)
io.write_csv(statistics.iteration_statistics(curves), sm.output.bands)
summary = statistics.run_summary(curves)
io.write_csv(summary, sm.output.summary)
title = f"{sm.wildcards.env}: expected return, final and best iteration"
data_text = aggregate.summary_markdown(summary, title)
io.atomic_write_text(sm.output.markdown, data_text)
experiment.log.info("%d runs aggregated", len(sm.input))
