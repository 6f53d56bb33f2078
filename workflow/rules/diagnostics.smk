# Beyond the paper: exact gradient-bias diagnostics on the gridworld (Theorem 3.2, Lemma 4.1).
GRIDWORLD_N = config["gridworld"]["n_trajectories"]
# Each gridworld diagnostic runs every seed in one job (a seed's part costs a few job starts),
# still writing one file per seed.
GRIDWORLD_SEEDS = seed_range("gridworld")


rule gradient_bias:
    input:
        stamp=stamp("gradient_bias"),
        # Seed-major: every N of seed 0, then of seed 1, ... (the script reads them so).
        data=expand(
            f"{DATASET}.npz", env="gridworld", seed=GRIDWORLD_SEEDS, n=GRIDWORLD_N
        ),
        meta=expand(
            f"{DATASET}.json", env="gridworld", seed=GRIDWORLD_SEEDS, n=GRIDWORLD_N
        ),
        runs=expand(
            RUN, env="gridworld", algo="gamps", seed=GRIDWORLD_SEEDS, n=GRIDWORLD_N
        ),
    output:
        expand(BIAS_SEED, seed=GRIDWORLD_SEEDS),
    log:
        res("logs/gridworld/gradient_bias.log"),
    benchmark:
        res("benchmarks/gridworld/gradient_bias/seeds.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        **rule_params("gradient_bias", config),
        seeds=GRIDWORLD_SEEDS,
    script:
        "../scripts/gradient_bias.py"


rule gradient_bias_summary:
    input:
        stamp=stamp("gradient_bias_summary"),
        seeds=rules.gradient_bias.output,
    output:
        table=res("gridworld/gradient_bias.csv"),
        summary=res("gridworld/gradient_bias_summary.csv"),
        markdown=res("gridworld/gradient_bias.md"),
    log:
        res("logs/gridworld/gradient_bias_summary.log"),
    benchmark:
        res("benchmarks/gridworld/gradient_bias_summary.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/gradient_bias_summary.py"


rule figure4:
    input:
        stamp=stamp("figure4"),
        table=rules.gradient_bias_summary.output.table,
    output:
        report(
            expand(fig("fig4_gradient_bias.{ext}"), ext=FORMATS),
            caption="../report/fig4.rst",
            category="Figures",
        ),
    log:
        res("logs/figures/fig4.log"),
    benchmark:
        res("benchmarks/figures/fig4.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **rule_params("figure4", config),
    script:
        "../scripts/figure4.py"


rule fig4:
    input:
        rules.figure4.output,


# Beyond the paper: the gradient each algorithm used on its batch against the true gradient, and
# the decomposition of the final-return gap GAMPS - PGT (exact, on the gridworld). A job redraws
# its seed's datasets (experiment.collect_dataset: the dataset files' draws), recomputes every
# path and checks it against the aggregated curves: an input on the dataset or run files would
# make Snakemake retrain every gridworld run whose file is absent (a fresh clone has none).
rule gradient_used:
    input:
        stamp=stamp("gradient_used"),
        curves=expand(rules.aggregate.output.curves, env="gridworld"),
    output:
        gradients=expand(USED_SEED, seed=GRIDWORLD_SEEDS),
        returns=expand(RETURNS_SEED, seed=GRIDWORLD_SEEDS),
    log:
        res("logs/gridworld/gradient_used.log"),
    benchmark:
        res("benchmarks/gridworld/gradient_used/seeds.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        **rule_params("gradient_used", config),
        seeds=GRIDWORLD_SEEDS,
    script:
        "../scripts/gradient_used.py"


rule gradient_used_summary:
    input:
        stamp=stamp("gradient_used_summary"),
        gradients=rules.gradient_used.output.gradients,
        returns=rules.gradient_used.output.returns,
    output:
        gradients=res("gridworld/gradient_used.csv"),
        gradients_summary=res("gridworld/gradient_used_summary.csv"),
        returns=res("gridworld/final_returns.csv"),
        returns_summary=res("gridworld/final_returns_summary.csv"),
        decomposition=res("gridworld/gap_decomposition.csv"),
        decomposition_summary=res("gridworld/gap_decomposition_summary.csv"),
        markdown=res("gridworld/gradient_used.md"),
    log:
        res("logs/gridworld/gradient_used_summary.log"),
    benchmark:
        res("benchmarks/gridworld/gradient_used_summary.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/gradient_used_summary.py"


# Beyond the paper: each algorithm's first gradient on the Swimmer against an on-policy reference.
rule gradient_check:
    input:
        stamp=stamp("gradient_check"),
        data=expand(f"{DATASET}.npz", env="swimmer", allow_missing=True),
        meta=expand(f"{DATASET}.json", env="swimmer", allow_missing=True),
        runs=expand(
            RUN,
            env="swimmer",
            algo=config["swimmer"]["algorithms"],
            allow_missing=True,
        ),
        gradients=expand(
            RUN_GRADIENT,
            env="swimmer",
            algo=config["swimmer"]["algorithms"],
            allow_missing=True,
        ),
    output:
        GRADIENT_CHECK,
    log:
        res("logs/swimmer/gradient_check/N{n}_seed{seed}.log"),
    benchmark:
        res("benchmarks/swimmer/gradient_check/N{n}_seed{seed}.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        **rule_params("gradient_check", config),
    script:
        "../scripts/gradient_check.py"


rule gradient_check_summary:
    input:
        stamp=stamp("gradient_check_summary"),
        seeds=expand(
            GRADIENT_CHECK,
            n=config["swimmer"]["n_trajectories"],
            seed=range(config["swimmer"]["seeds"]),
        ),
    output:
        res("swimmer/gradient_check.csv"),
    log:
        res("logs/swimmer/gradient_check_summary.log"),
    benchmark:
        res("benchmarks/swimmer/gradient_check_summary.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/gradient_check_summary.py"
