"""Citation and changelog stay in step with the package metadata: a release that bumps the version or changes the
licence in pyproject.toml without CITATION.cff and CHANGELOG.md fails here."""

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_citation_matches_the_package():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert (cff["type"], str(cff["version"]), cff["license"]) == ("software", PROJECT["version"], PROJECT["license"])
    assert cff["authors"] == [{"name": author["name"]} for author in PROJECT["authors"]]
    for reference in cff["references"]:  # the fields CFF 1.2 requires of every reference
        assert reference["type"] and reference["title"] and reference["authors"], reference


def test_changelog_has_unreleased_and_the_current_version():
    headings = re.findall(r"^## \[([^\]]+)\]", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert headings[0] == "Unreleased"
    assert PROJECT["version"] in headings
