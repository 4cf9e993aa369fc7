"""Experience Cloud identity: the ECID and Audience Manager hint/blob (from the ``AMCV_`` cookie, see :mod:`.amcv`),
customer ids and the thirdPartyId, as values (no I/O). It is also the one place a Delivery request or a notification
takes the visitor's ids from: :func:`visitor_ids` (the request's ``id``) and :func:`audience_manager`
(``experienceCloud.audienceManager``).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .amcv import ExperienceCloudId, amcv_cookie_name, parse_amcv, read_amcv

if TYPE_CHECKING:
    from starlette.requests import Request

    from .visitor import Visitor

__all__ = [
    "MAX_CUSTOMER_IDS",
    "AuthenticatedState",
    "CustomerId",
    "CustomerIdsSource",
    "ExperienceCloudId",
    "ThirdPartyIdSource",
    "amcv_cookie_name",
    "audience_manager",
    "customer_ids_from",
    "identified",
    "identify",
    "identify_without_request",
    "parse_amcv",
    "read_amcv",
    "resolve_customer_ids",
    "resolve_third_party_id",
    "visitor_ids",
]

logger = logging.getLogger(__name__)

MAX_CUSTOMER_IDS = 50  # DeliveryRequest: id.customerIds maxItems
_MAX_ID = 128
_MAX_INTEGRATION_CODE = 50

_BLOB = re.compile(r"[A-Za-z0-9_\-+/=]{1,1024}")  # an Audience Manager blob, as the AMCV cookie carries it
# An id is any printable text up to its limit: no control characters, no surrogates, not blank.
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]+")


class AuthenticatedState(StrEnum):
    UNKNOWN = "unknown"
    AUTHENTICATED = "authenticated"
    LOGGED_OUT = "logged_out"


def _check_text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip() or len(value) > limit or not _PRINTABLE.fullmatch(value):
        raise ValueError(f"{what} must be 1-{limit} printable characters")
    return value


@dataclass(frozen=True, slots=True)
class CustomerId:
    """A customer id (``id.customerIds[]``): the id, the alias of its customer attributes source, its state."""

    id: str
    integration_code: str
    authenticated_state: AuthenticatedState = AuthenticatedState.UNKNOWN

    def __post_init__(self) -> None:
        _check_text(self.id, "customer id", _MAX_ID)
        _check_text(self.integration_code, "integrationCode", _MAX_INTEGRATION_CODE)
        try:
            state = AuthenticatedState(self.authenticated_state)
        except ValueError:
            allowed = ", ".join(s.value for s in AuthenticatedState)
            raise ValueError(f"authenticatedState must be one of {allowed}") from None
        object.__setattr__(self, "authenticated_state", state)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> CustomerId:
        """From the Delivery API's shape, ``{id, integrationCode, authenticatedState}`` (state defaults to unknown)."""
        if not isinstance(value, Mapping):
            raise ValueError(f"a customer id must be a mapping or a CustomerId, got {type(value).__name__}")
        unknown = set(value) - {"id", "integrationCode", "authenticatedState"}
        if unknown:
            raise ValueError(f"unknown customer id keys: {', '.join(sorted(map(str, unknown)))}")
        return cls(value.get("id"), value.get("integrationCode"), value.get("authenticatedState", "unknown"))  # type: ignore[arg-type]

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "integrationCode": self.integration_code, "authenticatedState": self.authenticated_state}


# -- customer ids and the thirdPartyId, from the app ------------------------------------------------------------

CustomerIdsSource = Iterable[CustomerId | Mapping[str, Any]] | Callable[["Request"], Any | Awaitable[Any]] | None
ThirdPartyIdSource = str | Callable[["Request"], str | Awaitable[str | None] | None] | None


