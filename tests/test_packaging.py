"""What pyproject.toml promises: .ci/lowest.txt pins the lowest release each runtime dependency's bound admits."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def lower_bounds() -> dict[str, Version]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        [floor] = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        bounds[requirement.name.lower()] = Version(floor)
    return bounds


def lowest_pins() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / ".ci" / "lowest.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = Version(version.strip())
    return pins


def test_each_runtime_dependency_is_pinned_at_the_first_release_of_its_lower_bound() -> None:
    bounds, pins = lower_bounds(), lowest_pins()
    assert set(pins) == set(bounds)
    for name, floor in bounds.items():
        pin = pins[name]
        # publicsuffixlist>=1.0 has no 1.0 but 1.0.0.20240620: the pin is the bound's release, padded or extended
        width = len(floor.release)
        assert pin >= floor, name
        assert (pin.release + (0,) * width)[:width] == floor.release, name


def test_orjson_is_held_above_the_releases_that_crash_on_deep_nesting() -> None:
    # CVE-2024-27454: before 3.9.15 orjson.loads recursed without a limit, and a deeply nested answer from the edge
    # overflowed the stack of the thread decoding it (the suite's nested-json fault killed the process).
    assert lower_bounds()["orjson"] >= Version("3.9.15")


def test_the_soup_engine_is_held_above_the_releases_that_fail_its_pages_and_selectors() -> None:
    # soupsieve before 4.0 matches elements inside <template> content, so a plain selector reached into declarative
    # shadow roots (tests/html/test_shadow.py), and before 2.9 it parsed a 100 000-character selector for minutes
    # (tests/robustness/test_hostile_offers.py); beautifulsoup4 before 4.13 cannot decompose a text node (head
    # content that is not script, link or style is removed: tests/html/test_actions.py), and 4.12.0 serialized
    # recursively: a page nested 20 000 deep raised RecursionError (tests/html/test_document.py).
    bounds = lower_bounds()
    assert bounds["soupsieve"] >= Version("4.0")
    assert bounds["beautifulsoup4"] >= Version("4.13")
