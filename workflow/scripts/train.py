"""Run one algorithm on datasets of one N and write each one's learning curve (rule train: one
seed; a seed-batched environment's rule: every seed). Every dataset is checked before any run
starts, and a job with a broken one fails naming each."""

from gamps import data, experiment, io

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
env, algo, n = sm.params.env, sm.wildcards.algo, int(sm.wildcards.n)
batches, broken = [], []
for seed, dataset in zip(sm.params.seeds, sm.input.data, strict=True):
    try:
        expected = experiment.dataset_metadata(env, sm.params.env_config, n, seed)
        batches.append(data.load(dataset, expect=expected))
    except data.DatasetError as err:
        broken.append(str(err))
if broken:
    raise data.DatasetError("\n".join(broken))
for batch, run, gradient_path in zip(batches, sm.output.run, sm.output.gradient, strict=True):
    gradients: list = []
    records = experiment.train(
        env,
        sm.params.env_config,
        algo,
        batch,
        sm.threads,
        gradient_trace=gradients,
        first_fits=sm.params.first_fits,
    )
    io.write_records(records, run)
    # The first gradient (the gradient check's); none when footnote 5's rule stopped the run at
    # theta_0 (its ESS under pi_b already below the threshold): an empty array says so.
    io.save_array(gradients[0] if gradients else [], gradient_path)
