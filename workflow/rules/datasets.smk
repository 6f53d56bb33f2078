rule collect_dataset:
    input:
        stamp=stamp("collect_dataset"),
    output:
        data=[f"{DATASET}.npz"],
        meta=[f"{DATASET}.json"],
    log:
        res("logs/{env}/collect/N{n}_seed{seed}.log"),
    benchmark:
        res("benchmarks/{env}/collect/N{n}_seed{seed}.tsv")
    wildcard_constraints:
        env=PER_SEED_ENV,
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        # Only what defines the data: a new step size retrains, it does not recollect.
        domain=lambda wc: rule_params("collect_dataset", config, wc.env)["domain"],
        env=lambda wc: wc.env,
        seeds=lambda wc: [int(wc.seed)],
    script:
        "../scripts/collect_dataset.py"


# Every seed of an N in one job (SEED_BATCHED), each seed's files as rule collect_dataset's.
for ENV in SEED_BATCHED:

    rule:
        name:
            f"collect_dataset_{ENV}"
        input:
            stamp=stamp_file(provenance.stamp_name("collect_dataset", ENV)),
        output:
            data=seeds_of(f"{DATASET}.npz", ENV),
            meta=seeds_of(f"{DATASET}.json", ENV),
        log:
            res(f"logs/{ENV}/collect/N{{n}}.log"),
        benchmark:
            res(f"benchmarks/{ENV}/collect/N{{n}}.tsv")
        conda:
            "../envs/gamps.yaml"
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        params:
            domain=rule_params("collect_dataset", config, ENV)["domain"],
            env=ENV,
            seeds=seed_range(ENV),
        script:
            "../scripts/collect_dataset.py"
