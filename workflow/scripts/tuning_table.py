"""The tuning table of one environment: every grid point's score, CI and the selection."""

import pandas as pd

from gamps import experiment, io, tuning

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
runs = pd.concat([pd.read_csv(path) for path in sm.input.runs], ignore_index=True)
io.write_csv(runs, sm.output.runs)
io.write_csv(tuning.score_table(runs), sm.output.table)
