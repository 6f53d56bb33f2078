rule train:
    input:
        data=rules.collect_dataset.output.data,
        meta=rules.collect_dataset.output.meta,
    output:
        "results/{env}/runs/{algo}/N{n}_seed{seed}.csv",
    log:
        "results/logs/{env}/train/{algo}/N{n}_seed{seed}.log",
    benchmark:
        "results/benchmarks/{env}/train/{algo}/N{n}_seed{seed}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        # Sorted: the order of keys in a config file does not retrain anything.
        env_config=lambda wc: dict(sorted(config[wc.env].items())),
    script:
        "../scripts/train.py"
