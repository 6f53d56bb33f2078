"""Gather the Swimmer's gradient checks of every seed into one tidy table (rule
gradient_check_summary)."""

from gamps import experiment, gradient_check, io

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
io.write_csv(gradient_check.concatenate(sm.input.seeds), sm.output[0])
