"""The replication report (results/REPORT.md): every claim, the provenance and the compute."""

from __future__ import annotations

import re

import numpy as np
from test_claims import curves, evaluate

from gamps.analysis import claims, report, tables


def test_report_renders_every_claim_and_the_provenance(tmp_path):
    statements = evaluate("swimmer", curves(gamps_gain=1.0, n_values=(100,)))
    summary = claims.claim_summary(statements)
    bench = tmp_path / "benchmarks"
    (bench / "swimmer/train/gamps").mkdir(parents=True)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for seed, seconds in enumerate((12.5, 7.5)):
        (bench / f"swimmer/train/gamps/N100_seed{seed}.tsv").write_text(
            header + f"{seconds}\t0:00:12\t{400 + seed}\t1\t1\t1\t0\t0\t90\t12\n"
        )
    (bench / "swimmer/aggregate.tsv").write_text(header + "1.0\t0:00:01\t-\t-\t-\t-\t-\t-\t-\t-\n")
    compute = tables.compute_time(bench)
    rows = compute.set_index("stage")
    assert list(rows.index) == ["aggregate", "train"] and (compute["env"] == "swimmer").all()
    assert rows.loc["train", "jobs"] == 2 and rows.loc["train", "seconds"] == 20.0
    assert rows.loc["train", "max_rss_mb"] == 401.0 and np.isnan(
        rows.loc["aggregate", "max_rss_mb"]
    )
    info = report.provenance(tmp_path)  # not a git checkout
    assert info["commit"].startswith("unknown") and info["numpy"] == np.__version__
    text = report.assemble(summary, statements, {}, {}, {}, "", info, compute, "test configuration")
    assert "test configuration" in text and "## Decision rule" in text
    for claim in claims.CLAIMS:
        assert f"## Claim {claim}:" in text
    assert "| 4 | Figure 3 (swimmer) |" in text and "**replicated**" in text
    assert text.count("Not measured by this configuration.") == 3
    assert "3 jobs, 21 s of summed job time (0.3 min) and 24 s of CPU time" in text
    assert "401 MB" in text and "| swimmer | aggregate | 1 | 1.0 | 0.0 | – |" in text
    assert "Last full run" not in text
    assert not re.search(r"\bnan\b", text, re.IGNORECASE)


def test_report_places_each_table_under_its_claim():
    statements = evaluate("swimmer", curves(gamps_gain=1.0, n_values=(100,)))
    summary = claims.claim_summary(statements)
    pieces = {"swimmer": "### swimmer outcomes\n"}, {"swimmer": "### swimmer comparisons\n"}
    text = report.assemble(
        summary,
        statements,
        *pieces,
        {"swimmer": "| ESS table |\n"},
        "### Beyond the paper: toy\n\nbody\n",
        {"commit": "abc"},
        tables.compute_time("no-benchmarks-here"),
        "toy",
    )
    claim4 = text.index("## Claim 4:")
    assert claim4 < text.index("### swimmer outcomes") < text.index("### swimmer comparisons")
    assert text.index("#### swimmer: health of the importance weights") > claim4
    assert "\n## Beyond the paper: toy\n" in text  # promoted to a section of the report
    assert text.index("## Beyond the paper") < text.index("## Software, platform and compute")
    assert text.endswith("- **commit**: abc\n") and "summed job time" not in text
    verdicts = text[text.index("## Verdicts") : text.index("## Claim 1:")]
    assert verdicts.count("\n| ") == 1 + len(claims.CLAIMS)  # header and one row per claim
