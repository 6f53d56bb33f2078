"""Gather every seed's gradients used and final returns: tidy tables, summaries with bootstrap CIs,
the decomposition of the GAMPS - PGT gap, and the report's Markdown (rule gradient_used_summary)."""

from gamps import experiment, io
from gamps.analysis import gradient_used as used

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
gradients = used.concatenate(sm.input.gradients, used.USED_KEYS)
returns = used.concatenate(sm.input.returns, used.RETURN_KEYS)
decomposition = used.gap_decomposition(returns, "gamps", "pgt")
summaries = {
    "gradients_summary": used.used_summary(gradients),
    "returns_summary": used.returns_summary(returns),
    "decomposition_summary": used.decomposition_summary(decomposition),
}
io.write_csv(gradients, sm.output.gradients, float_format="%.8g")
io.write_csv(returns, sm.output.returns)
io.write_csv(decomposition, sm.output.decomposition)
for name, summary in summaries.items():
    io.write_csv(summary, sm.output[name])
text = used.markdown(*summaries.values(), gradients["iteration"].unique())
io.atomic_write_text(sm.output.markdown, text)
experiment.log.info("%d gradient rows from %d seeds", len(gradients), len(sm.input.gradients))
