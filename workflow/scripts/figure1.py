"""Figure 1: the gridworld, and the weights delta and eta of pi_b (rule figure1)."""

import pandas as pd

from gamps import experiment
from gamps.analysis import plots

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
plots.figure1(pd.read_csv(sm.input.weights), sm.params.actions, sm.output, sm.params.note)
