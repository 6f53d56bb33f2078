# Fair tuning (`snakemake tuning`, gamps.tuning): the same grid of step sizes per update rule for
# every algorithm, on tuning seeds apart from the evaluation seeds. Not part of the default
# target: the replication reads the committed selection (`step_size: tuned`).
rule tune:
    input:
        stamp=stamp("tune"),
    output:
        TUNE_RUN,
    log:
        res("logs/tuning/{env}/{algo}/{ascent}_alpha{step}.log"),
    benchmark:
        res("benchmarks/{env}/tune/{algo}/{ascent}_alpha{step}.tsv")
    wildcard_constraints:
        ascent="plain|normalised|adam",
        step=r"[0-9.e+-]+",
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=120,
    params:
        **{
            key: (lambda wc, key=key: rule_params("tune", config, wc.env)[key])
            for key in ("env_config", "seeds")
        },
        # The grid point's alpha, as declared (the wildcard is its label).
        alpha=lambda wc: tuning.grid_point(TUNING[wc.env], wc.ascent, wc.step),
        # The grid's step sizes and update rules share each (seed, N)'s first model fit.
        first_fits=FIRST_FITS,
    script:
        "../scripts/tune.py"


rule tuning_table:
    input:
        stamp=stamp("tuning_table"),
        runs=lambda wc: tuning_runs(wc.env),
    output:
        runs=res("tuning/{env}_runs.csv"),
        table=report(
            res("tuning/{env}.csv"),
            caption="../report/tuning.rst",
            category="Tuning",
        ),
    log:
        res("logs/tuning/{env}_table.log"),
    benchmark:
        res("benchmarks/{env}/tuning_table.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/tuning_table.py"


rule figure5:
    input:
        stamp=stamp("figure5"),
        runs=expand(rules.tuning_table.output.runs, env=ENVS),
        tables=expand(rules.tuning_table.output.table, env=ENVS),
    output:
        report(
            expand(fig("fig5_sensitivity.{ext}"), ext=FORMATS),
            caption="../report/fig5.rst",
            category="Figures",
        ),
    log:
        res("logs/figures/fig5.log"),
    benchmark:
        res("benchmarks/figures/fig5.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **rule_params("figure5", config),
    script:
        "../scripts/figure5.py"


rule fig5:
    input:
        rules.figure5.output,


rule tuning:
    input:
        rules.figure5.output,
        expand(rules.tuning_table.output, env=ENVS),
