"""The local edge's read side: ``GET /notifications``, ``GET /requests`` and ``GET /report`` (JSON or HTML).

``/report`` answers JSON unless the client prefers ``text/html`` (a browser) or asks with ``?format=html``;
``?format=json`` forces JSON. Every value on the HTML page is escaped: names come from the artifact, and
notifications from anyone who can reach the edge.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .decisioning import Artifact
from .edgerecord import EdgeRecorder, Tally
from .edgetokens import Experience

__all__ = ["report", "report_html", "report_routes"]

_NO_STORE = {"Cache-Control": "no-store"}
_COLUMNS = ("visitors", "impressions", "clicks", "conversions")


def _order(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int) and not isinstance(value, bool) else (1, str(value))


def _row(experience: Experience, tally: Tally) -> dict[str, Any]:
    rate = round(tally.conversions / tally.visitors, 4) if tally.visitors else 0.0
    counts = {name: getattr(tally, name) for name in _COLUMNS}
    return {
        "id": experience.experience_id,
        "name": experience.experience_name,
        **counts,
        "conversionRate": rate,
        "revenue": tally.revenue,
    }


def report(recorder: EdgeRecorder, artifact: Artifact | None) -> dict[str, Any]:
    """Per activity and experience: visitors, impressions, clicks, conversions (and their rate), revenue."""
    tallies = recorder.tallies(artifact)
    activities: dict[Any, dict[str, Any]] = {}
    for experience in sorted(tallies, key=lambda e: (_order(e.activity_id), _order(e.experience_id))):
        activity = activities.setdefault(
            experience.activity_id,
            {"id": experience.activity_id, "name": experience.activity_name, "experiences": []},
        )
        activity["experiences"].append(_row(experience, tallies[experience]))
    return {
        "activities": list(activities.values()),
        "totals": recorder.totals,
        "conversionMboxes": sorted(recorder.conversion_mboxes),
    }


def report_html(data: dict[str, Any]) -> str:
    """The report as a page: one table per activity."""
    totals = data["totals"]
    mboxes = ", ".join(f"<code>{escape(name)}</code>" for name in data["conversionMboxes"]) or "none"
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Local edge: report</title>',
        "<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}"
        "table{border-collapse:collapse;width:100%}th,td{padding:.35rem .6rem;border-bottom:1px solid #ddd;"
        "text-align:right}th:first-child,td:first-child{text-align:left}small{color:#666}</style></head><body>",
        "<h1>What the local edge counted</h1>",
        f"<p>{int(totals['requests'])} Delivery requests and {int(totals['notifications'])} notifications "
        f"received; {int(totals['unattributed'])} notifications matched no experience. Conversions: notifications "
        f"for {mboxes} or carrying an order, for the experiences the visitor saw.</p>",
        '<p><a href="/report?format=json">JSON</a> · <a href="/notifications">notifications</a> · '
        '<a href="/requests">requests</a></p>',
    ]
    if not data["activities"]:
        parts.append("<p>No activities yet: the edge has answered no request.</p>")
    for activity in data["activities"]:
        parts.append(
            f"<h2>{escape(str(activity['name']))} <small>activity {escape(str(activity['id']))}</small></h2>"
            "<table><thead><tr><th>Experience</th><th>Visitors</th><th>Impressions</th><th>Clicks</th>"
            "<th>Conversions</th><th>Conversion rate</th><th>Revenue</th></tr></thead><tbody>"
        )
        for row in activity["experiences"]:
            cells = "".join(f'<td class="{name}">{int(row[name])}</td>' for name in _COLUMNS)
            parts.append(
                f'<tr data-activity="{escape(str(activity["id"]))}" data-experience="{escape(str(row["id"]))}">'
                f"<td>{escape(str(row['name']))} <small>{escape(str(row['id']))}</small></td>{cells}"
                f'<td class="rate">{float(row["conversionRate"]):.1%}</td>'
                f'<td class="revenue">{float(row["revenue"]):.2f}</td></tr>'
            )
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts)


def _wants_html(request: Request) -> bool:
    chosen = request.query_params.get("format")
    if chosen is not None:
        if chosen not in ("json", "html"):
            raise ValueError("format must be json or html")
        return chosen == "html"
    accept = request.headers.get("accept", "").lower()
    html_at, json_at = accept.find("text/html"), accept.find("application/json")
    return html_at >= 0 and (json_at < 0 or html_at < json_at)


def report_routes(recorder: EdgeRecorder, artifact: Callable[[], Artifact | None]) -> list[Route]:
    """The edge's GET routes over ``recorder``; ``artifact`` gives the edge's current artifact (None before)."""

    async def notifications(_request: Request) -> Response:
        return JSONResponse(recorder.notifications(), headers=_NO_STORE)

    async def requests(_request: Request) -> Response:
        return JSONResponse(recorder.requests(), headers=_NO_STORE)

    async def report_page(request: Request) -> Response:
        try:
            html = _wants_html(request)
        except ValueError as exc:
            return JSONResponse({"status": 400, "message": str(exc)}, status_code=400)
        data = report(recorder, artifact())
        if html:
            return HTMLResponse(report_html(data), headers={**_NO_STORE, "Vary": "Accept"})
        return JSONResponse(data, headers={**_NO_STORE, "Vary": "Accept"})

    return [
        Route("/notifications", notifications, methods=["GET"]),
        Route("/requests", requests, methods=["GET"]),
        Route("/report", report_page, methods=["GET"]),
    ]