def check_identity_sources(customer_ids: object, third_party_id: object, *, where: str = "") -> None:
    """At configuration time: ``customer_ids`` a list or a callable, ``third_party_id`` a string or a callable."""
    if customer_ids is not None and not callable(customer_ids):
        # A fixed list is checked now, strictly, rather than dropped from on every request.
        if isinstance(customer_ids, str | bytes | Mapping) or not isinstance(customer_ids, Iterable):
            raise ValueError(f"{where}customer_ids must be a list of customer ids or a callable of the request")
        entries = list(customer_ids)
        if len(entries) > MAX_CUSTOMER_IDS:
            raise ValueError(f"{where}at most {MAX_CUSTOMER_IDS} customer ids")
        for entry in entries:
            if not isinstance(entry, CustomerId):
                CustomerId.from_json(entry)
    if third_party_id is not None and not callable(third_party_id):
        _check_text(third_party_id, f"{where}third_party_id", _MAX_ID)


def customer_ids_from(entries: object) -> tuple[CustomerId, ...]:
    """Customer ids from what the app gave: valid entries kept, in order; bad ones and those past 50 dropped, with
    one WARNING saying how many and why (never the values). Not a list at all is a ``TypeError``."""
    if entries is None:
        return ()
    if isinstance(entries, str | bytes | Mapping) or not isinstance(entries, Iterable):
        raise TypeError(f"customer ids must be a list of CustomerId or mappings, got {type(entries).__name__}")
    kept: list[CustomerId] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            kept.append(entry if isinstance(entry, CustomerId) else CustomerId.from_json(entry))
        except ValueError as exc:
            problems.append(f"[{index}] {exc}")
    if len(kept) > MAX_CUSTOMER_IDS:
        problems.append(f"{len(kept) - MAX_CUSTOMER_IDS} past the first {MAX_CUSTOMER_IDS}")
        kept = kept[:MAX_CUSTOMER_IDS]
    if problems:
        logger.warning("customer ids dropped: %s", "; ".join(problems[:5]))
    return tuple(kept)


async def _call(source: Callable[[Request], Any], request: Request) -> Any:
    value = source(request)
    if inspect.isawaitable(value):
        value = await value
    return value


async def resolve_customer_ids(source: CustomerIdsSource, request: Request) -> tuple[CustomerId, ...]:
    """The customer ids for this request: the list, or what the (sync or async) callable returns for it."""
    if source is None:
        return ()
    value = await _call(source, request) if callable(source) else source
    return customer_ids_from(value)


async def resolve_third_party_id(source: ThirdPartyIdSource, request: Request) -> str | None:
    """The thirdPartyId for this request; a value that is not 1-128 printable characters is dropped (WARNING)."""
    if source is None:
        return None
    return _third_party_id_of(await _call(source, request) if callable(source) else source)


def _third_party_id_of(value: object) -> str | None:
    if value is None:
        return None
    try:
        return _check_text(value, "thirdPartyId", _MAX_ID)
    except ValueError as exc:
        logger.warning("thirdPartyId dropped: %s", exc)
        return None


def identified(
    visitor: Visitor,
    *,
    experience_cloud: ExperienceCloudId | None = None,
    customer_ids: tuple[CustomerId, ...] = (),
    third_party_id: str | None = None,
) -> Visitor:
    """``visitor`` with its Experience Cloud ids (from :func:`read_amcv`), the app's customer ids and thirdPartyId.

    Customer ids go to Target only beside an ECID (the API requires one); without it they are left out.
    """
    changes: dict[str, Any] = {}
    if experience_cloud is not None:
        changes["marketing_cloud_visitor_id"] = experience_cloud.marketing_cloud_visitor_id
        changes["aam_location_hint"] = experience_cloud.location_hint
        changes["aam_blob"] = experience_cloud.blob
    if customer_ids:
        changes["customer_ids"] = customer_ids
        if experience_cloud is None and not visitor.marketing_cloud_visitor_id:
            logger.debug("customer ids left out: the visitor has no ECID (no AMCV cookie)")
    if third_party_id:
        changes["third_party_id"] = third_party_id
    return dataclasses.replace(visitor, **changes) if changes else visitor


