# The record of the settings and code every output was computed with (gamps.provenance): the
# last job, so it is written only when everything it describes is current.
rule provenance:
    input:
        stamps=[stamp_file(name) for name in STAMPS],
        outputs=rules.replication.input,
    output:
        res("provenance.json"),
    log:
        res("logs/provenance.log"),
    conda:
        "../envs/gamps.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/provenance.py"
