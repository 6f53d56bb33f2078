"""Per-run outcomes, the summary table with bootstrap CIs and the paired comparisons of GAMPS
with each baseline, for one environment (rule tables)."""

import pandas as pd

from gamps import experiment
from gamps.analysis import statistics

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
env = sm.wildcards.env
outcomes = statistics.run_outcomes(pd.read_csv(sm.input.curves))
table = statistics.outcome_table(outcomes)
comparisons = statistics.paired_comparisons(outcomes)
statistics.write_csv(outcomes, sm.output.outcomes)
statistics.write_csv(table, sm.output.table)
statistics.write_csv(comparisons, sm.output.comparisons)
title = f"{env}: return per algorithm, mean ± std [95% bootstrap CI] over runs"
statistics.write_text(statistics.outcome_markdown(table, title), sm.output.markdown)
caption = f"{env}: final and best-iteration return, mean $\\pm$ std [95\\% bootstrap CI]"
statistics.write_text(statistics.outcome_latex(table, caption, f"tab:{env}"), sm.output.latex)
title = f"{env}: GAMPS against each baseline, paired by seed"
statistics.write_text(
    statistics.comparison_markdown(comparisons, title), sm.output.comparisons_markdown
)
