"""The paper's four claims (REPLICATION_SPEC), each split into statements that a bootstrap
confidence interval and a Wilcoxon test can decide, and the verdicts.

The decision rule is DECISION_RULE (stated at the top of the report).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from os import PathLike

import numpy as np
import pandas as pd

from ..algorithms import label
from . import stats

REPLICATED, NOT_REPLICATED, INCONCLUSIVE = "replicated", "not replicated", "inconclusive"

DECISION_RULE = """\
Each statement says that the mean of a per-seed quantity lies above (or below) a threshold: 0 for
a paired difference between GAMPS and a baseline (runs of one seed share the dataset and the
initial policy), or a stated level. Two tests must agree: the 95% bootstrap confidence interval of
the mean (BCa, `scipy.stats.bootstrap`, 10,000 resamples, seeded) and the two-sided Wilcoxon
signed-rank test of the values against the threshold at the 5% level.

- **replicated**: the CI lies entirely on the side the paper states, and p < 0.05;
- **not replicated**: the CI lies entirely on the other side, and p < 0.05 (the data contradict
  the paper);
- **inconclusive**: otherwise.

Requiring both guards against the optimism of BCa intervals with 10 to 20 runs. A claim is
replicated when all of its statements are, not replicated when any of them is, and inconclusive
otherwise. No correction for multiple comparisons is made. Best-iteration returns are the maximum
of a run's evaluations: where evaluations are noisy (the swimmer's 20 episodes) they overstate
the best policy's return, for every algorithm alike.
"""
VERDICTS = (REPLICATED, NOT_REPLICATED, INCONCLUSIVE)

#: The paper's statements, as REPLICATION_SPEC words them.
CLAIMS = {
    1: (
        "Figure 1",
        "The GAMPS weighting avoids transitions where the policy cannot be improved: eta puts far "
        "less mass than delta on the lower area.",
    ),
    2: (
        "Figure 2",
        "For every dataset size, the GAMPS learning curve is above the baselines, also at each "
        "algorithm's best iteration; with scarce data all algorithms struggle.",
    ),
    3: (
        "Figure 3 (minigolf)",
        "GAMPS beats all baselines in terminal and in maximum performance, overfits less, and its "
        "final policy puts the ball in the hole most of the time.",
    ),
    4: (
        "Figure 3 (swimmer)",
        "GAMPS beats all baselines in terminal and in maximum performance.",
    ),
}
#: The environment each claim is measured on.
CLAIM_ENV = {1: "gridworld", 2: "gridworld", 3: "minigolf", 4: "swimmer"}
#: "Struggle" (claim 2): at the smallest N, an algorithm improves J by less than this fraction of
#: the largest mean improvement any algorithm reaches at any N of the figure.
STRUGGLE_FRACTION = 0.25
#: "Most of the time" (claim 3): a final hole rate above one half.
MOST_OF_THE_TIME = 0.5
#: Level of the Wilcoxon signed-rank test that must agree with the CI.
ALPHA = 0.05


@dataclass(frozen=True)
class Statement:
    claim: int
    env: str
    statement: str
    n_trajectories: int | None
    estimate: float
    ci_low: float
    ci_high: float
    threshold: float
    p_value: float
    verdict: str
    detail: str = ""


#: The columns of a table of statements (claims.csv).
COLUMNS = [field.name for field in fields(Statement)]


def decide(
    ci_low: float, ci_high: float, p_value: float, threshold: float = 0.0, above: bool = True
) -> str:
    """The verdict of 'the mean is above (or below) ``threshold``' from its CI and the Wilcoxon
    p-value against the threshold."""
    low, high = (ci_low, ci_high) if above else (-ci_high, -ci_low)
    limit = threshold if above else -threshold
    if not p_value < ALPHA:
        return INCONCLUSIVE
    if low > limit:
        return REPLICATED
    if high < limit:
        return NOT_REPLICATED
    return INCONCLUSIVE


def claim_verdict(verdicts: Iterable[str]) -> str:
    """The verdict of a claim from those of its statements (DECISION_RULE)."""
    verdicts = list(verdicts)
    if verdicts and all(v == REPLICATED for v in verdicts):
        return REPLICATED
    if NOT_REPLICATED in verdicts:
        return NOT_REPLICATED
    return INCONCLUSIVE


def beats_baselines(
    claim: int, comparisons: pd.DataFrame, outcomes: Sequence[str] = ("final", "best")
) -> list[Statement]:
    """'GAMPS is above <baseline> in <outcome>' for every N, baseline and outcome: the paired
    difference GAMPS - baseline is above 0."""
    words = {"final": "final J", "best": "best-iteration J"}
    return [
        _paired(claim, r, f"GAMPS above {label(r.baseline)} in {words[r.outcome]}", above=True)
        for r in comparisons[comparisons["outcome"].isin(outcomes)].itertuples()
    ]


def overfits_less(claim: int, comparisons: pd.DataFrame) -> list[Statement]:
    """'GAMPS overfits less than <baseline>': the paired difference of the return lost after the
    best iteration (best - final), GAMPS - baseline, is below 0."""
    return [
        _paired(claim, r, f"GAMPS overfits less than {label(r.baseline)} (best − final J)")
        for r in comparisons[comparisons["outcome"] == "overfit"].itertuples()
    ]


def _paired(claim: int, r, text: str, above: bool = False) -> Statement:
    """A statement on one row of ``tables.paired_comparisons``."""
    return Statement(
        claim,
        CLAIM_ENV[claim],
        text,
        int(r.n_trajectories),
        float(r.mean_difference),
        float(r.ci_low),
        float(r.ci_high),
        0.0,
        float(r.wilcoxon_p),
        decide(r.ci_low, r.ci_high, r.wilcoxon_p, above=above),
        f"GAMPS {r.reference_mean:.3f} vs {r.baseline_mean:.3f}; wins {r.wins}/{r.pairs}, "
        f"P(improvement) {r.probability_of_improvement:.2f}",
    )


def _one_sample(
    claim, text, n: int, values, threshold, key, detail, above=True, seed=0
) -> Statement:
    """'The mean of ``values`` (one per seed) is above (or below) ``threshold``': its BCa CI and
    the Wilcoxon p-value of ``values - threshold``."""
    low, high = stats.bootstrap_ci(values, seed=stats.group_seed(seed, *key))
    p = stats.wilcoxon_p(values - threshold)
    verdict = decide(low, high, p, threshold, above)
    return Statement(
        claim, CLAIM_ENV[claim], text, n, float(values.mean()), float(low), float(high),
        float(threshold), p, verdict, detail,
    )  # fmt: skip


def holes_most_of_the_time(claim: int, outcomes: pd.DataFrame) -> Statement:
    """'GAMPS's final policy holes the ball most of the time': mean final hole rate above 1/2."""
    rates = _sorted_values(outcomes, "gamps", "final_hole_rate")
    n = int(outcomes["n_trajectories"].iloc[0])
    return _one_sample(
        claim,
        "GAMPS's final policy puts the ball in the hole most of the time (rate above 1/2)",
        n,
        rates,
        MOST_OF_THE_TIME,
        ("hole_rate", n),
        f"final hole rate {rates.mean():.3f} ± {rates.std(ddof=1):.3f} over {rates.size} runs",
    )


