"""The visitor as Target knows it: the ``mbox`` and ``mboxEdgeCluster`` cookies, validated.

The ``mbox`` cookie is written the way at.js and Adobe's server SDKs write it,
``session#<id>#<expires>|PC#<tntId>#<expires>`` URI-encoded, so a page served by us and at.js in the browser
share one visitor. Every value read from a cookie is untrusted: anything that does not fit is dropped, because
the edge cluster ends up in a host name and the ids end up in a request URL.
"""

from __future__ import annotations

import logging
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .cookieclock import PC_MAX_AGE, SESSION_MAX_AGE, second_of
from .cookieclock import last as _last_second
from .frozen import builder
from .identity import CustomerId, check_visitor_ids

__all__ = [
    "EDGE_CLUSTER_COOKIE",
    "MBOX_COOKIE",
    "PC_MAX_AGE",
    "SESSION_MAX_AGE",
    "CookieValue",
    "Visitor",
    "edge_host_for",
    "is_valid_cluster",
    "is_valid_session_id",
    "is_valid_tnt_id",
    "returning_visitor",
]

logger = logging.getLogger(__name__)

MBOX_COOKIE = "mbox"
EDGE_CLUSTER_COOKIE = "mboxEdgeCluster"
MAX_COOKIE_LENGTH = 1024  # a real mbox cookie is under 200 characters

_CLUSTER = re.compile(r"[0-9A-Za-z]{1,16}")
# The spec: 1-128 printable characters, no space, '?' or '/'. We also refuse the cookie's own separators and
# the characters that would need quoting inside a cookie, so a session id always round-trips unchanged.
_SESSION_ID = re.compile(r"[!$&'()*+\-.0-9:<=>@A-Z\[\]^_`a-z{}~]{1,128}")
# uuid-ish id, optionally '.<cluster>_<node>' (the location hint): a dot only as the hint delimiter.
_TNT_ID = re.compile(r"[0-9A-Za-z_\-]{1,100}(?:\.[0-9A-Za-z]{1,16}_[0-9A-Za-z]{1,16})?")
_TNT_HINT = re.compile(r"[^.]+\.([0-9A-Za-z]{1,16})_[0-9A-Za-z]{1,16}")
# The Edge Network's state cookies (kndctr_<org>_AdobeOrg_identity, _cluster, ...): round-tripped as they are, so
# only names and values that cannot break a header or a JSON body get through. A real one is under 300 characters.
_EDGE_STATE_KEY = re.compile(r"kndctr_[0-9A-Za-z]{1,64}_AdobeOrg_[0-9A-Za-z_]{1,64}")
_EDGE_STATE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]{1,2048}")
MAX_EDGE_STATE = 8  # cookies


def is_valid_edge_state(key: str, value: str) -> bool:
    """A ``kndctr_<org>_AdobeOrg_*`` cookie we may hand to the Edge Network and write back."""
    return _EDGE_STATE_KEY.fullmatch(key) is not None and _EDGE_STATE_VALUE.fullmatch(value) is not None


def is_valid_cluster(value: str) -> bool:
    return _CLUSTER.fullmatch(value) is not None


# quote(value, safe="") for ASCII text in one C call: every ASCII character but letters, digits and "_.-~".
_PERCENT = {c: f"%{c:02X}" for c in range(128) if not (chr(c).isalnum() or chr(c) in "_.-~")}


_PLAIN_COOKIE = re.compile(r"[A-Za-z0-9_.~#|-]*")  # a session id and tntId as at.js and we make them
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.~-]*")  # ... one of them alone: nothing quote() escapes


def _quote(value: str) -> str:
    if _PLAIN_COOKIE.fullmatch(value):  # only the separators to escape: two replaces beat a per-character map
        return value.replace("#", "%23").replace("|", "%7C")
    return value.translate(_PERCENT) if value.isascii() else quote(value, safe="")


def _unquote(raw: str) -> str:
    """``unquote(raw)``; the escapes at.js and we write (``#`` and ``|``) replaced directly when they are all."""
    value = raw.replace("%23", "#").replace("%7C", "|")
    return value if "%" not in value else unquote(raw)


def is_valid_session_id(value: str) -> bool:
    return _SESSION_ID.fullmatch(value) is not None


def is_valid_tnt_id(value: str) -> bool:
    return len(value) <= 128 and _TNT_ID.fullmatch(value) is not None


def cluster_of_tnt_id(tnt_id: str) -> str | None:
    """The location hint in ``<uuid>.<cluster>_<node>``, or None."""
    match = _TNT_HINT.fullmatch(tnt_id)
    return match.group(1) if match else None


