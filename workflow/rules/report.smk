# Statistics, tables and the replication report (results/REPORT.md).
TABLE_ENVS = ENVS


rule lower_area_mass:
    input:
        stamp=stamp("lower_area_mass"),
        data=expand(
            rules.collect_dataset.output.data,
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


rule replication_report:
    input:
        stamp=stamp("replication_report"),
        masses=rules.lower_area_mass.output[0],
        curves=expand(rules.aggregate.output.curves, env=TABLE_ENVS),
        outcomes=expand(rules.tables.output.outcomes, env=TABLE_ENVS),
        comparisons=expand(rules.tables.output.comparisons, env=TABLE_ENVS),
        tables=expand(rules.tables.output.markdown, env=TABLE_ENVS),
        comparison_tables=expand(
            rules.tables.output.comparisons_markdown, env=TABLE_ENVS
        ),
        beyond=rules.gradient_bias_summary.output.markdown,
        gradient_check=rules.gradient_check_summary.output[0],
        gradient_used=rules.gradient_used_summary.output.markdown,
    output:
        report=report(
            res("REPORT.md"),
            caption="../report/replication_report.rst",
            category="Replication report",
        ),
        statements=report(
            res("claims.csv"),
            caption="../report/claims.rst",
            category="Replication report",
        ),
        summary=res("claims_summary.csv"),
    log:
        res("logs/replication_report.log"),
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **rule_params("replication_report", config),
        envs=TABLE_ENVS,
        root=workflow.basedir,
        # The report links the figures relative to its own folder.
        results=lambda wc, output: os.path.dirname(output.report),
        figures=os.path.relpath(FIGURES, RESULTS),
        benchmarks=res("benchmarks"),
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
