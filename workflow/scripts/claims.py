"""The statements of the claims measured on one environment, and their verdicts (rule claims)."""

import pandas as pd

from gamps import experiment, io
from gamps.analysis import claims

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
env = sm.wildcards.env
masses = pd.read_csv(sm.input.masses[0]) if sm.input.masses else None
outcomes = {env: pd.read_csv(sm.input.outcomes)}
comparisons = {env: pd.read_csv(sm.input.comparisons)}
statements = claims.evaluate_claims(masses, outcomes, comparisons)
io.write_csv(statements, sm.output[0])
experiment.log.info("%s: %d statements", env, len(statements))