def cluster_of_edge_host(edge_host: str) -> str | None:
    """``mboxedge28.tt.omtrdc.net`` -> ``28``: ``mboxedge<cluster>`` under Target's own domain only."""
    labels = edge_host.split(".")
    if len(labels) != 4 or labels[1:] != ["tt", "omtrdc", "net"] or not labels[0].startswith("mboxedge"):
        return None
    cluster = labels[0].removeprefix("mboxedge")
    return cluster if is_valid_cluster(cluster) else None


def edge_host_for(cluster: str) -> str:
    if not is_valid_cluster(cluster):
        raise ValueError("invalid edge cluster")
    return f"mboxedge{cluster}.tt.omtrdc.net"


def new_session_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class CookieValue:
    """A cookie to write: the app (or the middleware) turns it into ``Set-Cookie``."""

    name: str
    value: str
    max_age: int

    def header(self, *, path: str = "/", domain: str | None = None, secure: bool = False) -> str:
        return self.line(cookie_attributes(domain=domain, secure=secure), path=path)

    def line(self, attributes: str, *, path: str = "/") -> str:
        """The Set-Cookie value, ``attributes`` (:func:`cookie_attributes`) after its own."""
        return f"{self.name}={self.value}; Max-Age={self.max_age}; Path={path}; SameSite=Lax{attributes}"


def cookie_attributes(*, domain: str | None, secure: bool, http_only: bool = False) -> str:
    """What follows ``name=value; Max-Age=n; Path=p; SameSite=Lax`` in a Set-Cookie: Domain, Secure, HttpOnly."""
    domain_part = f"; Domain={domain}" if domain else ""
    return domain_part + ("; Secure" if secure else "") + ("; HttpOnly" if http_only else "")


def _parse_mbox_cookie(raw: str, now: float) -> dict[str, str]:
    """The live parts of an ``mbox`` cookie, ``{"session": id, "PC": tntId}``; expired or bad ones dropped."""
    if len(raw) > MAX_COOKIE_LENGTH:
        return {}
    value = _unquote(raw)
    now_s = math.ceil(now)
    parts: dict[str, str] = {}
    for part in value.split("|"):
        pieces = part.split("#")
        if len(pieces) != 3:
            continue
        name, content, expires = pieces
        # ASCII digits: str.isdigit() takes "²", which int() refuses (MAX_COOKIE_LENGTH keeps int() within its limit).
        if not (expires.isascii() and expires.isdigit()) or now_s > int(expires):
            continue
        parts[name] = content
    return parts


# An mbox cookie as at.js and we write it (unescaped): a session part, then maybe a PC part, each id within its own
# syntax (``_SESSION_ID``, ``_TNT_ID``; the tntId's location hint captured), each expiry a plain number. Read in
# ``Visitor.from_cookies``: what ``_parse_mbox_cookie`` and the checks after it give such a cookie, in one match
# (differential test in test_visitor).
_WRITTEN_COOKIE = re.compile(
    r"session#([!$&'()*+\-.0-9:<=>@A-Z\[\]^_`a-z{}~]{1,128})#([0-9]{1,12})"
    r"(?:\|PC#([0-9A-Za-z_\-]{1,100}(?:\.([0-9A-Za-z]{1,16})_[0-9A-Za-z]{1,16})?)#([0-9]{1,12}))?"
)


