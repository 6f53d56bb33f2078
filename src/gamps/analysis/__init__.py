"""From the tidy CSVs to the paper's tables, claims and figures; never reruns training.

``stats`` (arrays in, numbers out) | ``tables`` (DataFrames) | ``render`` (every Markdown and LaTeX
table) | ``claims`` (the decision rule) | ``report`` (REPORT.md) | ``plots`` (seaborn figures).
"""
