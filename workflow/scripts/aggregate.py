"""Gather every run of an environment into tidy curves and bands (mean, std and a 95% bootstrap CI
per iteration) (rule aggregate)."""

from gamps import experiment, io
from gamps.analysis import tables

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
curves = tables.concatenate_runs(sm.input.runs)
io.write_csv(curves, sm.output.curves)
io.write_csv(tables.iteration_statistics(curves), sm.output.bands)
experiment.log.info("%d runs aggregated", len(sm.input.runs))
