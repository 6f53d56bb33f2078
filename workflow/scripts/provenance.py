"""results/provenance.json: every stamp the outputs were computed with (rule provenance)."""

from pathlib import Path

from gamps import experiment, io, provenance

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
texts = {Path(path).parent.name: Path(path).read_text() for path in sm.input.stamps}
io.atomic_write_text(sm.output[0], provenance.record(texts))
experiment.log.info("%d stamps recorded", len(texts))
