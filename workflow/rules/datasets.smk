# Every seed of an N in one job (an environment's datasets cost less than a job's start, or
# little more), still one dataset file (and its metadata) per seed.
for ENV in ENVS:

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
            runtime=10,
        params:
            # Only what defines the data: a new step size retrains, it does not recollect.
            domain=rule_params("collect_dataset", config, ENV)["domain"],
            env=ENV,
            seeds=seed_range(ENV),
        script:
            "../scripts/collect_dataset.py"
