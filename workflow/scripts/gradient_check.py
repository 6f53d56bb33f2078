"""Each algorithm's first gradient on one Swimmer dataset against an on-policy reference (rule
gradient_check)."""

from gamps import data, experiment, gradient_check, io
from gamps.domains import make_domain

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
n, seed = int(sm.wildcards.n), int(sm.wildcards.seed)
env_config = sm.params.env_config
batch = data.load(
    sm.input.data[0], expect=experiment.dataset_metadata("swimmer", env_config, n, seed)
)
keys = make_domain("swimmer", experiment.domain_params("swimmer", env_config)).diagnostic_keys
used, diagnostics = gradient_check.run_inputs(sm.input.runs, sm.input.gradients, keys)
reference = env_config["reference_trajectories"]
rows = gradient_check.first_gradients(
    "swimmer", env_config, batch, reference, used, diagnostics, sm.threads
)
io.write_records(rows, sm.output[0])
