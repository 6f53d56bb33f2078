"""The package's metadata agree with each other: licence, citation, version, and the software
environments (pyproject.toml, environment.yml, the rules' workflow/envs/gamps.yaml)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import yaml
from fixtures import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_license_file_is_the_declared_license():
    assert PROJECT["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_citation_cites_this_package_and_the_paper():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert (citation["version"], citation["license"]) == (PROJECT["version"], PROJECT["license"])
    (paper,) = citation["references"]
    assert paper["title"] == "Gradient-Aware Model-Based Policy Search"
    assert paper["doi"] == "10.1609/aaai.v34i04.5791" and paper["year"] == 2020
    assert [a["family-names"] for a in paper["authors"]] == [
        "D'Oro",
        "Metelli",
        "Tirinzoni",
        "Papini",
        "Restelli",
    ]


# The conda names of PyPI distributions whose conda package is named otherwise (the -base
# packages leave out optional GUI dependencies).
CONDA_NAMES = {"matplotlib": "matplotlib-base", "seaborn": "seaborn-base"}


def names(requirements) -> set[str]:
    """Distribution names of requirement strings (``torch>=2.3,<2.14`` -> ``torch``)."""
    return {re.match(r"[A-Za-z0-9_.-]+", r)[0].lower() for r in requirements if r[0].isalnum()}


def conda_dependencies(path) -> tuple[list, set[str], list[str]]:
    env = yaml.safe_load(path.read_text())
    pip = next((d["pip"] for d in env["dependencies"] if isinstance(d, dict)), [])
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    return env["channels"], names(conda) | names(pip), pip


def test_rule_environment_has_every_dependency_and_no_path():
    """workflow/envs/gamps.yaml (``--sdm conda``) installs what the scripts import; Snakemake
    copies it, so a relative path such as ``-e .`` in it would break."""
    channels, deps, pip = conda_dependencies(ROOT / "workflow/envs/gamps.yaml")
    needed = {CONDA_NAMES.get(n, n) for n in names(PROJECT["dependencies"])} - {"snakemake"}
    assert needed <= deps, needed - deps
    assert not [p for p in pip if p.startswith("-e") or p.startswith((".", "/"))]
    assert channels[0] == "conda-forge"


def test_user_environment_installs_snakemake_from_bioconda_and_the_package():
    channels, deps, pip = conda_dependencies(ROOT / "environment.yml")
    assert {"conda-forge", "bioconda"} <= set(channels)
    assert "snakemake-minimal" in deps and "-e .[test]" in pip
    torch = [p for p in pip if p.startswith("torch")]
    assert torch == [next(d for d in PROJECT["dependencies"] if d.startswith("torch"))]


def test_scripts_find_the_package_without_it_installed():
    """In a rule's conda environment the package is not installed: Snakemake puts the script's
    folder on the path, and workflow/scripts/gamps links to src/gamps."""
    link = ROOT / "workflow/scripts/gamps"
    assert link.is_symlink() and link.resolve() == (ROOT / "src/gamps").resolve()
    code = (
        "import sys; sys.path = [p for p in sys.path if not p.endswith('/src')]"
        f" + [{str(link.parent)!r}]; import gamps; print(gamps.__file__)"
    )
    found = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert found.stdout.strip() == str(link / "__init__.py")
