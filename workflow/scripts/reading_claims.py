"""One reading's claims, of the environments it reruns, and the record of the stamps they were
computed with, {results}/robustness/{reading}/provenance.json (rule reading_claims)."""

from pathlib import Path

from gamps import experiment, io, provenance
from gamps.analysis import claims

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
statements = claims.gather(sm.input.claims)
io.write_csv(statements, sm.output.statements)
texts = {Path(path).parent.name: Path(path).read_text() for path in sm.input.stamps}
io.atomic_write_text(sm.output.record, provenance.record(texts))
experiment.log.info("%s: %d statements", sm.wildcards.reading, len(statements))
