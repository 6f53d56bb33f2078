"""Figure 6: every statement's verdict under each reading (rule figure6)."""

import pandas as pd

from gamps import experiment
from gamps.analysis import plots

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
plots.figure6(pd.read_csv(sm.input.verdicts), sm.output, sm.params.note)
