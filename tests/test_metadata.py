"""The package's metadata agree with each other: licence, citation, version."""

from __future__ import annotations

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
