"""Figure 3: learning curves in the continuous domains (rule figure3)."""

import pandas as pd

from gamps import experiment
from gamps.analysis import plots

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
curves = {env: pd.read_csv(path) for env, path in zip(sm.params.envs, sm.input.curves, strict=True)}
plots.figure3(curves, sm.output, sm.params.note)
