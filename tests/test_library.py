"""The package as a library: ``import gamps`` registers the gymnasium environments, and the
README's section "Using the library from Python" runs as written and says what the code does."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version

import numpy as np
import pytest
from fixtures import ROOT

import gamps
from gamps import experiment, settings
from gamps.domains import GridworldDomain
from gamps.domains.swimmer import dynamics as swimmer_dynamics

SECTION = "## Using the library from Python"


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    assert text.count(SECTION) == 1, f"README.md needs exactly one {SECTION!r}"
    body = text.split(SECTION, 1)[1]
    return body.split("\n## ", 1)[0]


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", readme_section(), flags=re.DOTALL | re.MULTILINE)


def run_python(code: str, cwd) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (nothing imported beforehand); warnings are errors."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_import_gamps_alone_registers_the_environments(tmp_path):
    code = (
        "import gymnasium as gym\n"
        f"assert not {{{gamps.GRIDWORLD_ID!r}, {gamps.MINIGOLF_ID!r}}} & set(gym.registry)\n"
        "import gamps\n"
        "gym.register_envs(gamps)\n"
        "for env_id in gamps.ENV_IDS:\n"
        "    env = gym.make(env_id, horizon=3)\n"
        "    observation, _ = env.reset(seed=0)\n"
        "    assert env.observation_space.contains(observation), env_id\n"
        "    env.step(env.action_space.sample())\n"
        "    print(env_id, type(env.unwrapped).__name__)\n"
    )
    out = run_python(code, tmp_path).stdout.split("\n")
    assert f"{gamps.GRIDWORLD_ID} TwoAreasGridworld" in out
    assert f"{gamps.MINIGOLF_ID} TwoTerrainMinigolf" in out


def test_registration_is_idempotent(tmp_path):
    """Importing the module again keeps the first registration and warns of no override."""
    code = (
        "import importlib\n"
        "import gymnasium as gym\n"
        "import gamps\n"
        "specs = {i: gym.registry[i] for i in gamps.ENV_IDS}\n"
        "importlib.reload(gamps.envs)\n"
        "importlib.reload(gamps)\n"
        "assert all(gym.registry[i] is specs[i] for i in gamps.ENV_IDS)\n"
    )
    run_python(code, tmp_path)


def test_top_level_names():
    assert gamps.ENV_IDS == (gamps.GRIDWORLD_ID, gamps.MINIGOLF_ID)
    assert gamps.__version__ == version("gamps")


def test_readme_lists_the_environment_ids():
    ids = re.findall(r"^\| `([^`]+)` \|", readme_section(), flags=re.MULTILINE)
    assert ids == [*gamps.ENV_IDS, swimmer_dynamics.ENV_ID]


def test_readme_gymnasium_example_runs(tmp_path):
    blocks = python_blocks()
    assert len(blocks) == 2, blocks
    gym_block = blocks[0]
    assert "gym.register_envs(gamps)" in gym_block
    run_python(gym_block + "assert observation in range(25) and reward == -1.0\n", tmp_path)


def test_readme_gradient_example_runs(tmp_path):
    """The example verbatim, then checks on what it computed."""
    example = python_blocks()[1]
    checks = (
        "assert grad.shape == (100,), grad.shape\n"
        "assert np.all(np.isfinite(grad)) and np.any(grad != 0), grad\n"
        "assert np.allclose(model.effect_probs.sum(axis=1), 1.0)\n"
        "assert batch.n == 100 and batch.meta['seed'] == 0\n"
    )
    result = run_python(example + checks, tmp_path)
    printed = np.array(result.stdout.replace("[", " ").replace("]", " ").split(), dtype=float)
    assert printed.size == 100
    assert list(tmp_path.iterdir()) == []  # writes nothing


def test_readme_gradient_example_is_the_gamps_estimate(tmp_path):
    """The README calls it GAMPS: with unit weights (ML) the same data gives another gradient."""
    example = python_blocks()[1]
    assert '"gamps"' in example
    grads = {}
    for algorithm in ("gamps", "ml"):
        code = example.replace('"gamps"', repr(algorithm)) + "print(json.dumps(grad.tolist()))\n"
        last = run_python("import json\n" + code, tmp_path).stdout.strip().splitlines()[-1]
        grads[algorithm] = np.array(json.loads(last))
    assert not np.allclose(grads["gamps"], grads["ml"])


def test_readme_dataset_matches_the_pipelines():
    """The README says the pipeline's dataset of seed 0, N = 100 holds the example's trajectories:
    true while the paper config's gridworld is the domain's defaults."""
    config = settings.load_config(ROOT / "config/config.yaml")
    assert experiment.domain_params("gridworld", config["gridworld"]) == GridworldDomain.defaults()
    assert 100 in config["gridworld"]["n_trajectories"]
    assert 'results/gridworld/data/N100_seed0.npz"' in readme_section()


@pytest.mark.parametrize("module", ["gamps", "gamps.envs"])
def test_import_stays_light(module, tmp_path):
    run_python(
        f"import sys, {module}\nheavy = {{'torch', 'seaborn', 'matplotlib'}} & set(sys.modules)\n"
        "assert not heavy, heavy\n",
        tmp_path,
    )
