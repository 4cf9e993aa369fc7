"""Where the data files the tests read live: tests/data, inside the repository (a clone has nothing beside it).

Each folder carries the licence and source of what it holds (see tests/data/README.md).
"""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
CONFORMANCE = DATA / "conformance"  # Adobe's on-device decisioning suites (adobe/target-sdk-testing, Apache-2.0)
ARTIFACTS = CONFORMANCE / "artifacts"
OPENAPI = DATA / "openapi"  # Adobe's Delivery API spec (adobe/target-openapi, Apache-2.0)
ACTION_CASES = DATA / "actions" / "cases.json"  # the project's action conformance cases
