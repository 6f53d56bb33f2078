# Statistics, tables and the replication report (results/REPORT.md).
TABLE_ENVS = ENVS


rule lower_area_mass:
    input:
        data=expand(
            rules.collect_dataset.output.data,
            env="gridworld",
            n=config["gridworld"]["figure1_trajectories"],
            seed=range(config["gridworld"]["seeds"]),
        ),
    output:
        "results/gridworld/lower_area_mass.csv",
    log:
        "results/logs/gridworld/lower_area_mass.log",
    benchmark:
        "results/benchmarks/gridworld/lower_area_mass.tsv"
    conda:
        CONDA_ENV
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
        curves=rules.aggregate.output.curves,
    output:
        outcomes="results/{env}/outcomes.csv",
        table=report(
            "results/tables/{env}_outcomes.csv",
            caption="../report/outcomes.rst",
            category="Tables",
            subcategory="{env}",
        ),
        markdown="results/tables/{env}_outcomes.md",
        latex="results/tables/{env}_outcomes.tex",
        comparisons=report(
            "results/tables/{env}_comparisons.csv",
            caption="../report/comparisons.rst",
            category="Tables",
            subcategory="{env}",
        ),
        comparisons_markdown="results/tables/{env}_comparisons.md",
    log:
        "results/logs/{env}/tables.log",
    benchmark:
        "results/benchmarks/{env}/tables.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/tables.py"


rule replication_report:
    input:
        masses=rules.lower_area_mass.output[0],
        curves=expand(rules.aggregate.output.curves, env=TABLE_ENVS),
        outcomes=expand(rules.tables.output.outcomes, env=TABLE_ENVS),
        comparisons=expand(rules.tables.output.comparisons, env=TABLE_ENVS),
        tables=expand(rules.tables.output.markdown, env=TABLE_ENVS),
        comparison_tables=expand(
            rules.tables.output.comparisons_markdown, env=TABLE_ENVS
        ),
        beyond=rules.gradient_bias_summary.output.markdown,
    output:
        report=report(
            "results/REPORT.md",
            caption="../report/replication_report.rst",
            category="Replication report",
        ),
        statements=report(
            "results/claims.csv",
            caption="../report/claims.rst",
            category="Replication report",
        ),
        summary="results/claims_summary.csv",
    log:
        "results/logs/replication_report.log",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **rule_params("replication_report", config),
        envs=TABLE_ENVS,
        root=workflow.basedir,
    script:
        "../scripts/replication_report.py"


# The report links the figures but does not read them: restyling a figure redraws only it.
rule replication:
    input:
        rules.replication_report.output,
        rules.figure1.output,
        rules.figure2.output,
        rules.figure3.output,
        rules.figure4.output,
