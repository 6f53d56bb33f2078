# One reading of `snakemake robustness`, loaded as a Snakemake module per reading with that
# reading's config (workflow/rules/robustness.smk): the main pipeline's own rules, from the
# datasets to the claims' verdicts, writing under the reading's results root. Its config holds
# the environments the reading reruns only.
STAMPED = ["claims"]


include: "rules/common.smk"
include: "rules/datasets.smk"
include: "rules/train.smk"
include: "rules/aggregate.smk"
include: "rules/statistics.smk"
