"""Same decisions as Adobe's Node.js SDK, the reference implementation of on-device decisioning.

Seeded random traffic (traffic.py) over every conformance artifact is decided twice: by Adobe's Node SDK
(``@adobe/target-nodejs-sdk``, pinned by node_referee/package-lock.json and installed by ``npm ci`` in a
temporary folder, see conftest.py) in on-device mode with the artifact as ``artifactPayload``, and by our
:class:`DecisioningEngine`; both see the same clock and the same answer to a geo lookup. Compared, per
request: the status, the mboxes and views only the edge can decide, and for every mbox, view and pageLoad of
execute and prefetch the options (type, content, event token, response tokens, so the activity and
experience) and metrics, and the display notifications owed (mbox, event tokens, timestamp); request and
notification ids, generated visitor ids, timings, traces and telemetry are left out.

The two agree on at least 99% of requests, and each request where they do not falls in a class of
:data:`KNOWN_DIFFERENCES`, said by :func:`known_difference` from the request and the two answers.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from target_middleware.decisioning import Artifact, ArtifactError, DecisioningEngine, load_artifact
from tests.datafiles import ARTIFACTS

from .traffic import Job, traffic

pytestmark = pytest.mark.slow

SEED = 20261129
PER_ARTIFACT = 100  # 19 artifacts: 1,900 requests
CLIENT = "someClientId"
AGREEMENT = 0.99

KNOWN_DIFFERENCES = {
    "params-name-clash": "mbox params where a name holds a value and is also the dotted parent of a later name "
    '(``{"foo": "bar", "foo.nested": "x"}``): the Node SDK throws ("Cannot create property \'nested\' on string '
    "'bar'\") and answers nothing for the whole request; we decide it, the later name winning (``mbox.foo`` is "
    "then ``{nested: x}``), as the Node SDK itself does when the dotted name comes first.",
}

Outcome = dict[str, Any]


def _items(part: Mapping[str, Any]) -> dict[str, Any]:
    def decided(item: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "options": [json.dumps(o, sort_keys=True) for o in item.get("options") or ()],
            "metrics": [json.dumps(m, sort_keys=True) for m in item.get("metrics") or ()],
        }

    result: dict[str, Any] = {}
    if "mboxes" in part:
        result["mboxes"] = [{"name": m.get("name"), "index": m.get("index"), **decided(m)} for m in part["mboxes"]]
    if "views" in part:
        result["views"] = [{"name": v.get("name"), **decided(v)} for v in part["views"]]
    if "pageLoad" in part:
        result["pageLoad"] = decided(part["pageLoad"])
    return result


def _notifications(notifications: Any) -> list[str]:
    """Display notifications owed, without their random ids: type, mbox, event tokens, timestamp."""
    kept = [{k: v for k, v in n.items() if k not in ("id", "impressionId")} for n in notifications or ()]
    return sorted(json.dumps(n, sort_keys=True) for n in kept)


def _outcome(response: Mapping[str, Any], remote_mboxes: Any, remote_views: Any, notifications: Any) -> Outcome:
    outcome: Outcome = {
        "status": response.get("status"),
        "remoteMboxes": sorted(remote_mboxes or ()),
        "remoteViews": sorted(remote_views or ()),
        "notifications": _notifications(notifications),
    }
    for mode in ("execute", "prefetch"):
        if isinstance(response.get(mode), Mapping):
            outcome[mode] = _items(response[mode])
    return outcome


def theirs(answer: Mapping[str, Any]) -> Outcome:
    if "error" in answer:
        return {"error": answer["error"]}
    meta = answer.get("meta") or {}
    return _outcome(answer["response"], meta.get("remoteMboxes"), meta.get("remoteViews"), answer.get("notifications"))


def ours(artifact: Artifact | ArtifactError, job: Job) -> Outcome:
    if isinstance(artifact, ArtifactError):
        return {"error": str(artifact)}
    engine = DecisioningEngine(
        artifact,
        client_code=CLIENT,
        telemetry_enabled=False,
        geo_lookup=lambda ip: job.geo_lookup,
        clock=lambda: job.now_ms / 1000,
    )
    decision = engine.decide(copy.deepcopy(job.request))
    return _outcome(decision.response, decision.remote_mboxes, decision.remote_views, decision.notifications)


def same(our: Outcome, their: Outcome) -> bool:
    """Equal decisions; two refusals are alike whatever their messages say."""
    if "error" in our or "error" in their:
        return "error" in our and "error" in their
    return our == their


def _details(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = []
    for mode in ("execute", "prefetch"):
        part = request.get(mode) or {}
        found.extend([*part.get("mboxes", ()), *part.get("views", ())])
        if "pageLoad" in part:
            found.append(part["pageLoad"])
    return found


def _name_clash(params: Mapping[str, Any]) -> bool:
    """A dotted name one of whose parents an earlier name gave a plain value (where the Node SDK throws)."""
    plain: set[str] = set()
    for key, value in params.items():
        parts = key.split(".")
        if any(".".join(parts[:i]) in plain for i in range(1, len(parts))):
            return True
        if not isinstance(value, Mapping):
            plain.add(key)
    return False


def known_difference(job: Job, our: Outcome, their: Outcome) -> str | None:
    """The class of :data:`KNOWN_DIFFERENCES` that explains why the two decided a request differently."""
    clash = any(_name_clash(d.get("parameters") or {}) for d in _details(job.request))
    if clash and "error" in their and "error" not in our and "Cannot create property" in their["error"]:
        return "params-name-clash"
    return None


def _referee(folder: Path, jobs: list[Job]) -> list[Outcome]:
    lines = [
        json.dumps(
            {
                "artifact": str(ARTIFACTS / f"{job.artifact}.json"),
                "client": CLIENT,
                "nowMs": job.now_ms,
                "geoLookup": job.geo_lookup,
                "request": job.request,
            }
        )
        for job in jobs
    ]
    node = shutil.which("node") or "node"
    done = subprocess.run(
        [node, "referee.js"], cwd=folder, input="\n".join(lines) + "\n", capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(answers) == len(jobs), done.stderr[-3000:]
    return [theirs(a) for a in answers]


def _load(name: str) -> Artifact | ArtifactError:
    try:
        return load_artifact(ARTIFACTS / f"{name}.json")
    except ArtifactError as exc:
        return exc


def test_same_decisions_as_adobe_node_sdk(node_referee: Path) -> None:
    payloads = {p.stem: json.loads(p.read_text()) for p in sorted(ARTIFACTS.glob("*.json"))}
    jobs = traffic(SEED, payloads, PER_ARTIFACT)
    their_outcomes = _referee(node_referee, jobs)
    artifacts = {name: _load(name) for name in payloads}
    differences: list[tuple[Job, Outcome, Outcome, str | None]] = []
    for job, their in zip(jobs, their_outcomes, strict=True):
        our = ours(artifacts[job.artifact], job)
        if not same(our, their):
            differences.append((job, our, their, known_difference(job, our, their)))
    agreement = 1 - len(differences) / len(jobs)
    classes = Counter(kind for *_, kind in differences)
    print(f"agreement with the Node SDK: {agreement:.2%} of {len(jobs)} requests; differences: {dict(classes)}")
    unexplained = [(job, our, their) for job, our, their, kind in differences if kind is None]
    assert not unexplained, (
        f"{len(unexplained)} unexplained differences, e.g.\n"
        + json.dumps(
            [{"artifact": j.artifact, "nowMs": j.now_ms, "request": j.request, "ours": o, "theirs": t}
             for j, o, t in unexplained[:2]],
            indent=1,
        )[:8000]
    )  # fmt: skip
    assert agreement >= AGREEMENT, dict(classes)


def test_only_a_name_clash_that_node_refuses_is_a_known_difference() -> None:
    def job(params: dict[str, Any]) -> Job:
        request = {"id": {"tntId": "a"}, "execute": {"mboxes": [{"name": "m", "index": 0, "parameters": params}]}}
        return Job("TEST_ARTIFACT_PARAMS", 0, request)

    refused: Outcome = {"error": "Cannot create property 'nested' on string 'bar'"}
    decided: Outcome = {"status": 200, "remoteMboxes": [], "remoteViews": []}
    clash = job({"foo": "bar", "foo.nested": "x"})
    assert known_difference(clash, decided, refused) == "params-name-clash"
    assert known_difference(job({"foo.nested": "x", "foo": "bar"}), decided, refused) is None  # Node decides that
    assert known_difference(job({"foo": "bar"}), decided, refused) is None
    assert known_difference(clash, decided, {**decided, "status": 206}) is None
