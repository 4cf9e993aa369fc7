"""The delivery package knows decisioning only through the LocalDecider seam, and its modules import no cycle."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import target_middleware
from target_middleware import DecisioningEngine, TargetClient
from target_middleware.delivery.decider import ManagedDecider
from target_middleware.testing import StaticDecider
from tests.datafiles import ARTIFACTS

PACKAGE = Path(target_middleware.__file__).parent
DELIVERY = PACKAGE / "delivery"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (at the top, in functions, under TYPE_CHECKING), as dotted absolute names."""
    package = "target_middleware." + ".".join(path.relative_to(PACKAGE).parent.parts)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rstrip(".").split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_delivery_never_imports_decisioning() -> None:
    for path in sorted(DELIVERY.glob("*.py")):
        imports = imported_modules(path)
        assert not {m for m in imports if m.startswith("target_middleware.decisioning")}, path.name


def test_delivery_modules_import_no_cycle() -> None:
    graph = {
        path.stem: {
            m.removeprefix("target_middleware.delivery.").split(".")[0]
            for m in imported_modules(path)
            if m.startswith("target_middleware.delivery.")
        }
        for path in DELIVERY.glob("*.py")
    }
    assert "atjs" in graph["client"]  # the client imports getOffer's module; getOffer no longer imports the client
    assert "client" not in graph["atjs"]

    def visit(name: str, stack: tuple[str, ...]) -> None:
        assert name not in stack, " -> ".join([*stack, name])
        for child in graph.get(name, ()):
            if child in graph and child != "__init__":
                visit(child, (*stack, name))

    for name in graph:
        if name != "__init__":
            visit(name, ())


@dataclass
class RecordingDecider:
    """A decider with a lifecycle, built by a factory given to the client."""

    inner: StaticDecider
    events: list[str] = field(default_factory=list)

    def decide(self, request: Mapping[str, Any], *, session_id: str | None = None) -> Any:
        self.events.append("decide")
        return self.inner.decide(request, session_id=session_id)

    async def start(self) -> None:
        self.events.append("start")

    async def aclose(self) -> None:
        self.events.append("aclose")


async def test_a_decider_factory_builds_the_decider_and_its_lifecycle_is_the_clients() -> None:
    built: list[tuple[Any, str]] = []
    decider = RecordingDecider(StaticDecider({"hero": [{"type": "json", "content": {"v": 1}}]}))

    def factory(artifact: Any, *, client_code: str) -> RecordingDecider:
        built.append((artifact, client_code))
        return decider

    assert isinstance(decider, ManagedDecider)
    client = TargetClient(
        "acme",
        "O@AdobeOrg",
        decisioning="on-device",
        artifact="my-rules",
        decider_factory=factory,
        on_notifications=list,
    )
    assert built == [("my-rules", "acme")]
    assert decider.events == []  # nothing starts before the client is used, on the loop that uses it
    result = await client.get_offers(["hero"])
    await asyncio.sleep(0)  # the start runs in the background
    await client.get_offers(["hero"])
    await asyncio.sleep(0)
    await client.aclose()
    assert result.mbox("hero") is not None
    assert decider.events == ["decide", "start", "decide", "aclose"]  # started once, closed with the client


async def test_closing_before_a_start_ran_means_it_never_runs() -> None:
    decider = RecordingDecider(StaticDecider({}))
    client = TargetClient(
        "acme",
        "O@AdobeOrg",
        decisioning="on-device",
        artifact="x",
        decider_factory=lambda artifact, *, client_code: decider,
        on_notifications=list,
    )
    await client.get_offers(["hero"])
    await client.aclose()
    await asyncio.sleep(0.01)
    assert decider.events == ["decide", "aclose"]


def test_by_default_an_artifact_makes_targets_on_device_engine() -> None:
    client = TargetClient(
        "acme", "O@AdobeOrg", decisioning="on-device", artifact=str(ARTIFACTS / "TEST_ARTIFACT_AB_SIMPLE.json")
    )
    assert isinstance(client._decider, DecisioningEngine)


def test_a_factory_that_fails_is_a_configuration_error() -> None:
    def factory(artifact: Any, *, client_code: str) -> Any:
        raise OSError("no such file")

    with pytest.raises(ValueError, match="cannot load the decisioning artifact: no such file"):
        TargetClient("acme", "O@AdobeOrg", decisioning="on-device", artifact="x", decider_factory=factory)


def test_server_side_use_never_imports_the_on_device_engine() -> None:
    """A fresh interpreter: the package, the delivery client and the middleware load without decisioning."""
    script = (
        "import sys\n"
        "import target_middleware.delivery\n"
        "from target_middleware import MboxRule, TargetClient, TargetMiddleware, explain\n"
        "client = TargetClient('acme', 'O@AdobeOrg')\n"
        "TargetMiddleware(lambda s, r, w: None, client=client, rules=[MboxRule('/', mboxes=['m'])])\n"
        "print(sorted(m for m in sys.modules if m.startswith('target_middleware.decisioning')))\n"
        "TargetClient('acme', 'O@AdobeOrg', decisioning='on-device', artifact=sys.argv[1])\n"
        "print('target_middleware.decisioning' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(ARTIFACTS / "TEST_ARTIFACT_AB_SIMPLE.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.split("\n")[:2] == ["[]", "True"]  # loaded only when an artifact asks for it