def scarce_data_struggles(claim: int, outcomes: pd.DataFrame) -> list[Statement]:
    """'With scarce data all algorithms struggle': at the smallest N, each algorithm's mean
    improvement of J over the initial policy (final - initial) is below STRUGGLE_FRACTION of the
    largest mean improvement of any algorithm at any N."""
    gain = outcomes.assign(gain=outcomes["final"] - outcomes["initial"])
    best = gain.groupby(["algorithm", "n_trajectories"])["gain"].mean().max()
    smallest = int(gain["n_trajectories"].min())
    scarce = gain[gain["n_trajectories"] == smallest]
    statements = []
    for algorithm in gain["algorithm"].unique():
        values = _sorted_values(scarce, algorithm, "gain")
        statements.append(
            _one_sample(
                claim,
                f"{label(algorithm)} struggles with scarce data (improvement "
                f"below {STRUGGLE_FRACTION:g} × the best mean improvement)",
                smallest,
                values,
                STRUGGLE_FRACTION * best,
                ("struggle", algorithm, smallest),
                f"final − initial J {values.mean():.3f}; best mean improvement in the figure "
                f"{best:.3f}",
                above=False,
            )
        )
    return statements


def lower_area_mass(claim: int, masses: pd.DataFrame) -> Statement:
    """'eta puts less mass than delta on the lower area': the paired difference delta - eta of
    the lower-area masses (one behaviour policy per seed) is above 0."""
    masses = masses.sort_values("seed")
    d = (masses["delta_lower"] - masses["eta_lower"]).to_numpy()
    delta, eta = masses["delta_lower"], masses["eta_lower"]
    return _one_sample(
        claim,
        "eta puts less mass than delta on the lower area (delta − eta)",
        int(masses["n_trajectories"].iloc[0]),
        d,
        0.0,
        ("lower_area",),
        f"lower-area mass: delta {delta.mean():.3f} ± {delta.std(ddof=1):.3f}, eta "
        f"{eta.mean():.3f} ± {eta.std(ddof=1):.3f}; eta lower in {int(np.sum(d > 0))}/{d.size} "
        "behaviour policies",
    )


