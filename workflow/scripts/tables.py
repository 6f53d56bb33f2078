"""Per-run outcomes, the outcome table with bootstrap CIs and the paired comparisons of GAMPS
with each baseline, for one environment (rule tables)."""

import pandas as pd

from gamps import experiment, io
from gamps.analysis import render, tables

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
env = sm.wildcards.env
outcomes = tables.run_outcomes(pd.read_csv(sm.input.curves))
table = tables.outcome_table(outcomes)
comparisons = tables.paired_comparisons(outcomes)
io.write_csv(outcomes, sm.output.outcomes)
io.write_csv(table, sm.output.table)
io.write_csv(comparisons, sm.output.comparisons)
title = f"{env}: return per algorithm, mean ± std [95% bootstrap CI] over runs"
io.atomic_write_text(sm.output.markdown, render.outcome_markdown(table, title))
caption = f"{env}: final and best-iteration return, mean ± std [95% bootstrap CI]"
io.atomic_write_text(sm.output.latex, render.outcome_latex(table, caption, f"tab:{env}"))
title = f"{env}: GAMPS against each baseline, paired by seed"
io.atomic_write_text(sm.output.comparisons_markdown, render.comparison_markdown(comparisons, title))
