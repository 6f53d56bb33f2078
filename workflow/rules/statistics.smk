# Statistics and the claims' verdicts, per environment: claim 1's lower-area masses (gridworld),
# the outcome and comparison tables, and the statements of the claims measured on it. The report
# and each reading of `snakemake robustness` take the verdicts from the same rule `claims`.


# Claim 1 is measured on the gridworld (a reading may rerun other environments only).
if "gridworld" in ENVS:

    rule lower_area_mass:
        input:
            stamp=stamp("lower_area_mass"),
            data=expand(
                f"{DATASET}.npz",
                env="gridworld",
                n=config["gridworld"]["figure1_trajectories"],
                seed=range(config["gridworld"]["seeds"]),
            ),
        output:
            res("gridworld/lower_area_mass.csv"),
        log:
            res("logs/gridworld/lower_area_mass.log"),
        benchmark:
            res("benchmarks/gridworld/lower_area_mass.tsv")
        conda:
            "../envs/gamps.yaml"
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        params:
            **rule_params("lower_area_mass", config),
        script:
            "../scripts/lower_area_mass.py"


rule tables:
    input:
        stamp=stamp("tables"),
        curves=rules.aggregate.output.curves,
    output:
        outcomes=res("{env}/outcomes.csv"),
        table=report(
            res("tables/{env}_outcomes.csv"),
            caption="../report/outcomes.rst",
            category="Tables",
            subcategory="{env}",
        ),
        markdown=res("tables/{env}_outcomes.md"),
        latex=res("tables/{env}_outcomes.tex"),
        comparisons=report(
            res("tables/{env}_comparisons.csv"),
            caption="../report/comparisons.rst",
            category="Tables",
            subcategory="{env}",
        ),
        comparisons_markdown=res("tables/{env}_comparisons.md"),
    log:
        res("logs/{env}/tables.log"),
    benchmark:
        res("benchmarks/{env}/tables.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/tables.py"


rule claims:
    input:
        stamp=stamp("claims"),
        outcomes=rules.tables.output.outcomes,
        comparisons=rules.tables.output.comparisons,
        # Claim 1 is measured on the gridworld: the masses delta and eta put on the lower area.
        masses=lambda wc: rules.lower_area_mass.output if wc.env == "gridworld" else [],
    output:
        res("{env}/claims.csv"),
    log:
        res("logs/{env}/claims.log"),
    benchmark:
        res("benchmarks/{env}/claims.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/claims.py"
