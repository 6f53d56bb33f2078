"""The gradient each algorithm used, and the final returns of its ascents, for every run seed on
the gridworld (rule gradient_used), one file of each per seed. Every recomputed path is checked
against the pipeline's run."""

import pandas as pd

from gamps import experiment, io
from gamps.domains.gridworld.gradient_used import gradient_used

sm = snakemake  # noqa: F821
experiment.log_to(sm.log[0])
cfg = sm.params.env_config
curves = pd.read_csv(sm.input.curves[0])
# One step size per algorithm: the config's shared one for now.
step_sizes = {a: experiment.step_size_of(cfg["step_size"], a) for a in cfg["algorithms"]}
outputs = zip(sm.params.seeds, sm.output.gradients, sm.output.returns, strict=True)
for seed, gradients_path, returns_path in outputs:
    # The pipeline's datasets of this seed, redrawn (the same spawn keys as the collect rule).
    datasets = {
        n: experiment.collect_dataset("gridworld", cfg, n, seed) for n in cfg["n_trajectories"]
    }
    recorded = {
        (algorithm, n): run.sort_values("iteration")["return"].to_numpy()
        for (algorithm, n), run in curves[curves["seed"] == seed].groupby(
            ["algorithm", "n_trajectories"]
        )
    }
    gradients, returns = gradient_used(
        cfg, seed, datasets, step_sizes, sm.params.path_every, recorded
    )
    io.write_records(gradients, gradients_path)
    io.write_records(returns, returns_path)
