"""Where the demo's decisions come from, and which pages ask for which mboxes.

By default: Target's on-device engine over the bundled ``rules.json``, in process, with no network and no account.
The environment switches it to a real Target account or to a local edge (``python -m target_middleware.edge``):

    TARGET_CLIENT_CODE, TARGET_ORGANIZATION_ID   your account (default: the bundled artifact's ``demoshop``)
    TARGET_DECISIONING                           on-device | server-side | hybrid
    TARGET_SERVER_DOMAIN                         the Delivery API host[:port], e.g. 127.0.0.1:8080 for a local edge
    TARGET_ARTIFACT                              a rules.json path or URL (on-device, hybrid)
    TARGET_TIMEOUT                               the decision budget per request in seconds (default 0.25)
    TARGET_SIGNING_KEY                           signs the click tokens in pages (share it across workers)
    TARGET_TRACKING_SERVER                       Analytics for Target: your Analytics tracking server (A4T logs
                                                 server-side either way: each page view's SDID is on /_target)
    TARGET_TRANSPORT                             delivery (default) | edge-network (Adobe's Edge Network Server API)
    TARGET_DATASTREAM_ID, TARGET_EDGE_DOMAIN     the datastream, and the Edge Network host[:port] (plain http for
                                                 127.0.0.1, e.g. the local edge: python -m target_middleware.edge)
    TARGET_HANDOFF                               atjs: hand what the server did not apply to at.js (serverState);
                                                 websdk (with edge-network): to alloy (applyResponse)
    TARGET_ATJS_URL                              your account's at.js, loaded after the hand-off (the demo ships none)
    TARGET_ALLOY_URL                             the Web SDK (alloy.js) the pages load and configure for the datastream
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request

from target_middleware import AnalyticsSettings, EdgeNetworkClient, MboxRule, TargetClient, load_artifact
from target_middleware.decisioning.source import artifact_url

from .catalog import CATEGORIES, PRODUCTS

__all__ = ["ANALYTICS_ISLAND", "ARTIFACT", "RULES", "TargetSettings", "client_for", "settings_from_env"]

ARTIFACT = Path(__file__).with_name("rules.json")
GLOBAL_MBOX = "target-global-mbox"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
ANALYTICS_ISLAND = "target-analytics"  # <script type="application/json" id=...>: the SDID for the page's Analytics


def _product_params(request: Request) -> Mapping[str, Any]:
    """Mbox params from the path, as an at.js page would send them with ``targetPageParams``."""
    product = PRODUCTS.get(request.path_params["sku"])
    if product is None:
        return {"productId": request.path_params["sku"]}
    return {
        "productId": product.sku,
        "productName": product.name,
        "productCategory": product.category,
        "stock": product.stock,
        "entity.id": product.sku,  # Recommendations' entity attributes travel the same way
        "entity.categoryId": product.category,
    }


def _category_params(request: Request) -> Mapping[str, Any]:
    category = CATEGORIES.get(request.path_params["slug"])
    return {"categoryId": request.path_params["slug"], "categoryName": category.name if category else ""}


RULES = [
    MboxRule("/", mboxes=[GLOBAL_MBOX], views=True),  # the home page's views, for at.js's triggerView("home")
    MboxRule("/products/{sku}", mboxes=[GLOBAL_MBOX, "product-detail"], params=_product_params),
    MboxRule(
        "/category/{slug}",
        mboxes=[GLOBAL_MBOX, "category-promo"],
        params=_category_params,
        html_selectors={"category-promo": "#category-promo"},  # where the form-based html offer goes
    ),
    MboxRule("/summer-sale", mboxes=["summer-sale"]),
    MboxRule("/deals", mboxes=[GLOBAL_MBOX, "deals-config"]),
]


@dataclass(frozen=True, slots=True)
class TargetSettings:
    client_code: str
    organization_id: str
    decisioning: str = "on-device"
    server_domain: str | None = None
    artifact: str | None = None  # path or URL; None: the bundled rules.json (or, with an account, Target's CDN)
    timeout: float = 0.25  # the decision budget per request, seconds
    signing_key: str | None = field(default=None, repr=False)  # None: a random key per process
    tracking_server: str | None = None  # A4T: the Analytics tracking server Target forwards to
    transport: str = "delivery"  # or "edge-network"
    datastream_id: str | None = None
    edge_domain: str | None = None  # the Edge Network host[:port]; edge.adobedc.net by default
    handoff: str | None = None  # "atjs": serverState for at.js in the page
    atjs_url: str | None = None  # the at.js to load after the hand-off (from your Target account)
    alloy_url: str | None = None  # the Web SDK's alloy.js, configured for the datastream in every page

    def __post_init__(self) -> None:
        if self.handoff == "websdk" and self.transport != "edge-network":
            raise ValueError("TARGET_HANDOFF=websdk needs TARGET_TRANSPORT=edge-network (alloy continues from it)")

    def alloy_config(self) -> dict[str, str]:
        """alloy's ``configure`` options for the datastream (alloy calls ``https://<edgeDomain>`` only)."""
        return {
            "datastreamId": self.datastream_id or "demo-datastream",
            "orgId": self.organization_id,
            "edgeDomain": (self.edge_domain or "edge.adobedc.net").split(":", 1)[0],
        }

    @property
    def analytics(self) -> AnalyticsSettings:
        """A4T, server-side: a fresh SDID per page view, sent with the decision and written into the page."""
        return AnalyticsSettings(
            logging="server_side", tracking_server=self.tracking_server, data_island_id=ANALYTICS_ISLAND
        )

    @property
    def bundled(self) -> bool:
        """Decisions from the bundled artifact, in process: nothing leaves the machine."""
        return (
            self.transport == "delivery"
            and self.decisioning == "on-device"
            and self.artifact is None
            and self.server_domain is None
        )

    def describe(self) -> str:
        if self.transport == "edge-network":
            return f"Edge Network datastream {self.datastream_id} at {self.edge_domain or 'edge.adobedc.net'}"
        if self.bundled:
            return f"on-device decisioning over {ARTIFACT.name} (client {self.client_code}), no network"
        where = self.server_domain or f"{self.client_code}.tt.omtrdc.net"
        if self.decisioning == "server-side":
            return f"server-side decisioning at {where}"
        return f"{self.decisioning} decisioning over {self.artifact or 'the artifact from Target'} (edge: {where})"


