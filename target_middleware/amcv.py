"""The ``AMCV_{orgId}`` cookie of Adobe's Visitor API: the ECID and the Audience Manager location hint and blob.

VisitorAPI.js writes it URI-encoded: ``<config hash>|MCIDTS|<day>|MCMID|<ecid>|MCAAMLH-<expires>|<hint>|
MCAAMB-<expires>|<blob>|MCOPTOUT-<expires>s|NONE|...|vVersion|5.5.0``: ``|``-separated key/value pairs after an
optional numeric first element, a key optionally suffixed with its expiry in epoch seconds (``s`` appended: it also
ends with the browser session, that is with the ``AMCVS_{orgId}`` cookie). Every value is untrusted and checked
against what the Visitor API itself writes; a value that does not fit is dropped, never forwarded. A visitor who
opted out (``MCOPTOUT`` other than ``NONE``) has no ids.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = ["MAX_AMCV_LENGTH", "ExperienceCloudId", "amcv_cookie_name", "parse_amcv", "read_amcv"]

logger = logging.getLogger(__name__)

MAX_AMCV_LENGTH = 4096  # a real AMCV cookie is 200-400 characters

# The Visitor API's own check for ids (VALID_VISITOR_ID_REGEX), with the Delivery API's length limit.
_ECID = re.compile(r"[0-9A-Fa-f-]{1,128}")
_LOCATION_HINT = re.compile(r"[1-9][0-9]{0,3}")
_BLOB = re.compile(r"[A-Za-z0-9_\-+/=]{1,1024}")
_KEY = re.compile(r"([A-Z][A-Za-z]{1,15})(?:-([0-9]{1,12})(s?))?")
_CONFIG_HASH = re.compile(r"-?[0-9]{1,12}")
_WANTED = ("MCMID", "MCAAMLH", "MCAAMB", "MCOPTOUT")


@dataclass(frozen=True, slots=True)
class ExperienceCloudId:
    """What the AMCV cookie says: the ECID and, when Audience Manager is in use, its location hint and blob."""

    marketing_cloud_visitor_id: str
    location_hint: int | None = None
    blob: str | None = None


@functools.lru_cache(maxsize=64)
def amcv_cookie_name(organization_id: str) -> str:
    """``AMCV_`` and the org id as the Visitor API writes it (``encodeURIComponent``: ``@`` is ``%40``)."""
    return "AMCV_" + quote(organization_id, safe="-_.!~*'()")


def parse_amcv(raw: str, *, now: float | None = None, session: bool = True) -> ExperienceCloudId | None:
    """The ids of an AMCV cookie value, or None (no ECID, opted out, or nothing valid).

    ``session`` says whether the browser session is live (the ``AMCVS_`` cookie is there): fields that expire with
    the session count as expired without it, as the Visitor API reads them.
    """
    if not raw or len(raw) > MAX_AMCV_LENGTH:
        return None
    value = raw.replace("%7C", "|")  # nearly all a real cookie encodes: the full decode only when more is left
    if "%" in value:
        try:
            value = unquote(value, errors="strict")
        except UnicodeDecodeError:
            return None
    if not value.isascii() or not value.isprintable():
        return None
    now = time.time() if now is None else now
    parts = value.split("|")
    if _CONFIG_HASH.fullmatch(parts[0]):
        parts = parts[1:]
    fields: dict[str, str] = {}
    for i in range(0, len(parts) - 1, 2):
        if not parts[i].startswith(_WANTED):
            continue  # MCIDTS, MCAID, vVersion, ...: not ours to read
        key = _KEY.fullmatch(parts[i])
        if key is None:
            continue
        name, expires, session_scoped = key.groups()
        if expires is not None and (now >= int(expires) or (session_scoped and not session)):
            fields.pop(name, None)
            continue
        fields[name] = parts[i + 1]
    if fields.get("MCOPTOUT", "NONE") != "NONE":
        return None
    ecid = fields.get("MCMID", "")
    if not _ECID.fullmatch(ecid):
        return None
    hint = fields.get("MCAAMLH", "")
    blob = fields.get("MCAAMB", "")
    return ExperienceCloudId(
        ecid,
        location_hint=int(hint) if _LOCATION_HINT.fullmatch(hint) else None,
        blob=blob if _BLOB.fullmatch(blob) else None,
    )


def read_amcv(
    cookies: Mapping[str, str], organization_id: str, *, now: float | None = None
) -> ExperienceCloudId | None:
    """The visitor's Experience Cloud ids from the request's cookies (``AMCV_{orgId}``), validated; else None."""
    if not organization_id:
        return None
    name = amcv_cookie_name(organization_id)
    raw = cookies.get(name)
    if raw is None:
        raw = cookies.get("AMCV_" + organization_id)  # a server that wrote the name unencoded
    if not raw:
        return None
    session = f"AMCVS_{name.removeprefix('AMCV_')}" in cookies or f"AMCVS_{organization_id}" in cookies
    found = parse_amcv(raw, now=now, session=session)
    if found is None:
        logger.debug("no usable ECID in the AMCV cookie")
    return found
