rule train:
    input:
        stamp=stamp("train"),
        data=rules.collect_dataset.output.data,
        meta=rules.collect_dataset.output.meta,
    output:
        run=RUN,
        gradient=RUN_GRADIENT,
    log:
        res("logs/{env}/train/{algo}/N{n}_seed{seed}.log"),
    benchmark:
        res("benchmarks/{env}/train/{algo}/N{n}_seed{seed}.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        # The domain and Algorithm 1's settings: a new seed or plot setting retrains nothing.
        env_config=lambda wc: rule_params("train", config, wc.env)["env_config"],
    script:
        "../scripts/train.py"
