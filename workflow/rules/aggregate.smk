rule aggregate:
    input:
        lambda wc: runs(wc.env),
    output:
        curves="results/{env}/curves.csv",
        bands="results/{env}/curves_summary.csv",
    log:
        "results/logs/{env}/aggregate.log",
    benchmark:
        "results/benchmarks/{env}/aggregate.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/aggregate.py"


rule gridworld_weights:
    input:
        data=expand(
            rules.collect_dataset.output.data,
            env="gridworld",
            n=config["gridworld"]["figure1_trajectories"],
            seed=0,
        ),
    output:
        weights="results/gridworld/fig1_weights.csv",
        policy="results/gridworld/fig1_behaviour_policy.json",
    log:
        "results/logs/gridworld/fig1_weights.log",
    benchmark:
        "results/benchmarks/gridworld/fig1_weights.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        **rule_params("gridworld_weights", config),
    script:
        "../scripts/gridworld_weights.py"