@dataclass(frozen=True, slots=True)
class Visitor:
    """One visitor's identity, per request. Nothing here is shared between visitors.

    ``edge_cluster`` is validated (``[0-9A-Za-z]{1,16}``); it comes from the tntId's location hint, else from
    the ``mboxEdgeCluster`` cookie. The Experience Cloud ids (ECID, customer ids, Audience Manager hint and blob)
    come from the AMCV cookie and the app (see :mod:`target_middleware.identity`).
    """

    session_id: str
    tnt_id: str | None = None
    edge_cluster: str | None = None
    third_party_id: str | None = None
    marketing_cloud_visitor_id: str | None = None
    customer_ids: tuple[CustomerId, ...] = ()
    aam_location_hint: int | None = None
    aam_blob: str | None = None
    edge_state: tuple[tuple[str, str], ...] = ()  # the Edge Network's kndctr_* cookies, validated

    def __post_init__(self) -> None:
        if not is_valid_session_id(self.session_id):
            raise ValueError("invalid session id")
        if self.tnt_id is not None and not is_valid_tnt_id(self.tnt_id):
            raise ValueError("invalid tntId")
        if self.edge_cluster is not None and not is_valid_cluster(self.edge_cluster):
            raise ValueError("invalid edge cluster")
        if not isinstance(self.customer_ids, tuple):
            object.__setattr__(self, "customer_ids", tuple(self.customer_ids))
        check_visitor_ids(self)

    @classmethod
    def new(cls) -> Visitor:
        return cls(session_id=new_session_id())

    @classmethod
    def from_cookies(cls, cookies: Mapping[str, str], *, now: float | None = None) -> Visitor:
        """The visitor named by the request's cookies; a fresh session when they say nothing usable."""
        now = time.time() if now is None else now
        raw = cookies.get(MBOX_COOKIE, "")
        # As at.js and we write it, every part live and valid: one match instead of a split, a parse per part and
        # a check per id (no "%" in either id's syntax: any other escape fails it, for the general path to decode).
        written = None
        if len(raw) <= MAX_COOKIE_LENGTH:
            written = _WRITTEN_COOKIE.fullmatch(raw.replace("%23", "#").replace("%7C", "|"))
        now_s = math.ceil(now)
        if (
            written is not None
            and now_s <= int(written[2])
            and (written[3] is None or (now_s <= int(written[5]) and len(written[3]) <= 128))
        ):
            session_id, tnt_id, cluster = written[1], written[3], written[4]
        else:
            parts = _parse_mbox_cookie(raw, now)
            session_id = parts.get("session", "")
            if not is_valid_session_id(session_id):
                if session_id:
                    logger.debug("dropped an invalid session id from the mbox cookie")
                session_id = new_session_id()
            tnt_id = parts.get("PC")
            if tnt_id is not None and not is_valid_tnt_id(tnt_id):
                logger.debug("dropped an invalid tntId from the mbox cookie")
                tnt_id = None
            cluster = cluster_of_tnt_id(tnt_id) if tnt_id else None
        if cluster is None:
            hint = cookies.get(EDGE_CLUSTER_COOKIE, "")
            if is_valid_cluster(hint):
                cluster = hint
            elif hint:
                logger.debug("dropped an invalid mboxEdgeCluster cookie")
        found: list[tuple[str, str]] = []
        for key, value in cookies.items():  # a loop: most requests have no such cookie, and no generator to pay
            if key.startswith("kndctr_") and is_valid_edge_state(key, value):
                found.append((key, value))
        state = tuple(found[:MAX_EDGE_STATE]) if found else ()
        if cls is not Visitor:
            return cls(session_id=session_id, tnt_id=tnt_id, edge_cluster=cluster, edge_state=state)
        # Every field is checked above (the rest are the defaults): no second check in __post_init__ (see ``frozen``).
        return _new_visitor(session_id, tnt_id, cluster, None, None, (), None, None, state)

    @property
    def edge_host(self) -> str | None:
        return edge_host_for(self.edge_cluster) if self.edge_cluster else None

    def mbox_cookie(self, *, now: float | None = None) -> CookieValue:
        """The ``mbox`` cookie to write: session for 31 minutes, PC (the tntId) for 732 days."""
        if now is None:
            now = time.time()
        session_id, tnt_id = self.session_id, self.tnt_id
        # A valid session id is ASCII (``_SESSION_ID``): alphanumeric, it is plain (asked of its bytes: a table
        # lookup a character, where ``str.isalnum`` asks Unicode's tables, ~1 300 instructions more for 32
        # characters). A valid tntId always is (``_TNT_ID``'s characters are all ``_PLAIN_ID``'s), and a Visitor
        # holds no other.
        if session_id.encode().isalnum() or _PLAIN_ID.fullmatch(session_id):
            # Ids as at.js and we make them, nothing in them to escape: written escaped, without _quote's passes,
            # the expiries as written for this second (the same for every visitor in it: see ``cookieclock``).
            before, second, _, session_end, pc_end = _last_second[0]
            if not before < now <= second:
                _, _, _, session_end, pc_end = second_of(now)
            if not tnt_id:
                return _new_cookie_value(MBOX_COOKIE, f"session%23{session_id}{session_end}", SESSION_MAX_AGE)
            value = f"session%23{session_id}{session_end}%7CPC%23{tnt_id}{pc_end}"
            return _new_cookie_value(MBOX_COOKIE, value, PC_MAX_AGE)
        now_s = math.ceil(now)
        value = f"session#{self.session_id}#{now_s + SESSION_MAX_AGE}"
        max_age = SESSION_MAX_AGE  # the longest part's lifetime: 63,244,800 with a PC, else 1860
        if self.tnt_id:
            value = f"{value}|PC#{self.tnt_id}#{now_s + PC_MAX_AGE}"
            max_age = PC_MAX_AGE
        return _new_cookie_value(MBOX_COOKIE, _quote(value), max_age)  # one a response: see ``frozen``

    def edge_cluster_cookie(self) -> CookieValue | None:
        cluster = self.edge_cluster
        if not cluster:
            return None
        # The same immutable value for every visitor of a cluster (a few dozen of them): made once each.
        cookie = _cluster_cookies.get(cluster)
        if cookie is None:
            if len(_cluster_cookies) >= _MAX_CLUSTER_COOKIES:
                _cluster_cookies.clear()
            cookie = _cluster_cookies[cluster] = _new_cookie_value(EDGE_CLUSTER_COOKIE, cluster, SESSION_MAX_AGE)
        return cookie

    def updated(self, *, tnt_id: str | None, edge_host: str | None) -> Visitor:
        """This visitor after a Delivery API answer: its new tntId and cluster, when they are valid."""
        new_tnt = tnt_id if tnt_id and is_valid_tnt_id(tnt_id) else self.tnt_id
        cluster = (cluster_of_tnt_id(new_tnt) if new_tnt else None) or (
            cluster_of_edge_host(edge_host) if edge_host else None
        )
        if new_tnt == self.tnt_id and (cluster or self.edge_cluster) == self.edge_cluster:
            return self  # the usual returning visitor: nothing new to validate
        # Only the two ids change, both checked above: no second __post_init__ (see ``frozen``).
        return _new_visitor(
            self.session_id,
            new_tnt,
            cluster or self.edge_cluster,
            self.third_party_id,
            self.marketing_cloud_visitor_id,
            self.customer_ids,
            self.aam_location_hint,
            self.aam_blob,
            self.edge_state,
        )


