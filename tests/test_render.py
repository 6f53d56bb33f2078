"""The Markdown and LaTeX of analysis.render: the right columns and rows, balanced LaTeX, labels
from the algorithm registry, and the gradient-bias section."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from test_tables import FAST, bias_rows, outcomes_frame, synthetic_curves

from gamps.analysis import render, tables


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row of text (header and separator included)."""
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]


def balanced(text: str) -> bool:
    """Every unescaped brace of text closes one opened before it."""
    depth = 0
    for char in re.sub(r"\\[{}]", "", text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


# --------------------------------------------------------------------------- outcomes


def test_outcome_writers():
    outcomes = tables.run_outcomes(synthetic_curves(algorithms=("gamps", "my_alg")))
    table = tables.outcome_table(outcomes, n_resamples=FAST)
    row = table.iloc[0]
    cell = (
        f"{row['final_mean']:.3f} ± {row['final_std']:.3f} "
        f"[{row['final_ci_low']:.3f}, {row['final_ci_high']:.3f}]"
    )

    markdown = render.outcome_markdown(table, "toy")
    assert markdown.startswith("### toy\n")
    assert f"| 10 | GAMPS | 10 | {row['initial_mean']:.3f} | {cell} |" in markdown
    assert "final hole rate" in markdown and "95% bootstrap CI" in markdown

    latex = render.outcome_latex(table, "Toy: 95% of final_J", "tab:toy_final")
    assert cell.replace("±", "$\\pm$") in latex
    assert "\\caption{Toy: 95\\% of final\\_J}" in latex and "\\label{tab:toy_final}" in latex
    assert "my\\_alg" in latex and "my_alg" not in latex.replace("my\\_alg", "")
    assert "final hole rate" in latex
    for command in ("\\begin{tabular}", "\\toprule", "\\midrule", "\\bottomrule"):
        assert command in latex
    body = [line for line in latex.splitlines() if line.endswith("\\\\")]
    assert all(line.count("&") == 7 for line in body)  # 8 columns with the hole rate


def test_comparison_markdown():
    rng = np.random.default_rng(11)
    baseline = rng.normal(size=10)
    comparisons = tables.paired_comparisons(
        outcomes_frame(baseline + 1.0, baseline), n_resamples=FAST
    )
    markdown = render.comparison_markdown(comparisons, "paired")
    row = comparisons.iloc[0]
    assert markdown.startswith("### paired\n")
    assert "| 10 | ML | final J | 10 |" in markdown
    assert f"{row['mean_difference']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" in markdown
    assert "| 10 / 0 / 0 | 1.000 [1.000, 1.000] | 0.002 |" in markdown  # exact p = 2 / 2**10
    assert "P(GAMPS > baseline)" in markdown
    assert "P(REINFORCE > baseline)" in render.comparison_markdown(comparisons, "x", "reinforce")


def test_outcome_tables_have_one_row_per_algorithm_and_n():
    outcomes = tables.run_outcomes(synthetic_curves(algorithms=("pgt", "gamps", "ml")))
    table = tables.outcome_table(outcomes, n_resamples=FAST)
    rows = markdown_rows(render.outcome_markdown(table, "toy"))
    header, separator, body = rows[0], rows[1], rows[2:]
    assert header == [
        "N",
        "algorithm",
        "runs",
        "initial J",
        "final J",
        "best-iteration J",
        "overfit (best − final)",
        "final hole rate",
    ]
    assert separator == ["---:", "---", "---:", "---:", "---:", "---:", "---:", "---:"]
    assert all(len(row) == len(header) for row in body)
    expected = [[str(n), name] for n in (10, 100) for name in ("GAMPS", "ML", "PGT")]
    assert [row[:2] for row in body] == expected  # registry order within each N

    latex = render.outcome_latex(table, "Toy {braces} & 50% of #1", "tab:toy")
    assert balanced(latex) and "\\caption{Toy {braces} \\& 50\\% of \\#1}" in latex
    body = [line for line in latex.splitlines() if line.endswith("\\\\")][1:]  # after the header
    assert [line.split(" & ")[:2] for line in body] == expected
    assert latex.count("\\midrule") == 2  # under the header, and between N = 10 and N = 100
    assert latex.startswith("\\begin{table}") and latex.endswith("\\end{table}\n")


def test_outcome_markdown_without_extras_or_values():
    outcomes = tables.run_outcomes(synthetic_curves(seeds=1, ns=(10,)).drop(columns="hole_rate"))
    table = tables.outcome_table(outcomes, n_resamples=FAST)
    table.loc[0, "final_std"] = np.nan  # one run: no std
    text = render.outcome_markdown(table, "one run")
    assert "hole rate" not in text
    assert len(markdown_rows(text)[0]) == 7
    assert " ± – [" in text and "nan" not in text
    assert "–" not in render.outcome_latex(table, "x", "tab:x")  # LaTeX gets an en dash: --


def test_comparison_markdown_rows_and_columns():
    outcomes = tables.run_outcomes(synthetic_curves(algorithms=("gamps", "ml", "pgt")))
    comparisons = tables.paired_comparisons(outcomes, n_resamples=FAST)
    rows = markdown_rows(render.comparison_markdown(comparisons, "toy"))
    assert len(rows[0]) == len(rows[1]) == 10 and len(rows) == 2 + len(comparisons)
    assert rows[1][:3] == ["---:", "---", "---"]
    assert [row[1:3] for row in rows[2:5]] == [
        ["ML", "final J"],
        ["ML", "best-iteration J"],
        ["ML", "overfit (best − final)"],
    ]
    assert "Δ mean [95% CI]" in rows[0]
    comparisons.loc[0, "wilcoxon_p"] = 1e-5
    assert "| < 0.001 |" in render.comparison_markdown(comparisons, "toy")


# --------------------------------------------------------------------------- claims


def test_statements_and_verdicts_markdown():
    statements = pd.DataFrame(
        {
            "statement": ["GAMPS above ML in final J", "eta below delta"],
            "n_trajectories": [10, 1000],
            "estimate": [0.5, 2e-4],
            "ci_low": [0.2, 1e-15],
            "ci_high": [0.8, 4e-4],
            "threshold": [0.0, 0.0],
            "p_value": [0.0123, 0.5],
            "verdict": ["replicated", "inconclusive"],
            "detail": ["wins 9/10", "eta lower in 6/10"],
        }
    )
    rows = markdown_rows(render.statements_markdown(statements))
    assert rows[0][-2:] == ["verdict", "measured"] and len(rows) == 4
    assert rows[2] == [
        "GAMPS above ML in final J",
        "10",
        "0.500",
        "[0.200, 0.800]",
        "0.000",
        "0.012",
        "**replicated**",
        "wins 9/10",
    ]
    # tiny numbers keep three significant digits; rounding noise of a tie shows as 0
    assert rows[3][2:4] == ["0.0002", "[0.000, 0.0004]"]
    summary = pd.DataFrame(
        {
            "claim": [1, 2],
            "figure": ["Figure 1", "Figure 2"],
            "paper": ["eta avoids the lower area", "GAMPS is above"],
            "verdict": ["replicated", "not measured"],
            "replicated": [1, 0],
            "not_replicated": [0, 0],
            "inconclusive": [0, 0],
        }
    )
    rows = markdown_rows(render.verdicts_markdown(summary))
    assert rows[2] == ["1", "Figure 1", "eta avoids the lower area", "**replicated**", "1 / 0 / 0"]
    assert len(rows) == 4 and rows[1] == ["---:", "---", "---", "---", "---"]


# --------------------------------------------------------------------------- diagnostics


def test_weight_health_markdown():
    health = pd.DataFrame(
        {
            "n_trajectories": [10, 10],
            "algorithm": ["gamps", "my_alg"],
            "ess_first": [1.0, 1.0],
            "ess_second": [0.5, 0.25],
            "ess_last": [0.125, 0.0625],
            "degenerate": [0.0, 2 / 3],
        }
    )
    health.attrs["last_iteration"] = 7
    rows = markdown_rows(render.weight_health_markdown(health))
    assert rows[0][2:5] == ["ESS/N at k = 0", "k = 1", "k = 7"]
    assert rows[2] == ["10", "GAMPS", "1.000", "0.500", "0.125", "0%", "exact"]
    assert rows[3][1] == "my_alg" and rows[3][5] == "67%"
    health["return_se"] = [0.01, 0.25]
    assert markdown_rows(render.weight_health_markdown(health))[3][-1] == "0.250"


def test_gradient_bias_markdown():
    table = bias_rows()
    text = render.gradient_bias_markdown(tables.bias_summary(table), tables.bias_findings(table))
    assert text.startswith("### Beyond the paper: exact gradient bias on the gridworld\n")
    assert "Mean ± std over 2 seeds." in text  # one dataset per seed: no "× datasets"
    rows = markdown_rows(text)
    behaviour = [row for row in rows if len(row) == 5 and row[0] in ("exact (N → ∞)", "10")]
    assert [row[:2] for row in behaviour[:2]] == [
        ["exact (N → ∞)", "ML"],
        ["exact (N → ∞)", "GAMPS"],
    ]
    assert behaviour[1][3] == "0.85 ± 0.07" and behaviour[1][4] == "100%"
    assert "for 1 of 2 behaviour policies; fitted on the same dataset, in 1/2 at N = 10." in text
    assert "| 10 | GAMPS | 0.86 ± 0.06 | 0.86 ± 0.06 | 0.88 |" in text
    assert "higher cosine in 2 of 4 evaluated policies" in text
    assert "bound ≥ realised bias in 24 of 24 evaluated cases; 6 bounds are infinite" in text
    assert "min 6.0, median 6.0" in text and "×1.0 from the triangle" in text
    assert "×2.00 from Pinsker" in text
    assert not re.search(r"\b(nan|inf)\b", text)

    behaviour_only = table[table["policy"] == "behaviour"]
    text = render.gradient_bias_markdown(
        tables.bias_summary(behaviour_only), tables.bias_findings(behaviour_only)
    )
    assert "learning paths" not in text and "Theorem 3.2" in text


# --------------------------------------------------------------------------- compute


def test_compute_markdown():
    compute = pd.DataFrame(
        {
            "env": ["figures", "gridworld"],
            "stage": ["fig1", "train"],
            "jobs": [1, 16],
            "seconds": [4.25, 115.75],
            "cpu_seconds": [4.0, 50.5],
            "max_rss_mb": [np.nan, 344.0],
        }
    )
    text = render.compute_markdown(compute)
    assert text.startswith("The cost of the outputs above (the figures aside")
    assert "17 jobs, 120 s of summed job time (2.0 min) and 54 s of CPU time." in text
    assert "Peak memory of any job: 344 MB." in text
    rows = markdown_rows(text)
    assert rows[2:] == [
        ["figures", "fig1", "1", "4.2", "4.0", "–"],
        ["gridworld", "train", "16", "115.8", "50.5", "344"],
    ]
    assert render.compute_markdown(compute.iloc[:0]) == ""


def test_latex_escape_turns_plain_text_into_latex_once():
    assert render.latex_escape("mean ± std [95% CI], a_b & #1") == (
        "mean $\\pm$ std [95\\% CI], a\\_b \\& \\#1"
    )
    assert render.latex_escape("C:\\dir") == "C:\\textbackslash{}dir"
    # already-escaped LaTeX is not plain text: escaping it again shows the backslash
    assert "textbackslash" in render.latex_escape("$\\pm$")
