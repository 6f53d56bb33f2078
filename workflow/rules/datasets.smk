rule collect_dataset:
    input:
        stamp=stamp("collect_dataset"),
    output:
        data=f"{DATASET}.npz",
        meta=f"{DATASET}.json",
    log:
        res("logs/{env}/collect/N{n}_seed{seed}.log"),
    benchmark:
        res("benchmarks/{env}/collect/N{n}_seed{seed}.tsv")
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        # Only what defines the data: a new step size retrains, it does not recollect.
        domain=lambda wc: rule_params("collect_dataset", config, wc.env)["domain"],
    script:
        "../scripts/collect_dataset.py"
