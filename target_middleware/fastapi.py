"""The request's Target decisions inside a handler: ``Depends(target_decisions)`` in FastAPI, or a plain call.

    @app.get("/")
    async def home(request: Request, target: Decisions | None = Depends(target_decisions)):
        hero = (target.json_offers("home-hero") if target else None) or [DEFAULT_HERO]

The decision is the one the middleware started when the request arrived; awaiting it here costs at most what is
left of the request's budget. None when the route has no rule, or the decision failed or timed out.
"""

from __future__ import annotations

from starlette.requests import Request

from .decisions import Decisions, TargetRequest

__all__ = ["target_decisions"]


async def target_decisions(request: Request) -> Decisions | None:
    state = request.scope.get("state") or {}
    handle = state.get("target") if isinstance(state, dict) else None
    if not isinstance(handle, TargetRequest):
        return None
    return await handle.decisions()
