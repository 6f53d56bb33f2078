"""Figure 2: gridworld learning curves, one panel per dataset size (rule figure2)."""

import pandas as pd

from gamps import experiment
from gamps.analysis import plots

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
plots.figure2(pd.read_csv(sm.input.curves[0]), sm.output, sm.params.note)
