"""The demo shop: a FastAPI app whose pages Target personalizes on the server, before the first byte."""

from __future__ import annotations

import os
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from target_middleware import Decisions, TargetMiddleware, TargetStats, target_decisions

from .catalog import CATEGORIES, FEATURED, PRODUCTS, in_category
from .debug import debug_page
from .orders import OrderInvalid, parse_order
from .shopper import USER_COOKIE, DemoVisitorId, customer_ids, signed_in_user, valid_user
from .target import RULES, TargetSettings, client_for, settings_from_env

__all__ = ["create_app"]

HERE = Path(__file__).parent
# The bundled artifact was authored for the shop's production domain; a redirect offer names it.
PRODUCTION_ORIGIN = "https://shop.example"
DEALS_DEFAULT: dict[str, Any] = {"headline": "Deals", "discount": 10, "skus": ["tent-2p", "quilt-20"], "layout": "grid"}

templates = Jinja2Templates(directory=HERE / "templates")


class LocalOrigin:
    """Maps redirects to the production origin onto the origin this server runs on (a dev-server convenience)."""

    def __init__(self, app: ASGIApp, production_origin: str) -> None:
        self.app = app
        self.production_origin = production_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                location = headers.get("location", "")
                if location.startswith(self.production_origin + "/"):
                    headers["location"] = location[len(self.production_origin) :]
            await send(message)

        await self.app(scope, receive, wrapped)


def _page(request: Request, template: str, context: Mapping[str, Any]) -> HTMLResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    base = {
        "categories": CATEGORIES.values(),
        "debug_url": "/_target?path=" + quote(here, safe="/"),
        "here": here,
        "user": signed_in_user(request),
        "atjs_url": request.app.state.target_settings.atjs_url,
        "alloy_url": request.app.state.target_settings.alloy_url,
        "alloy_config": request.app.state.target_settings.alloy_config(),
    }
    return templates.TemplateResponse(request, template, {**base, **context})


def _local(path: str | None) -> str:
    """Where to go back to: a path on this site, never another host."""
    return path if path and path.startswith("/") and not path.startswith(("//", "/\\")) else "/"


def create_app(settings: TargetSettings | None = None) -> FastAPI:
    settings = settings or settings_from_env(os.environ)
    client = client_for(settings)
    stats = TargetStats()
    app = FastAPI(title="Trailhead — target-middleware demo", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.target_client = client
    app.state.target_settings = settings
    app.state.target_stats = stats

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return _page(request, "home.html", {"featured": [PRODUCTS[sku] for sku in FEATURED]})

    @app.get("/products/{sku}", response_class=HTMLResponse)
    async def product(request: Request, sku: str) -> HTMLResponse:
        item = PRODUCTS.get(sku)
        if item is None:
            raise HTTPException(404, "no such product")
        related = [p for p in in_category(item.category) if p.sku != sku]
        return _page(
            request, "product.html", {"product": item, "category": CATEGORIES[item.category], "related": related}
        )

    @app.get("/category/{slug}", response_class=HTMLResponse)
    async def category(request: Request, slug: str) -> HTMLResponse:
        found = CATEGORIES.get(slug)
        if found is None:
            raise HTTPException(404, "no such category")
        return _page(request, "category.html", {"category": found, "products": in_category(slug)})

    @app.get("/summer-sale", response_class=HTMLResponse)
    async def summer_sale(request: Request) -> HTMLResponse:
        # What visitors see only when Target is off: an offer sends them to /deals.
        return _page(request, "summer_sale.html", {})

    @app.get("/deals", response_class=HTMLResponse)
    async def deals(request: Request, target: Annotated[Decisions | None, Depends(target_decisions)]) -> HTMLResponse:
        offers = target.json_offers("deals-config") if target else []
        config = {**DEALS_DEFAULT, **(offers[0] if offers and isinstance(offers[0], dict) else {})}
        items = [PRODUCTS[sku] for sku in config["skus"] if sku in PRODUCTS]
        return _page(
            request,
            "deals.html",
            {
                "config": config,
                "items": items,
                "from_offer": bool(offers),
                "redirected": request.query_params.get("from") == "summer-sale",
                "ordered": request.query_params.get("ordered", "")[:16],
            },
        )

    @app.post("/deals/order")
    async def place_order(request: Request) -> Response:
        try:
            order = parse_order(await request.body(), request.headers.get("content-type", ""))
        except OrderInvalid as exc:
            return HTMLResponse(f"<p>Your order was not placed: {escape(str(exc))}.</p>", status_code=400)
        # at.js trackEvent on the server: a conversion for this visitor, sent to Target in the background.
        order_params = {"orderId": order.id, "orderTotal": order.total, "productPurchasedId": order.sku}
        await request.state.target.track("orderConfirm", order=order_params)
        # Post/Redirect/Get: a reload of the confirmation does not order twice.
        return RedirectResponse(f"/deals?ordered={order.id}", status_code=303)

    @app.get("/login")
    async def login(request: Request, user: str = "", next: str = "/") -> Response:
        name = valid_user(user.strip().lower())
        if name is None:
            raise HTTPException(400, "user: lower-case letters, digits, - and _, up to 32")
        response = RedirectResponse(_local(next), status_code=303)
        response.set_cookie(USER_COOKIE, name, path="/", samesite="lax", httponly=True)
        return response

    @app.get("/logout")
    async def logout(next: str = "/") -> Response:
        response = RedirectResponse(_local(next), status_code=303)
        response.delete_cookie(USER_COOKIE, path="/")
        return response

    @app.get("/_target", response_class=HTMLResponse)
    async def target_debug(request: Request, path: str = "/") -> Response:
        report = await debug_page(request, path, stats=stats, settings=settings)
        return templates.TemplateResponse(
            request, "debug.html", {"categories": CATEGORIES.values(), "debug_url": None, **report}
        )

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # The last added is the outermost: GZip compresses the page Target personalized (a compressed page
    # reaching TargetMiddleware would pass through untouched).
    app.add_middleware(
        TargetMiddleware,
        client=client,
        rules=RULES,
        timeout=settings.timeout,
        debug_header=True,
        stats=stats,
        handoff=settings.handoff,
        customer_ids=customer_ids,  # the signed-in shopper, beside the ECID of the AMCV cookie
        analytics=settings.analytics,
        signing_key=settings.signing_key,  # the click tokens in pages; the beacons come back to /_target/click
    )
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    # Outside the middleware: the Experience Cloud ID is in the cookies before Target is asked (as with Adobe's
    # Visitor API on a real site).
    app.add_middleware(DemoVisitorId, organization_id=settings.organization_id)
    app.add_middleware(LocalOrigin, production_origin=PRODUCTION_ORIGIN)
    return app
