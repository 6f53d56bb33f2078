"""The gradient each algorithm used, and the final returns of its ascents, for one run seed on the
gridworld (rule gradient_used). Every recomputed path is checked against the pipeline's run."""

import pandas as pd

from gamps import experiment, io
from gamps.domains.gridworld.gradient_used import gradient_used

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
cfg, seed = sm.params.env_config, int(sm.wildcards.seed)
# The pipeline's datasets of this seed, redrawn (the same spawn keys as rule collect_dataset).
datasets = {n: experiment.collect_dataset("gridworld", cfg, n, seed) for n in cfg["n_trajectories"]}
curves = pd.read_csv(sm.input.curves[0]).query("seed == @seed")
recorded = {
    (algorithm, n): run.sort_values("iteration")["return"].to_numpy()
    for (algorithm, n), run in curves.groupby(["algorithm", "n_trajectories"])
}
# One step size per algorithm: the config's shared one for now.
step_sizes = {a: experiment.step_size_of(cfg["step_size"], a) for a in cfg["algorithms"]}
gradients, returns = gradient_used(cfg, seed, datasets, step_sizes, sm.params.path_every, recorded)
io.write_records(gradients, sm.output.gradients)
io.write_records(returns, sm.output.returns)
