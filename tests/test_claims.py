"""The claims' decision rule and statements, on outcomes built to have known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gamps.analysis import claims, tables
from gamps.analysis.claims import INCONCLUSIVE, NOT_REPLICATED, REPLICATED

SEEDS = 10


@pytest.mark.parametrize(
    ("low", "high", "p", "threshold", "above", "verdict"),
    [
        (0.1, 0.5, 0.01, 0.0, True, REPLICATED),
        (-0.5, -0.1, 0.01, 0.0, True, NOT_REPLICATED),
        (-0.1, 0.5, 0.01, 0.0, True, INCONCLUSIVE),
        (0.1, 0.5, 0.2, 0.0, True, INCONCLUSIVE),  # the Wilcoxon test must agree
        (0.1, 0.5, 0.01, 0.0, False, NOT_REPLICATED),
        (-0.5, -0.1, 0.01, 0.0, False, REPLICATED),
        (0.6, 0.9, 0.01, 0.5, True, REPLICATED),
        (0.3, 0.45, 0.01, 0.5, True, NOT_REPLICATED),
        (0.3, 0.45, 0.01, 0.5, False, REPLICATED),
        (0.3, 0.6, 0.01, 0.5, True, INCONCLUSIVE),
        (0.1, 0.5, float("nan"), 0.0, True, INCONCLUSIVE),
    ],
)
def test_decide(low, high, p, threshold, above, verdict):
    assert claims.decide(low, high, p, threshold, above) == verdict


def test_claim_verdict():
    assert claims.claim_verdict([REPLICATED, REPLICATED]) == REPLICATED
    assert claims.claim_verdict([REPLICATED, INCONCLUSIVE]) == INCONCLUSIVE
    assert claims.claim_verdict([REPLICATED, INCONCLUSIVE, NOT_REPLICATED]) == NOT_REPLICATED
    assert claims.claim_verdict([]) == INCONCLUSIVE


def curves(gamps_gain: float, spread: float = 0.05, n_values=(10, 100), iterations=5, seed=0):
    """Learning curves of the four algorithms: paired seeds start at the same J; each baseline
    gains 0.2 by the last iteration, GAMPS ``gamps_gain``, plus per-run noise of std ``spread``."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in n_values:
        for s in range(SEEDS):
            start = rng.normal(-10.0, 1.0)
            for algorithm in ("gamps", "ml", "reinforce", "pgt"):
                gain = gamps_gain if algorithm == "gamps" else 0.2
                gain += rng.normal(0.0, spread)
                for k in range(iterations + 1):
                    j = start + gain * k / iterations
                    rows.append((algorithm, n, s, k, j, 0.9 if algorithm == "gamps" else 0.5))
    columns = ["algorithm", "n_trajectories", "seed", "iteration", "return", "hole_rate"]
    return pd.DataFrame(rows, columns=columns)


def evaluate(env: str, frame: pd.DataFrame, masses=None) -> pd.DataFrame:
    outcomes = tables.run_outcomes(frame)
    comparisons = tables.paired_comparisons(outcomes, n_resamples=2000)
    return claims.evaluate_claims(masses, {env: outcomes}, {env: comparisons})


def test_a_clear_win_on_every_seed_replicates_claim_4():
    statements = evaluate("swimmer", curves(gamps_gain=1.0, n_values=(100,)))
    assert len(statements) == 6  # 3 baselines x (final, best)
    assert (statements["claim"] == 4).all()
    assert (statements["verdict"] == REPLICATED).all()
    assert (statements["ci_low"] > 0).all() and (statements["p_value"] < 0.01).all()
    summary = claims.claim_summary(statements)
    assert summary.set_index("claim").loc[4, "verdict"] == REPLICATED
    assert summary.set_index("claim").loc[1, "verdict"] == "not measured"


def test_a_clear_loss_is_not_replicated_and_a_tie_is_inconclusive():
    lost = evaluate("swimmer", curves(gamps_gain=-0.5, n_values=(100,)))
    assert (lost["verdict"] == NOT_REPLICATED).all()
    assert claims.claim_summary(lost).set_index("claim").loc[4, "verdict"] == NOT_REPLICATED
    tied = evaluate("swimmer", curves(gamps_gain=0.2, spread=0.3, n_values=(100,)))
    assert (tied["verdict"] == INCONCLUSIVE).all()


def test_minigolf_statements():
    frame = curves(gamps_gain=1.0, n_values=(50,))
    statements = evaluate("minigolf", frame).set_index("statement")
    assert len(statements) == 6 + 3 + 1
    holes = statements.loc[statements.index.str.contains("hole")].iloc[0]
    assert holes["verdict"] == REPLICATED and holes["estimate"] == pytest.approx(0.9)
    assert holes["threshold"] == claims.MOST_OF_THE_TIME
    # monotone curves: nothing is lost after the best iteration by anyone, so no difference
    overfit = statements.loc[statements.index.str.contains("overfits")]
    assert len(overfit) == 3 and (overfit["verdict"] == INCONCLUSIVE).all()
    # a GAMPS that peaks then falls back overfits more than the steady baselines
    frame.loc[(frame["algorithm"] == "gamps") & (frame["iteration"] == 2), "return"] += 5.0
    overfit = evaluate("minigolf", frame).set_index("statement")
    overfit = overfit.loc[overfit.index.str.contains("overfits")]
    assert (overfit["verdict"] == NOT_REPLICATED).all()


def test_scarce_data_struggle_and_lower_area_statements():
    frame = curves(gamps_gain=1.0)
    small = frame["n_trajectories"] == 10
    # at N = 10 nobody moves: every run keeps its initial J
    start = frame[small].groupby(["algorithm", "seed"])["return"].transform("first")
    frame.loc[small, "return"] = start + np.random.default_rng(1).normal(0, 1e-3, small.sum())
    masses = pd.DataFrame(
        {
            "seed": range(SEEDS),
            "n_trajectories": 1000,
            "delta_lower": np.linspace(0.8, 0.9, SEEDS),
            "eta_lower": np.linspace(0.3, 0.5, SEEDS),
        }
    )
    statements = evaluate("gridworld", frame, masses)
    struggle = statements[statements["statement"].str.contains("struggles")]
    assert len(struggle) == 4 and (struggle["n_trajectories"] == 10).all()
    assert (struggle["verdict"] == REPLICATED).all()
    assert struggle["threshold"].iloc[0] == pytest.approx(claims.STRUGGLE_FRACTION * 1.0, rel=0.1)
    lower = statements[statements["claim"] == 1].iloc[0]
    assert lower["verdict"] == REPLICATED
    assert lower["estimate"] == pytest.approx(0.85 - 0.4)
    assert "10/10" in lower["detail"]
    # claim 2 mixes wins at N = 100 with ties at N = 10: inconclusive overall
    summary = claims.claim_summary(statements).set_index("claim")
    assert summary.loc[1, "verdict"] == REPLICATED
    assert summary.loc[2, "verdict"] == INCONCLUSIVE
