"""Figure 5: final return against step size, per algorithm and update rule (rule figure5)."""

import pandas as pd

from gamps import experiment
from gamps.analysis import plots

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
runs = pd.concat([pd.read_csv(path) for path in sm.input.runs], ignore_index=True)
tables = pd.concat([pd.read_csv(path) for path in sm.input.tables], ignore_index=True)
plots.figure5(runs, tables, sm.output, sm.params.note)
