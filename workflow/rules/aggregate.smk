rule aggregate:
    input:
        stamp=stamp("aggregate"),
        runs=lambda wc: runs(wc.env),
    output:
        curves=res("{env}/curves.csv"),
        bands=res("{env}/curves_summary.csv"),
    log:
        res("logs/{env}/aggregate.log"),
    benchmark:
        res("benchmarks/{env}/aggregate.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../scripts/aggregate.py"


rule gridworld_weights:
    input:
        stamp=stamp("gridworld_weights"),
        data=expand(
            rules.collect_dataset.output.data,
            env="gridworld",
            n=config["gridworld"]["figure1_trajectories"],
            seed=0,
        ),
    output:
        weights=res("gridworld/fig1_weights.csv"),
        policy=res("gridworld/fig1_behaviour_policy.json"),
    log:
        res("logs/gridworld/fig1_weights.log"),
    benchmark:
        res("benchmarks/gridworld/fig1_weights.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        **rule_params("gridworld_weights", config),
    script:
        "../scripts/gridworld_weights.py"
