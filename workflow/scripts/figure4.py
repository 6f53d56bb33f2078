"""Figure 4 (beyond the paper): exact gradient bias of the ML and GAMPS models (rule figure4)."""

import pandas as pd

from gamps import experiment
from gamps.analysis import plots

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
plots.figure4(pd.read_csv(sm.input.table), sm.output, sm.params.note)