def settings_from_env(env: Mapping[str, str]) -> TargetSettings:
    meta = load_artifact(ARTIFACT).meta
    server_domain = env.get("TARGET_SERVER_DOMAIN") or None
    decisioning = env.get("TARGET_DECISIONING") or ("server-side" if server_domain else "on-device")
    return TargetSettings(
        client_code=env.get("TARGET_CLIENT_CODE") or str(meta["clientCode"]),
        organization_id=env.get("TARGET_ORGANIZATION_ID") or str(meta["organizationId"]),
        decisioning=decisioning,
        server_domain=server_domain,
        artifact=env.get("TARGET_ARTIFACT") or None,
        timeout=float(env.get("TARGET_TIMEOUT") or 0.25),
        signing_key=env.get("TARGET_SIGNING_KEY") or None,
        tracking_server=env.get("TARGET_TRACKING_SERVER") or None,
        transport=env.get("TARGET_TRANSPORT") or "delivery",
        datastream_id=env.get("TARGET_DATASTREAM_ID") or None,
        edge_domain=env.get("TARGET_EDGE_DOMAIN") or None,
        handoff=env.get("TARGET_HANDOFF") or None,
        atjs_url=env.get("TARGET_ATJS_URL") or None,
        alloy_url=env.get("TARGET_ALLOY_URL") or None,
    )


def client_for(settings: TargetSettings) -> TargetClient | EdgeNetworkClient:
    """The client the settings describe: the Delivery API's TargetClient, or the Edge Network's."""
    if settings.transport == "edge-network":
        domain = settings.edge_domain or "edge.adobedc.net"
        return EdgeNetworkClient(
            settings.datastream_id or "demo-datastream",
            settings.organization_id,
            edge_domain=domain,
            secure=not domain.startswith(LOCAL_HOSTS),
        )
    secure = not (settings.server_domain or "").startswith(LOCAL_HOSTS)
    common: dict[str, Any] = {
        "decisioning": settings.decisioning,
        "server_domain": settings.server_domain,
        "secure": secure,
    }
    if settings.bundled:
        return TargetClient(
            settings.client_code,
            settings.organization_id,
            artifact=load_artifact(ARTIFACT),
            on_notifications=_discard,  # no account to tell what was displayed
            **common,
        )
    if settings.decisioning == "server-side":
        return TargetClient(settings.client_code, settings.organization_id, **common)
    return TargetClient(
        settings.client_code,
        settings.organization_id,
        artifact=settings.artifact or artifact_url(settings.client_code),
        **common,
    )


def _discard(_notifications: object) -> None:
    return None
