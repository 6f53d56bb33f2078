FORMATS = ["pdf", "png"]
# The panels of Figure 3, left to right.
FIGURE3_ENVS = ["minigolf", "swimmer"]


# Figure 1's data: delta and eta of seed 0's behaviour policy.
rule gridworld_weights:
    input:
        stamp=stamp("gridworld_weights"),
        data=expand(
            f"{DATASET}.npz",
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


rule figure1:
    input:
        stamp=stamp("figure1"),
        weights=rules.gridworld_weights.output.weights,
    output:
        report(
            expand(fig("fig1.{ext}"), ext=FORMATS),
            caption="../report/fig1.rst",
            category="Figures",
        ),
    log:
        res("logs/figures/fig1.log"),
    benchmark:
        res("benchmarks/figures/fig1.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **rule_params("figure1", config),
    script:
        "../scripts/figure1.py"


rule figure2:
    input:
        stamp=stamp("figure2"),
        curves=expand(rules.aggregate.output.curves, env="gridworld"),
    output:
        report(
            expand(fig("fig2.{ext}"), ext=FORMATS),
            caption="../report/fig2.rst",
            category="Figures",
        ),
    log:
        res("logs/figures/fig2.log"),
    benchmark:
        res("benchmarks/figures/fig2.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **rule_params("figure2", config),
    script:
        "../scripts/figure2.py"


rule fig1:
    input:
        rules.figure1.output,


rule fig2:
    input:
        rules.figure2.output,


rule figure3:
    input:
        stamp=stamp("figure3"),
        curves=expand(rules.aggregate.output.curves, env=FIGURE3_ENVS),
    output:
        report(
            expand(fig("fig3.{ext}"), ext=FORMATS),
            caption="../report/fig3.rst",
            category="Figures",
        ),
    log:
        res("logs/figures/fig3.log"),
    benchmark:
        res("benchmarks/figures/fig3.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        **rule_params("figure3", config),
        envs=FIGURE3_ENVS,
    script:
        "../scripts/figure3.py"


rule fig3:
    input:
        rules.figure3.output,
