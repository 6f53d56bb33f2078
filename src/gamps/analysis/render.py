"""Every Markdown and LaTeX table of the pipeline, rendered from the DataFrames of ``tables`` and
``claims``: strings out, no computation. Algorithms are shown by their registry label."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pandas as pd

from .. import algorithms
from .tables import outcome_measures

#: Display names of the per-run outcomes (others: their name with spaces).
OUTCOME_NAMES = {
    "initial": "initial J",
    "final": "final J",
    "best": "best-iteration J",
    "overfit": "overfit (best − final)",
}


def _table(header: list[str], align: str, rows: Iterable[Sequence[str]]) -> list[str]:
    """Lines of a Markdown table: ``align`` holds one of r (right) or l (left) per column."""
    lines = ["| " + " | ".join(header) + " |"]
    lines.append("|" + "".join("---:|" if a == "r" else "---|" for a in align))
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _number(value: Any) -> str:
    return "–" if pd.isna(value) else f"{value:.3f}"


def _cell(row: dict, x: str, pm: str = "±") -> str:
    mean, std = _number(row[f"{x}_mean"]), _number(row[f"{x}_std"])
    return f"{mean} {pm} {std} [{_number(row[f'{x}_ci_low'])}, {_number(row[f'{x}_ci_high'])}]"


def _p_value(p: Any) -> str:
    if pd.isna(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _level(frame: pd.DataFrame) -> str:
    confidence = frame.attrs.get("confidence")
    return f"{100 * confidence:g}% " if confidence is not None else ""


def _outcome_name(x: str) -> str:
    return OUTCOME_NAMES.get(x, x.replace("_", " "))


def _outcome_columns(table: pd.DataFrame) -> list[str]:
    """The outcomes of an outcome table: OUTCOMES, then the extra metrics it has."""
    return outcome_measures(c.removesuffix("_mean") for c in table.columns)


# --------------------------------------------------------------------------- outcomes


def outcome_markdown(table: pd.DataFrame, title: str) -> str:
    """``tables.outcome_table`` as Markdown: mean ± std [CI of the mean] of each outcome across
    runs, one row per (N, algorithm)."""
    columns = _outcome_columns(table)
    header = ["N", "algorithm", "runs", "initial J", *(_outcome_name(x) for x in columns)]
    rows = [
        [
            str(row["n_trajectories"]),
            algorithms.label(row["algorithm"]),
            str(row["runs"]),
            _number(row["initial_mean"]),
            *(_cell(row, x) for x in columns),
        ]
        for row in table.to_dict("records")
    ]
    lines = [f"### {title}", "", *_table(header, "rlrr" + "r" * len(columns), rows)]
    lines += [
        "",
        f"Cells: mean ± std (ddof = 1) [{_level(table)}bootstrap CI of the mean, BCa] across runs;"
        " overfit = best-iteration − final J.",
    ]
    return "\n".join(lines) + "\n"


#: Plain-text characters and their LaTeX; the backslash first, so later escapes stay intact.
LATEX_ESCAPES = (
    ("\\", "\\textbackslash{}"),
    ("&", "\\&"),
    ("%", "\\%"),
    ("_", "\\_"),
    ("#", "\\#"),
    ("±", "$\\pm$"),
)


def latex_escape(text: str) -> str:
    """Plain text as LaTeX: backslash, &, %, _ and # escaped, ± as $\\pm$."""
    for char, latex in LATEX_ESCAPES:
        text = text.replace(char, latex)
    return text


