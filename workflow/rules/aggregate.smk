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
