# The replication report (results/REPORT.md).
TABLE_ENVS = ENVS


rule replication_report:
    input:
        stamp=stamp("replication_report"),
        claims=expand(rules.claims.output[0], env=TABLE_ENVS),
        curves=expand(rules.aggregate.output.curves, env=TABLE_ENVS),
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
