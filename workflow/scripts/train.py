"""Run one algorithm on one dataset and write its learning curve (rule train)."""

from gamps import data, experiment, io

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
env, n, seed = sm.wildcards.env, int(sm.wildcards.n), int(sm.wildcards.seed)
expected = experiment.dataset_metadata(env, sm.params.env_config, n, seed)
batch = data.load(sm.input.data, expect=expected)
gradients: list = []
records = experiment.train(
    env, sm.params.env_config, sm.wildcards.algo, batch, sm.threads, gradient_trace=gradients
)
io.write_records(records, sm.output.run)
# The first gradient (the gradient check's); none when footnote 5's rule stopped the run at
# theta_0 (its ESS under pi_b already below the threshold): an empty array says so.
io.save_array(gradients[0] if gradients else [], sm.output.gradient)
