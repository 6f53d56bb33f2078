"""The claims' verdicts under each reading of what the paper leaves open (``snakemake
robustness``): every statement's verdict per reading (results/robustness/verdicts.csv), each
claim's verdict per reading, and per claim under how many readings it holds and which readings
flip it relative to the main replication. DataFrames in, DataFrames out; ``render`` and
``report`` write them, ``plots.figure6`` draws them.

A reading reruns only the environments it changes, so it has rows for their statements only; a
missing row means "not rerun" (that statement is the main replication's under that reading).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .claims import CLAIMS, VERDICTS, claim_verdict

#: The baseline: the run's own claims (results/claims.csv).
MAIN = "main"
#: The columns of results/robustness/verdicts.csv.
COLUMNS = [
    "reading",
    "claim",
    "env",
    "statement",
    "n_trajectories",
    "estimate",
    "ci_low",
    "ci_high",
    "p",
    "verdict",
]
#: What identifies a statement across readings.
KEY = ["claim", "env", "statement", "n_trajectories"]


def verdict_table(main: pd.DataFrame, readings: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every statement of ``main`` and of each reading (tables of ``claims.evaluate_claims``), a
    row each, ``main`` first and the readings in the given order."""
    frames = [
        frame.assign(reading=name) for name, frame in {MAIN: main, **readings}.items() if len(frame)
    ]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    table = pd.concat(frames, ignore_index=True).rename(columns={"p_value": "p"})
    return table[COLUMNS]


def claim_verdicts(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Each claim's verdict under each reading that reran it (the report's decision rule over its
    statements), with the counts of its statements' verdicts; readings in table order."""
    rows = []
    for (reading, claim), group in verdicts.groupby(["reading", "claim"], sort=False):
        found = group["verdict"].tolist()
        counts = {v.replace(" ", "_"): found.count(v) for v in VERDICTS}
        rows.append({"reading": reading, "claim": claim, "verdict": claim_verdict(found), **counts})
    return pd.DataFrame(rows, columns=["reading", "claim", "verdict", *_counts()])


def claim_matrix(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Each claim's verdict (columns, by claim) under each reading (rows, in table order), with
    its statements' counts: ``"<verdict> (<replicated>/<not>/<inconclusive>)"``; empty where the
    reading did not rerun the claim."""
    by_claim = claim_verdicts(verdicts)
    cells = {
        (r.reading, r.claim): f"{r.verdict} ({r.replicated}/{r.not_replicated}/{r.inconclusive})"
        for r in by_claim.itertuples()
    }
    readings = list(dict.fromkeys(verdicts["reading"]))
    return pd.DataFrame(
        [[cells.get((reading, claim), "") for claim in CLAIMS] for reading in readings],
        index=pd.Index(readings, name="reading"),
        columns=list(CLAIMS),
    )


def statement_flips(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Every statement whose verdict under a reading differs from its verdict under ``main``
    (``main`` is empty where main has no such statement)."""
    main = verdicts[verdicts["reading"] == MAIN].set_index(KEY)["verdict"].rename("main")
    others = verdicts[verdicts["reading"] != MAIN].join(main, on=KEY)
    others["main"] = others["main"].fillna("")
    flipped = others[others["verdict"] != others["main"]]
    return flipped[["reading", *KEY, "main", "verdict"]].reset_index(drop=True)


def claim_summary(verdicts: pd.DataFrame) -> pd.DataFrame:
    """One row per claim: its verdict under ``main``, how many readings reran it and under how
    many of those it is replicated, not replicated or inconclusive, and the readings whose verdict
    of the claim differs from main's (``flipped_by``: ``reading (verdict)``, ``; ``-separated)."""
    by_claim = claim_verdicts(verdicts)
    rows = []
    for claim, (figure, _) in CLAIMS.items():
        rows_of = by_claim[by_claim["claim"] == claim]
        main = rows_of.loc[rows_of["reading"] == MAIN, "verdict"]
        main_verdict = main.iloc[0] if len(main) else "not measured"
        others = rows_of[rows_of["reading"] != MAIN]
        found = others["verdict"].tolist()
        flips = others[others["verdict"] != main_verdict]
        rows.append(
            {
                "claim": claim,
                "figure": figure,
                "main": main_verdict,
                "readings": len(others),
                **{v.replace(" ", "_"): found.count(v) for v in VERDICTS},
                "flipped_by": "; ".join(f"{r.reading} ({r.verdict})" for r in flips.itertuples()),
            }
        )
    return pd.DataFrame(rows)


def _counts() -> list[str]:
    return [v.replace(" ", "_") for v in VERDICTS]
