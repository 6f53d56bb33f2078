# `snakemake robustness` (not part of the default target): the claims rerun under each reading of
# what the paper leaves open (READINGS: config/readings.yaml, checked in the Snakefile before
# anything is written). Each reading is a module of workflow/reading.smk with the reading's config:
# the main pipeline's own rules, named {reading}__{rule}, writing and stamping under
# {results}/robustness/{reading}/. A reading reruns only the environments it changes; `main` is
# this run's own claims.csv.
ROBUSTNESS = res("robustness")
MAIN_SEEDS = {env: config[env]["seeds"] for env in ENVS}
# Reading -> its claims of each environment it reruns, and its stamp files (its record).
READING_CLAIMS = {}
READING_STAMP_FILES = {}

# The readings that change a setting of this config (the others are the main replication).
RERUN = [name for name, reading in READINGS.items() if reading.envs]

for READING in (READINGS[name] for name in RERUN):
    MODULE = READING.module
    PREFIX = READING.prefix

    module:
        name: MODULE
        snakefile:
            "../reading.smk"
        config:
            READING.module_config

    use rule * from MODULE as PREFIX*

    # The module wrote its stamps when it was read: prune them with the main ones.
    READING_STAMPS = provenance.stamps(
        READING.module_config, workflow.basedir, ["claims"]
    )
    STAMP_SETS[f"{READING.results}/.stamps"] = READING_STAMPS
    READING_STAMP_FILES[READING.name] = [
        str(provenance.stamp_path(f"{READING.results}/.stamps", name, text))
        for name, text in READING_STAMPS.items()
    ]
    READING_CLAIMS[READING.name] = expand(
        getattr(rules, f"{PREFIX}claims").output[0], env=READING.envs
    )


rule reading_claims:
    input:
        stamp=stamp("reading_claims"),
        claims=lambda wc: READING_CLAIMS[wc.reading],
        stamps=lambda wc: READING_STAMP_FILES[wc.reading],
    output:
        statements=f"{ROBUSTNESS}/{{reading}}/claims.csv",
        record=f"{ROBUSTNESS}/{{reading}}/provenance.json",
    log:
        f"{ROBUSTNESS}/{{reading}}/logs/claims.log",
    benchmark:
        f"{ROBUSTNESS}/{{reading}}/benchmarks/claims.tsv"
    wildcard_constraints:
        reading=alternatives(RERUN),
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/reading_claims.py"


rule verdicts:
    input:
        stamp=stamp("verdicts"),
        main=rules.replication_report.output.statements,
        readings=expand(rules.reading_claims.output.statements, reading=RERUN),
    output:
        verdicts=report(
            f"{ROBUSTNESS}/verdicts.csv",
            caption="../report/verdicts.rst",
            category="Robustness",
        ),
        summary=f"{ROBUSTNESS}/claims_summary.csv",
        markdown=report(
            f"{ROBUSTNESS}/ROBUSTNESS.md",
            caption="../report/robustness.rst",
            category="Robustness",
        ),
    log:
        f"{ROBUSTNESS}/logs/verdicts.log",
    benchmark:
        f"{ROBUSTNESS}/benchmarks/verdicts.tsv"
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        **rule_params("verdicts", config),
        readings=readings.describe(READINGS.values()),
        rerun=RERUN,
        main_seeds=MAIN_SEEDS,
        figures=os.path.relpath(FIGURES, ROBUSTNESS),
    script:
        "../scripts/verdicts.py"


rule figure6:
    input:
        stamp=stamp("figure6"),
        verdicts=rules.verdicts.output.verdicts,
    output:
        report(
            expand(fig("fig6_robustness.{ext}"), ext=FORMATS),
            caption="../report/fig6.rst",
            category="Figures",
        ),
    log:
        f"{ROBUSTNESS}/logs/fig6.log",
    benchmark:
        f"{ROBUSTNESS}/benchmarks/fig6.tsv"
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **rule_params("figure6", config),
    script:
        "../scripts/figure6.py"


rule robustness:
    input:
        rules.verdicts.output,
        rules.figure6.output,


# One reading alone: `snakemake robustness_walled` (its claims and its record).
for READING in (READINGS[name] for name in RERUN):

    rule:
        name:
            f"robustness_{READING.name}"
        input:
            expand(rules.reading_claims.output, reading=READING.name),
