# The GAMPS replication: `snakemake --cores 8` regenerates every figure and table.
from pathlib import Path

from snakemake.utils import min_version, validate

from gamps import readings

min_version("8.20")


configfile: Path(workflow.basedir) / "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")
# The readings of `snakemake robustness`, each checked before anything is written.
READINGS = readings.load(config, workflow.basedir)
# Every rule is stamped (gamps.provenance; a reading's module stamps only its own).
STAMPED = None


include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/diagnostics.smk"
include: "workflow/rules/statistics.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/provenance.smk"
include: "workflow/rules/tuning.smk"
include: "workflow/rules/robustness.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        rules.fig1.input,
        rules.fig2.input,
        rules.fig3.input,
        rules.fig4.input,
        rules.gridworld_weights.output,
        rules.gradient_bias_summary.output,
        rules.gradient_used_summary.output,
        expand(rules.aggregate.output, env=ENVS),
        rules.replication_report.output,
        rules.provenance.output,