def outcome_latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """``tables.outcome_table`` as a booktabs table (mean $\\pm$ std [CI]), a rule between dataset
    sizes; ``caption`` is plain text (it is escaped), ``label`` the LaTeX label."""
    columns = _outcome_columns(table)
    names = ["$N$", "algorithm", "runs", "initial $J$"]
    names += [
        latex_escape(_outcome_name(x)).replace(" J", " $J$").replace("−", "$-$") for x in columns
    ]
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        f"\\caption{{{latex_escape(caption)}}}",
        f"\\label{{{label}}}",
        "\\begin{tabular}{rlrr" + "l" * len(columns) + "}",
        "\\toprule",
        " & ".join(names) + " \\\\",
        "\\midrule",
    ]
    previous = None
    for row in table.to_dict("records"):
        if previous is not None and row["n_trajectories"] != previous:
            lines.append("\\midrule")
        previous = row["n_trajectories"]
        cells = [
            str(row["n_trajectories"]),
            latex_escape(algorithms.label(row["algorithm"])),
            str(row["runs"]),
            _number(row["initial_mean"]),
        ]
        cells += [_cell(row, x, pm="$\\pm$").replace("–", "--") for x in columns]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def comparison_markdown(comparisons: pd.DataFrame, title: str, reference: str | None = None) -> str:
    """``tables.paired_comparisons`` as Markdown: Δ = reference − baseline per seed, with its CI,
    W/T/L, probability of improvement and Wilcoxon p. ``reference`` defaults to the table's own."""
    ref = algorithms.label(reference or comparisons.attrs.get("reference", "gamps"))
    level = _level(comparisons)
    header = [
        "N",
        "baseline",
        "outcome",
        "pairs",
        f"{ref} mean",
        "baseline mean",
        f"Δ mean [{level}CI]",
        "wins / ties / losses",
        f"P({ref} > baseline) [{level}CI]",
        "Wilcoxon p",
    ]
    rows = [
        [
            str(row["n_trajectories"]),
            algorithms.label(row["baseline"]),
            _outcome_name(str(row["outcome"])),
            str(row["pairs"]),
            _number(row["reference_mean"]),
            _number(row["baseline_mean"]),
            f"{_number(row['mean_difference'])} "
            f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]",
            f"{row['wins']} / {row['ties']} / {row['losses']}",
            f"{_number(row['probability_of_improvement'])} "
            f"[{_number(row['poi_ci_low'])}, {_number(row['poi_ci_high'])}]",
            _p_value(row["wilcoxon_p"]),
        ]
        for row in comparisons.to_dict("records")
    ]
    lines = [f"### {title}", "", *_table(header, "rllrrrrrrr", rows)]
    lines += [
        "",
        f"Δ = {ref} − baseline on the same seed (same dataset and initial policy); CI: bootstrap "
        "(BCa) of the mean Δ; P: fraction of seeds where "
        f"{ref} is higher (ties ½), percentile bootstrap CI. For overfit lower is better, so there "
        f"Δ < 0 and P < 0.5 favour {ref}.",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- claims


def _claim_number(x: float) -> str:
    x = round(float(x), 12) + 0.0  # bootstrap ends of exact ties come out as 1e-15, not 0
    return f"{x:.3g}" if 0 < abs(x) < 1e-3 else f"{x:.3f}"


def statements_markdown(statements: pd.DataFrame) -> str:
    """The statements of ``claims.evaluate_claims`` as Markdown: estimate, CI, threshold,
    Wilcoxon p, verdict and what was measured."""
    header = ["statement", "N", "estimate", "95% CI", "threshold", "Wilcoxon p", "verdict"]
    rows = [
        [
            str(r.statement),
            str(r.n_trajectories),
            _claim_number(r.estimate),
            f"[{_claim_number(r.ci_low)}, {_claim_number(r.ci_high)}]",
            _claim_number(r.threshold),
            f"{r.p_value:.2g}",
            f"**{r.verdict}**",
            str(r.detail),
        ]
        for r in statements.itertuples()
    ]
    return "\n".join(_table([*header, "measured"], "lrrlrrll", rows)) + "\n"


def verdicts_markdown(summary: pd.DataFrame) -> str:
    """``claims.claim_summary`` as Markdown: one row per claim with its verdict and counts."""
    header = ["claim", "figure", "the paper says", "verdict"]
    header.append("statements: replicated / not / inconcl.")
    rows = [
        [
            str(r.claim),
            str(r.figure),
            str(r.paper),
            f"**{r.verdict}**",
            f"{r.replicated} / {r.not_replicated} / {r.inconclusive}",
        ]
        for r in summary.itertuples()
    ]
    return "\n".join(_table(header, "rllll", rows)) + "\n"


# --------------------------------------------------------------------------- robustness


def _reruns(seeds: dict[str, int]) -> str:
    return ", ".join(f"{env} ({n} seeds)" for env, n in seeds.items())


def readings_markdown(readings: dict[str, dict], main_seeds: dict[str, int]) -> str:
    """The readings (``gamps.readings.describe``) as Markdown: what each reruns and why, after
    the main replication."""
    rows = [["main", _reruns(main_seeds), "The main replication (config/config.yaml)."]]
    for name, reading in readings.items():
        reruns = _reruns(reading["envs"]) or "nothing: it changes no setting of this config"
        rows.append([name, reruns, str(reading["rationale"])])
    return "\n".join(_table(["reading", "reruns", "the reading"], "lll", rows)) + "\n"


def robustness_markdown(summary: pd.DataFrame) -> str:
    """``robustness.claim_summary`` as Markdown: per claim, its verdict under main, under how many
    of the readings that rerun it it is replicated / not / inconclusive, and which flip it."""
    header = ["claim", "figure", "main", "readings that rerun it"]
    header += ["replicated / not / inconcl.", "flipped by (its verdict there)"]
    rows = [
        [
            str(r.claim),
            str(r.figure),
            f"**{r.main}**",
            str(r.readings),
            f"{r.replicated} / {r.not_replicated} / {r.inconclusive}",
            str(r.flipped_by) or "–",
        ]
        for r in summary.itertuples()
    ]
    return "\n".join(_table(header, "rllrrl", rows)) + "\n"


def claim_matrix_markdown(matrix: pd.DataFrame) -> str:
    """``robustness.claim_matrix`` as Markdown: a row per reading, a column per claim; "–" where
    the reading does not rerun the claim."""
    header = ["reading", *(f"claim {claim}" for claim in matrix.columns)]
    rows = [[str(name), *(cell or "–" for cell in cells)] for name, cells in matrix.iterrows()]
    return "\n".join(_table(header, "l" * len(header), rows)) + "\n"


def statement_flips_markdown(flips: pd.DataFrame) -> str:
    """``robustness.statement_flips`` as Markdown: each statement whose verdict a reading flips."""
    header = ["reading", "claim", "statement", "N", "main", "under the reading"]
    rows = [
        [
            str(r.reading),
            str(r.claim),
            str(r.statement),
            str(r.n_trajectories),
            str(r.main) or "–",
            f"**{r.verdict}**",
        ]
        for r in flips.itertuples()
    ]
    return "\n".join(_table(header, "lrlrll", rows)) + "\n"


# --------------------------------------------------------------------------- diagnostics


def weight_health_markdown(health: pd.DataFrame) -> str:
    """``tables.weight_health`` as Markdown: ESS / N at iterations 0, 1 and the last, share of
    degenerate iterations, evaluation standard error of J ("exact" where J is computed exactly)."""
    last = health.attrs["last_iteration"]
    header = ["N", "algorithm", "ESS/N at k = 0", "k = 1", f"k = {last}"]
    header += ["degenerate iterations", "evaluation s.e. of J"]
    rows = [
        [
            str(r["n_trajectories"]),
            algorithms.label(r["algorithm"]),
            f"{r['ess_first']:.3f}",
            f"{r['ess_second']:.3f}",
            f"{r['ess_last']:.3f}",
            f"{r['degenerate']:.0%}",
            f"{r['return_se']:.3f}" if "return_se" in r else "exact",
        ]
        for r in health.to_dict("records")
    ]
    return "\n".join(_table(header, "rlrrrrr", rows)) + "\n"


def _pm(mean: float, std: float, digits: int = 2) -> str:
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _pm_column(frame: pd.DataFrame, name: str) -> list[str]:
    """``<name>_mean ± <name>_std`` of every row of ``frame``."""
    return [_pm(m, s) for m, s in zip(frame[f"{name}_mean"], frame[f"{name}_std"], strict=True)]


def _model_table(
    frame: pd.DataFrame,
    header: list[str],
    align: str,
    n_label: Callable[[int], str],
    spreads: Sequence[str],
    last: str,
    last_format: str,
) -> list[str]:
    """A table with a row per (N, model) of ``frame``: N, the model's label, ``_pm_column`` of each
    of ``spreads``, then column ``last`` formatted by ``last_format``."""
    columns = [frame["n_trajectories"].map(n_label), frame["model"].map(algorithms.label)]
    columns += [_pm_column(frame, name) for name in spreads]
    columns.append(frame[last].map(last_format.format))
    return _table(header, align, zip(*columns, strict=True))


def _n_label(n: int) -> str:
    return "exact (N → ∞)" if n == 0 else str(n)


def gradient_bias_markdown(summary: pd.DataFrame, findings: dict[str, Any]) -> str:
    """The report's 'Beyond the paper' section: how far the model-value-based gradient (Eq. 2) is
    from the policy gradient (Eq. 1) and how tight Theorem 3.2's bound is, from
    ``tables.bias_summary`` and ``tables.bias_findings``."""
    reps = findings["repetitions"]
    lines = [
        "### Beyond the paper: exact gradient bias on the gridworld",
        "",
        "How far the model-value-based gradient (Eq. 2) is from the true policy gradient (Eq. 1), "
        "both computed in closed form, when the state-blind action-effect model is fitted by "
        "maximum likelihood (ML, unit weights) or with the gradient-aware weights of Eq. 3 "
        "(GAMPS). *exact*: the model fitted on the exact distribution, the N → ∞ limit of the "
        "fit on N trajectories (ML: the visitation of π_b; GAMPS: η of the current policy). "
        f"Mean ± std over {findings['seeds']} seeds"
        + (f" (× {reps} datasets for the fits on samples)." if reps > 1 else "."),
        "",
        "**At the behaviour policies** (the initial policy of every run):",
        "",
    ]
    behaviour = summary[summary["policy"] == "behaviour"]
    header = ["N", "model", "relative error ‖∇J − ∇ᴹⱽᴳJ‖₂ / ‖∇J‖₂", "cosine with ∇J", "cosine > 0"]
    lines += _model_table(
        behaviour,
        header,
        "llrrr",
        _n_label,
        ("relative_bias", "cosine"),
        "positive_cosine",
        "{:.0%}",
    )
    wins, total = findings["exact_wins"]
    paired = [f"{w}/{t} at N = {n}" for n, w, t in findings["sample_wins"]]
    lines += [
        "",
        f"In the exact limit the GAMPS model's MVG is closer in direction to ∇J than ML's for "
        f"{wins} of {total} behaviour policies"
        + (f"; fitted on the same dataset, in {', '.join(paired)}." if paired else "."),
    ]
    if findings["path"] is not None:
        lines += [
            "",
            "**Along the GAMPS learning paths** (the policies θ_k that GAMPS visits on the "
            "pipeline's dataset of N trajectories; every evaluated iteration of every seed):",
            "",
        ]
        header = ["N", "model", "cosine, fitted on the dataset", "cosine, exact fit"]
        header.append("final iteration, fitted on the dataset")
        lines += _model_table(
            findings["path"],
            header,
            "rlrrr",
            str,
            ("sample", "exact"),
            "final_sample_mean",
            "{:.2f}",
        )
        wins, total = findings["path_wins"]
        lines += [
            "",
            f"Along the paths, with the models fitted on the dataset, GAMPS's MVG has the higher "
            f"cosine in {wins} of {total} evaluated policies.",
        ]
    lines += [
        "",
        "**Theorem 3.2** in its finite-horizon form (q = 2; derivation in `gamps.diagnostics`): "
        f"bound ≥ realised bias in {findings['held']} of {findings['cases']} evaluated "
        f"cases; {findings['infinite']} bounds are infinite (the model gives "
        "probability 0 to a transition that η weighs). Over the finite bounds, bound / bias: "
        f"min {findings['ratio_min']:.1f}, median {findings['ratio_median']:.1f}; before "
        "Pinsker's inequality (E_η‖p − p̂‖₁ instead of √(2 E_η KL)), over all cases: "
        f"min {findings['l1_ratio_min']:.1f}, median {findings['l1_ratio_median']:.1f}.",
    ]
    if findings["slack"] is not None:
        triangle, holder, pinsker = findings["slack"]
        lines[-1] += (
            " Where the slack is (median factor of each step of the derivation): "
            f"×{triangle:.1f} from the triangle inequality over (t, s, a) (step 1: the "
            f"errors of Q̂ cancel across actions in the true MVG), ×{holder:.1f} from "
            "bounding ⟨p − p̂, V̂⟩ by ‖p − p̂‖₁ R_max H (steps 2-4), "
            f"×{pinsker:.2f} from Pinsker and Jensen (step 5)."
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- compute


def compute_markdown(compute: pd.DataFrame, full_run: dict | None = None) -> str:
    """``tables.compute_time`` as Markdown: totals, then jobs, wall and CPU time and peak memory
    per environment and stage; and, given ``full_run`` (``benchmarks/time_pipeline.py``'s
    record), the wall time of the last timed full run. Empty without either."""
    lines = []
    if full_run:
        lines += [
            f"Last full run ({full_run['mode']}; `benchmarks/time_pipeline.py`, commit "
            f"{full_run['commit'][:12]}, {full_run['date']}): `snakemake {full_run['target']}` "
            f"took {full_run['wall_s']:.0f} s of wall time ({full_run['wall_s'] / 60:.1f} min) on "
            f"{full_run['cores']} cores, {full_run['jobs']} jobs.",
            "",
        ]
    if not len(compute):
        return "\n".join(lines)
    total, cpu = compute["seconds"].sum(), compute["cpu_seconds"].sum()
    rows = [
        [
            r.env,
            r.stage,
            str(r.jobs),
            f"{r.seconds:.1f}",
            f"{r.cpu_seconds:.1f}",
            "–" if pd.isna(r.max_rss_mb) else f"{r.max_rss_mb:.0f}",
        ]
        for r in compute.itertuples()
    ]
    header = ["environment", "stage", "jobs", "job time (s)", "CPU time (s)", "peak memory (MB)"]
    lines += [
        "The cost of the outputs above (the figures aside: a fresh clone redraws them), from the "
        "Snakemake benchmark file of the job that last wrote each, kept with the results: "
        f"{int(compute['jobs'].sum())} jobs, {total:.0f} s of "
        f"summed job time ({total / 60:.1f} min) and {cpu:.0f} s of CPU time. Peak memory of any "
        f"job: {compute['max_rss_mb'].max():.0f} MB.",
        "",
        *_table(header, "llrrrr", rows),
    ]
    return "\n".join(lines) + "\n"


def model_health_markdown(health: pd.DataFrame) -> str:
    """``tables.model_health`` as Markdown: the fit at pi_b (k = 0) and the mean over all fits
    ("–" where nothing was held out)."""
    header = ["N", "algorithm", "held-out NLL (nats) k = 0", "all k", "held-out nMSE k = 0"]
    header += ["all k", "fit ESS k = 0", "all k", "rollout steps off support k = 0", "all k"]
    header += ["epochs (all k)", "runs"]
    formats = {"model_nll": ".2f", "model_nmse": ".4f", "fit_ess": ".0f", "off_support": ".1%"}

    def cell(value: float, spec: str) -> str:
        return "–" if pd.isna(value) else format(value, spec)

    rows = [
        [str(r["n_trajectories"]), algorithms.label(r["algorithm"])]
        + [cell(r[f"{m}_{at}"], spec) for m, spec in formats.items() for at in ("first", "all")]
        + [cell(r["model_epochs_all"], ".0f"), str(r["runs"])]
        for r in health.to_dict("records")
    ]
    return "\n".join(_table(header, "rlrrrrrrrrrr", rows)) + "\n"


def gradient_check_markdown(table: pd.DataFrame) -> str:
    """``tables.gradient_check_table`` as Markdown."""
    header = ["N", "gradient", "cosine with reference", "min", "seeds > 0", "norm / reference"]
    rows = [
        [
            str(r["n_trajectories"]),
            "reference: one half vs the other"
            if r["algorithm"] == "reference_halves"
            else algorithms.label(r["algorithm"]),
            _pm(r["cosine_mean"], r["cosine_std"]),
            f"{r['cosine_min']:.2f}",
            f"{r['positive']:.0%} of {r['seeds']}",
            f"{r['norm_ratio_median']:.2f}",
        ]
        for r in table.to_dict("records")
    ]
    return "\n".join(_table(header, "rlrrrr", rows)) + "\n"


def step_size_markdown(table: pd.DataFrame) -> str:
    """The report's step sizes: per environment and algorithm, the update rule, alpha and, where
    tuned, the tuning score [95% CI] over the tuning seeds."""
    from .. import algorithms

    rows = []
    for row in table.itertuples():
        name = "all (shared)" if row.algorithm == "all" else algorithms.label(row.algorithm)
        if row.tuned and pd.notna(row.score):
            source = f"{_number(row.score)} [{_number(row.ci_low)}, {_number(row.ci_high)}]"
            source += f", {int(row.seeds)} seeds" + (", at the grid's edge" if row.at_edge else "")
        else:
            source = "set in the config"
        rows.append([row.env, name, row.update, f"{row.step_size:g}", source])
    header = ["environment", "algorithm", "update", "α", "tuning score [95% CI]"]
    return "\n".join(_table(header, "lllrl", rows)) + "\n"
