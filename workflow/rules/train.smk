rule train:
    input:
        stamp=stamp("train"),
        data=[f"{DATASET}.npz"],
        meta=[f"{DATASET}.json"],
    output:
        run=[RUN],
        gradient=[RUN_GRADIENT],
    log:
        res("logs/{env}/train/{algo}/N{n}_seed{seed}.log"),
    benchmark:
        res("benchmarks/{env}/train/{algo}/N{n}_seed{seed}.tsv")
    wildcard_constraints:
        env=PER_SEED_ENV,
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        # The domain and Algorithm 1's settings: a new seed or plot setting retrains nothing.
        env_config=lambda wc: rule_params("train", config, wc.env)["env_config"],
        env=lambda wc: wc.env,
        seeds=lambda wc: [int(wc.seed)],
        first_fits=FIRST_FITS,
    script:
        "../scripts/train.py"


# Every seed of an (algorithm, N) in one job (SEED_BATCHED), each seed's files as rule train's.
for ENV in SEED_BATCHED:

    rule:
        name:
            f"train_{ENV}"
        input:
            stamp=stamp_file(provenance.stamp_name("train", ENV)),
            data=seeds_of(f"{DATASET}.npz", ENV),
            meta=seeds_of(f"{DATASET}.json", ENV),
        output:
            run=seeds_of(RUN, ENV),
            gradient=seeds_of(RUN_GRADIENT, ENV),
        log:
            res(f"logs/{ENV}/train/{{algo}}/N{{n}}.log"),
        benchmark:
            res(f"benchmarks/{ENV}/train/{{algo}}/N{{n}}.tsv")
        conda:
            "../envs/gamps.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            env_config=rule_params("train", config, ENV)["env_config"],
            env=ENV,
            seeds=seed_range(ENV),
            first_fits=FIRST_FITS,
        script:
            "../scripts/train.py"
