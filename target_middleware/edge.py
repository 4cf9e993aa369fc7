"""A local Adobe Target edge: ``POST /rest/v1/delivery`` answered by the on-device engine.

It lets a server-side client, curl, or at.js in a browser talk to a real Delivery API endpoint with no Adobe
account: the demo and the integration tests use it. Requests are checked against the spec's essentials and a
bad one gets ``400 {"status", "message"}`` as from the real edge. Display notifications that decisions owe
(and notifications the caller sends) go to ``on_notifications`` when given; nothing leaves the machine.

It keeps what it receives (:mod:`.edgerecord`): ``GET /notifications`` lists the notifications sent to it,
``GET /requests`` every request's visitor ids, and ``GET /report`` counts visitors, impressions, clicks and
conversions per activity and experience (:mod:`.edgereport`).

    python -m target_middleware.edge --artifact rules.json --host 127.0.0.1 --port 8080
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .decisioning import (
    Artifact,
    ArtifactError,
    ArtifactSource,
    DecisioningEngine,
    DecisioningNotReady,
    load_artifact,
    notification_request,
)
from .decisioning.validation import RequestInvalid, validate_delivery_request, validate_session_id
from .edgenetwork.local import interact_routes
from .edgerecord import DEFAULT_CONVERSION_MBOXES, EdgeRecorder
from .edgereport import report_routes

__all__ = ["create_edge_app", "main"]

logger = logging.getLogger(__name__)

NotificationSink = Callable[[dict[str, Any]], None]
_MAX_BODY = 1 << 20


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "message": message}, status_code=status)


def create_edge_app(
    engine: DecisioningEngine,
    *,
    on_notifications: NotificationSink | None = None,
    mint_tnt_id: bool = True,
    recorder: EdgeRecorder | None = None,
    organization_id: str | None = None,
) -> Starlette:
    """A Starlette app serving the Delivery API from ``engine``.

    ``mint_tnt_id``: give a visitor who sent no ``tntId`` a new one, as Target's edge does, so the next call (the
    ``PC`` part of the mbox cookie) lands in the same experience. Not beside a ``thirdPartyId`` alone: allocation
    would move from it to the new tntId on the next call (beside an ECID it changes nothing: the ECID allocates).
    ``recorder``: where what the Delivery API receives is kept and counted (default: a new :class:`EdgeRecorder`;
    it is ``app.state.recorder``). The app also serves the Edge Network's ``POST /ee/v2/interact`` from the same
    engine (``edgenetwork.local``), for ``organization_id`` (default: the artifact's ``meta.organizationId``).
    """
    recorder = recorder if recorder is not None else EdgeRecorder()

    async def delivery(request: Request) -> Response:
        session_id = request.query_params.get("sessionId")
        try:
            raw = await request.body()  # at.js posts text/plain, the SDKs application/json: parse either
        except ClientDisconnect:
            # A caller that gives up at its time budget is normal: there is no one left to answer.
            logger.debug("the client left before its request was read")
            return Response(status_code=499)
        if len(raw) > _MAX_BODY:
            return _error(413, "request body too large")
        try:
            validate_session_id(session_id)
            body = validate_delivery_request(json.loads(raw or b"null"))
        except ValueError as exc:  # RequestInvalid, and JSONDecodeError is a ValueError too
            message = str(exc) if isinstance(exc, RequestInvalid) else "request body is not valid JSON"
            return _error(400, message)
        ids = body.get("id") or {}
        if mint_tnt_id and not ids.get("tntId") and not ids.get("thirdPartyId"):
            body = {**body, "id": {**ids, "tntId": uuid.uuid4().hex}}
        try:
            decision = engine.decide(body, session_id=session_id)
        except DecisioningNotReady:
            return _error(503, "the decisioning artifact has not loaded yet")
        except Exception:
            logger.exception("on-device decision failed")
            return _error(500, "internal error")
        try:
            recorder.record(body, decision, engine.artifact)
        except Exception:
            logger.warning("recording a request failed", exc_info=True)
        payload = dict(decision.response)
        received = body.get("notifications") or []
        if received:
            payload["notifications"] = [{"id": note.get("id")} for note in received]
        outgoing = notification_request(body, decision)
        if on_notifications is not None:
            for item in (outgoing, {"id": body.get("id"), "notifications": received} if received else None):
                if item is not None:
                    try:
                        on_notifications(item)
                    except Exception:
                        logger.warning("on_notifications callback failed", exc_info=True)
        return JSONResponse(payload)

    source = engine.source

    def current_artifact() -> Artifact | None:
        try:
            return engine.artifact
        except DecisioningNotReady:
            return None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if isinstance(source, ArtifactSource):
            async with source:
                yield
        else:
            yield

    app = Starlette(
        routes=[
            Route("/rest/v1/delivery", delivery, methods=["POST"]),
            *interact_routes(
                engine,
                organization_id=organization_id or _org_of(engine),
                on_notifications=on_notifications,
                on_exchange=lambda request, decision: recorder.record(request, decision, engine.artifact),
            ),
            *report_routes(recorder, current_artifact),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origin_regex=".*",
                allow_credentials=True,
                allow_methods=["POST"],
                allow_headers=["*"],
            )
        ],
        lifespan=lifespan,
    )
    app.state.recorder = recorder
    return app


def _org_of(engine: DecisioningEngine) -> str:
    artifact = getattr(engine.source, "artifact", None) or engine.source
    meta = getattr(artifact, "meta", None) or {}
    org = meta.get("organizationId") if isinstance(meta, Mapping) else None
    return org if isinstance(org, str) and org.endswith("@AdobeOrg") else "LOCAL@AdobeOrg"


def _engine_from_args(location: str, client: str | None, interval: float) -> DecisioningEngine:
    artifact: Artifact | ArtifactSource
    if location.startswith(("https://", "http://")):
        artifact = ArtifactSource.from_url(location, interval=interval)
        return DecisioningEngine(artifact, client_code=client or "local")
    artifact = load_artifact(Path(location))
    meta: Mapping[str, Any] = artifact.meta
    return DecisioningEngine(artifact, client_code=client or str(meta.get("clientCode") or "local"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m target_middleware.edge", description="A local Adobe Target Delivery API edge."
    )
    parser.add_argument("--artifact", required=True, help="rules.json path or https:// URL")
    parser.add_argument("--client", help="client code (default: the artifact's meta.clientCode)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--poll-interval", type=float, default=300.0, help="seconds between URL refreshes")
    parser.add_argument("--keep", type=int, default=1000, help="notifications and requests kept (default 1000)")
    parser.add_argument(
        "--conversion-mbox",
        action="append",
        metavar="MBOX",
        help=f"an mbox whose notifications are conversions (repeatable; default {DEFAULT_CONVERSION_MBOXES[0]})",
    )
    args = parser.parse_args(argv)
    if args.keep < 1:
        parser.error("--keep must be at least 1")
    recorder = EdgeRecorder(keep=args.keep, conversion_mboxes=args.conversion_mbox or DEFAULT_CONVERSION_MBOXES)
    try:
        import uvicorn
    except ImportError:
        parser.error("the edge needs uvicorn: pip install uvicorn")
    try:
        engine = _engine_from_args(args.artifact, args.client, args.poll_interval)
    except ArtifactError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(create_edge_app(engine, recorder=recorder), host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