async def identify(
    visitor: Visitor,
    cookies: Mapping[str, str],
    request: Request,
    *,
    organization_id: str,
    customer_ids: CustomerIdsSource = None,
    third_party_id: ThirdPartyIdSource = None,
) -> Visitor:
    """The request's visitor with everything known of it: the AMCV cookie, the app's customer ids, thirdPartyId."""
    return identified(
        visitor,
        experience_cloud=read_amcv(cookies, organization_id),
        customer_ids=await resolve_customer_ids(customer_ids, request),
        third_party_id=await resolve_third_party_id(third_party_id, request),
    )


def identify_without_request(
    visitor: Visitor,
    cookies: Mapping[str, str],
    *,
    organization_id: str,
    customer_ids: CustomerIdsSource = None,
    third_party_id: ThirdPartyIdSource = None,
) -> Visitor:
    """:func:`identify` when neither source is a callable, so there is no request to build and nothing to await:
    the same steps in the same order (the AMCV cookie, then the customer ids, then the thirdPartyId)."""
    if callable(customer_ids) or callable(third_party_id):
        raise TypeError("identify_without_request takes no callable source: use identify")
    return identified(
        visitor,
        experience_cloud=read_amcv(cookies, organization_id),
        customer_ids=customer_ids_from(customer_ids),
        third_party_id=_third_party_id_of(third_party_id),
    )


# -- what a request says about the visitor ------------------------------------------------------------------------


def visitor_ids(visitor: Visitor, *, third_party_id: str | None = None) -> dict[str, Any]:
    """The DeliveryRequest ``id`` for ``visitor`` (empty when it has none): tntId, thirdPartyId (``third_party_id``
    overrides the visitor's, as the ``mbox3rdPartyId`` param does), marketingCloudVisitorId, and the customer ids,
    which the API takes only beside a marketingCloudVisitorId. Delivery requests and notifications alike use this."""
    ids: dict[str, Any] = {}
    if visitor.tnt_id:
        ids["tntId"] = visitor.tnt_id
    third_party = third_party_id or visitor.third_party_id
    if third_party:
        ids["thirdPartyId"] = third_party
    if visitor.marketing_cloud_visitor_id:
        ids["marketingCloudVisitorId"] = visitor.marketing_cloud_visitor_id
        if visitor.customer_ids:
            ids["customerIds"] = [c.to_json() for c in visitor.customer_ids[:MAX_CUSTOMER_IDS]]
    return ids


def audience_manager(visitor: Visitor) -> dict[str, Any] | None:
    """``experienceCloud.audienceManager`` for ``visitor`` (Audience Manager needs the ECID too), or None."""
    if not visitor.marketing_cloud_visitor_id:
        return None
    section: dict[str, Any] = {}
    if visitor.aam_location_hint is not None:
        section["locationHint"] = visitor.aam_location_hint
    if visitor.aam_blob:
        section["blob"] = visitor.aam_blob
    return section or None


def check_visitor_ids(visitor: Visitor) -> None:
    """The identity fields of a Visitor, as the Delivery API bounds them; a ValueError saying which one is not."""
    for what, value in (
        ("thirdPartyId", visitor.third_party_id),
        ("marketingCloudVisitorId", visitor.marketing_cloud_visitor_id),
    ):
        if value is not None:
            _check_text(value, what, _MAX_ID)
    if not isinstance(visitor.customer_ids, tuple) or not all(isinstance(c, CustomerId) for c in visitor.customer_ids):
        raise ValueError("customer_ids must be a tuple of CustomerId (see customer_ids_from)")
    if len(visitor.customer_ids) > MAX_CUSTOMER_IDS:
        raise ValueError(f"at most {MAX_CUSTOMER_IDS} customer ids")
    hint = visitor.aam_location_hint
    if hint is not None and (not isinstance(hint, int) or isinstance(hint, bool) or not 1 <= hint < 10_000):
        raise ValueError("aam_location_hint must be an integer >= 1")
    if visitor.aam_blob is not None and (
        not isinstance(visitor.aam_blob, str) or not _BLOB.fullmatch(visitor.aam_blob)
    ):
        raise ValueError("aam_blob must be 1-1024 base64 characters")
