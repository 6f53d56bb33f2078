"""Algorithm 1 at one grid point of the tuning, on every tuning seed and N (rule tune)."""

from gamps import experiment, io, tuning

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
wc = sm.wildcards
params = sm.params
runs = tuning.run_point(
    wc.env, params.env_config, wc.algo, wc.ascent, params.alpha, params.seeds, params.first_fits
)
io.write_csv(runs, sm.output[0])