_new_visitor, _new_cookie_value = builder(Visitor), builder(CookieValue)
_MAX_CLUSTER_COOKIES = 256  # Target's edge clusters are a few dozen: more is another server's names
_cluster_cookies: dict[str, CookieValue] = {}  # cluster -> its mboxEdgeCluster cookie (a valid cluster)

# A returning visitor's mbox cookie in the raw Cookie header, as at.js and we write it, escaped (see
# ``returning_visitor``): both parts, the tntId with its location hint, each expiry ten digits (2001 to 2286); up to
# the header's end or a ";", the mboxEdgeCluster cookie that follows it when we wrote the two (not read: the tntId's
# hint names the cluster), and the rest of the header after a ";" (group 6).
_RETURNING = re.compile(
    r"mbox=session%23([!$&'()*+\-.0-9:<=>@A-Z\[\]^_`a-z{}~]{1,128})%23([1-9][0-9]{9})"
    r"%7CPC%23([0-9A-Za-z_\-]{1,100}\.([0-9A-Za-z]{1,16})_[0-9A-Za-z]{1,16})%23([1-9][0-9]{9})"
    r"(?:; mboxEdgeCluster=[0-9A-Za-z]*)?(?:;(.*))?\Z",
    re.DOTALL,
)


def returning_visitor(header: str, *, now: float | None = None) -> Visitor | None:
    """``Visitor.from_cookies(cookie_parser(header))`` for the usual returning visitor, read from the Cookie header
    without the cookies' dict; None for any other header (read it that way then).

    It takes a header with a cookie named ``mbox`` written as at.js and we write it (``_RETURNING``: both parts
    live, every id within its syntax, the tntId's location hint naming the cluster), as a whole cookie (at the
    header's start or after ``;`` or ``; ``, up to ``;`` or the end: ``cookie_parser`` strips nothing from it), no
    other cookie named ``mbox`` after it (the last of a name is the one ``cookie_parser`` keeps; one before it is
    moot), and no ``kndctr_`` cookie. What it skips is then moot: every other cookie is one ``from_cookies`` does not
    read (mboxEdgeCluster is read only when the tntId has no hint), and the value has no quotes to undo
    (differential test in test_visitor). One search finds the cookie and its end; only what follows it (most often
    nothing, or the mboxEdgeCluster cookie we wrote with it) is looked at again for another ``mbox``.
    """
    written = _RETURNING.search(header)
    if written is None or "kndctr_" in header:
        return None
    at = written.start()
    if at and header[at - 1] != ";" and header[at - 2 : at] != "; ":
        return None
    session_id, session_expires, tnt_id, cluster, pc_expires, rest = written.groups()
    if rest is not None and "mbox" in rest:
        return None  # maybe a later mbox cookie, the one cookie_parser keeps: the general path reads it
    if now is None:
        now = time.time()
    before, second, now_s, _, _ = _last_second[0]
    if not before < now <= second:
        now_s = second_of(now)[2]
    # Ten digits each, no leading zero, as ``now_s`` is (or it is "~"): compared as text, as numbers.
    if session_expires < now_s or pc_expires < now_s or len(tnt_id) > 128:
        return None
    return _new_visitor(session_id, tnt_id, cluster, None, None, (), None, None, ())
