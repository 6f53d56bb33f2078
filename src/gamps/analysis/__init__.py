"""Aggregation (pandas) and figures (seaborn): they read the tidy CSVs, never rerun training."""