def evaluate_claims(
    masses: pd.DataFrame | None,
    outcomes: dict[str, pd.DataFrame],
    comparisons: dict[str, pd.DataFrame],
) -> pd.DataFrame:
    """Every statement of the claims whose data are present, one row each."""
    statements = []
    if masses is not None:
        statements.append(lower_area_mass(1, masses))
    if "gridworld" in comparisons:
        statements += beats_baselines(2, comparisons["gridworld"])
        statements += scarce_data_struggles(2, outcomes["gridworld"])
    if "minigolf" in comparisons:
        statements += beats_baselines(3, comparisons["minigolf"])
        statements += overfits_less(3, comparisons["minigolf"])
        statements.append(holes_most_of_the_time(3, outcomes["minigolf"]))
    if "swimmer" in comparisons:
        statements += beats_baselines(4, comparisons["swimmer"])
    return pd.DataFrame([asdict(s) for s in statements])


def _exact_float(text: str) -> float:
    return float(text) if text else float("nan")


def read_statements(path: str | PathLike[str]) -> pd.DataFrame:
    """A table of statements as written by the rule ``claims``, every float read back exactly
    (Python's ``float`` inverts the shortest repr that pandas writes)."""
    numbers = ("estimate", "ci_low", "ci_high", "threshold", "p_value")
    frame = pd.read_csv(
        path, converters=dict.fromkeys(numbers, _exact_float), dtype={"detail": str}
    )
    return frame.assign(detail=frame["detail"].fillna(""))


def gather(paths: Iterable[str | PathLike[str]]) -> pd.DataFrame:
    """The statements of several tables (one per environment), in order."""
    frames = [frame for frame in map(read_statements, paths) if len(frame)]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


def claim_summary(statements: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: its figure, the paper's words, the verdict and the statement counts."""
    rows = []
    for claim, (figure, text) in CLAIMS.items():
        verdicts = statements.loc[statements["claim"] == claim, "verdict"].tolist()
        rows.append(
            {
                "claim": claim,
                "figure": figure,
                "paper": text,
                "verdict": claim_verdict(verdicts) if verdicts else "not measured",
                **{v.replace(" ", "_"): verdicts.count(v) for v in VERDICTS},
            }
        )
    return pd.DataFrame(rows)


def _sorted_values(frame: pd.DataFrame, algorithm: str, column: str) -> np.ndarray:
    rows = frame[frame["algorithm"] == algorithm].sort_values("seed")
    return rows[column].to_numpy(dtype=float)
