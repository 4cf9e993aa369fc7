"""Clicks and conversions back to Target: signed click tokens in the page, and ``track()`` from handlers.

A page with click metrics leaves ``apply_actions`` the same for every visitor of its experience (elements marked
with their unsigned event token, one listener script). What is the visitor's own goes in after the rewrite, as
one small JSON element spliced in before ``</body>``: for each event token its mbox and a MAC (keyed BLAKE2b-128;
HMAC-SHA256 in pages signed before) over ``{token, mbox, the visitor (tntId, else session id), expiry}``. The
listener beacons tokens and signatures to the middleware's click path (``clicks.py`` checks them); every click and
``track()`` conversion then goes to Target through the client's one bounded background queue.

On the Edge Network a click is an event naming the clicked proposition (``{id, scope, scopeDetails}``), which no
token can be turned back into without shared state: the page carries it, as a JSON string per token, and the MAC
covers it (and binds the click to the visitor's ``kndctr_<org>_identity`` cookie instead of the mbox cookie's ids).
"""

from __future__ import annotations

import asyncio
import binascii
import concurrent.futures
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from starlette.datastructures import URL, Headers
from starlette.requests import Request, cookie_parser
from starlette.types import Scope

from .delivery.context import PageContext
from .delivery.models import Metric, MetricType
from .delivery.notifications import (
    NotificationOutcome,
    NotificationQueue,
    Pending,
    event_notification,
    with_third_party_id,
)
from .delivery.offers import OffersClient, OffersResult
from .identity import CustomerIdsSource, ThirdPartyIdSource, identified, identify, read_amcv
from .iothread import IOThread
from .pagebytes import ascii_as_is, click_head, script_json, splice_at, splice_before_body_end
from .visitor import Visitor

__all__ = ["CLICK_TTL", "MIN_KEY_BYTES", "ClickSigner", "Tracking", "click_metrics"]

logger = logging.getLogger(__name__)

MIN_KEY_BYTES = 16
CLICK_TTL = 24 * 3600  # a signed page's clicks count for a day: a tab left open is still a visitor's click
SIGNATURES_ATTRIBUTE = "click-signatures"  # data-target-middleware="click-signatures", read by the listener
_ATTRIBUTES = f'type="application/json" data-target-middleware="{SIGNATURES_ATTRIBUTE}"'
_SIGNATURE_BYTES = 16  # a BLAKE2b-128 tag (or an HMAC-SHA256 tag cut to 128 bits): 22 characters of base64url
_URLSAFE = bytes.maketrans(b"+/", b"-_")
_BLOCK = hashlib.sha256().block_size
_MAX_KEPT_HEADS = 256


def _script_open(nonce: str | None) -> str:
    """The signatures element's start tag: with the nonce when it can go between quotes as it is (ASCII, no quote
    or ampersand)."""
    if nonce is not None and nonce.isascii() and '"' not in nonce and "&" not in nonce:
        return f'<script {_ATTRIBUTES} nonce="{nonce}">'
    return f"<script {_ATTRIBUTES}>"


_OPEN = _script_open(None).encode()
_IPAD, _OPAD = bytes(x ^ 0x36 for x in range(256)), bytes(x ^ 0x5C for x in range(256))


def hmac_pads(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's (RFC 2104) two keyed hashes: SHA-256 fed the key XOR ipad, and the key XOR opad."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def hmac_sha256(inner: Any, outer: Any, message: bytes) -> bytes:
    """``hmac.new(key, message, sha256).digest()`` from the key's :func:`hmac_pads`: the same two hashes, without
    the HMAC object's Python-level copy per message."""
    first = inner.copy()
    first.update(message)
    second = outer.copy()
    second.update(first.digest())
    return second.digest()  # type: ignore[no-any-return]


# What the BLAKE2b key of clicks is derived from the signing key with: the signing key is HMAC-SHA256's too (pages
# signed before BLAKE2b), and a key derived apart keeps the two MACs' keys apart.
_BLAKE2B_LABEL = b"target-middleware click signatures: keyed BLAKE2b-128"


def blake2b_keyed(key: bytes) -> Any:
    """Keyed BLAKE2b with a 128-bit digest (RFC 7693's MAC), under ``HMAC-SHA256(key, label)``: a 32-byte key of
    its own whatever the signing key's length (BLAKE2b takes at most 64)."""
    inner, outer = hmac_pads(key)
    return hashlib.blake2b(key=hmac_sha256(inner, outer, _BLAKE2B_LABEL), digest_size=_SIGNATURE_BYTES)


def signature_text(tag: bytes) -> str:
    """The first 128 bits of a tag in unpadded base64url (22 characters): ``urlsafe_b64encode(...).rstrip(b"=")``."""
    return signature_ascii(tag).decode()


def signature_ascii(tag: bytes) -> bytes:
    """:func:`signature_text` as its ASCII bytes. 128 bits are 22 base64 characters and always two ``=`` of padding:
    the first 22 are the unpadded text."""
    return binascii.b2a_base64(tag[:_SIGNATURE_BYTES], newline=False)[:22].translate(_URLSAFE)


# Without a signing_key, every middleware of this process signs with this key: clicks verify on this process only.
_PROCESS_KEY = secrets.token_bytes(32)
_said: set[str] = set()  # warnings said once per process


def warn_process_key() -> None:
    """The one WARNING (per process) that clicks are signed with a key no other process knows."""
    if "process-key" not in _said:
        _said.add("process-key")
        logger.warning(
            "no signing_key given: clicks are signed with a random key of this process and verify only on it; "
            "give every worker and machine the same signing_key"
        )


SigningKey = bytes | str


def _keys(signing_key: SigningKey | Sequence[SigningKey] | None) -> tuple[list[bytes], bool]:
    """The keys as bytes (the first signs, all verify), and whether it is the process's own random key."""
    if signing_key is None:
        return [_PROCESS_KEY], True
    if isinstance(signing_key, str | bytes | bytearray):
        return [_key_bytes(signing_key)], False
    if not isinstance(signing_key, Sequence) or not signing_key:
        raise ValueError("signing_key must be bytes or str, or a list of them (the first signs, all verify)")
    return [_key_bytes(key) for key in signing_key], False


def _key_bytes(signing_key: object) -> bytes:
    if isinstance(signing_key, str):
        signing_key = signing_key.encode()
    if not isinstance(signing_key, bytes | bytearray):
        raise ValueError("signing_key must be bytes or str")
    if not signing_key:
        raise ValueError("signing_key is empty: click tokens signed with it could be forged by anyone")
    if len(signing_key) < MIN_KEY_BYTES:
        raise ValueError(
            f"signing_key is {len(signing_key)} bytes; at least {MIN_KEY_BYTES} are needed for signatures that "
            "cannot be guessed (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return bytes(signing_key)


class ClickSigner:
    """The MAC of one click: event token, mbox, visitor, expiry. One MAC per token to sign, at most two to verify.

    A click is signed with keyed BLAKE2b-128 (RFC 7693's MAC mode) under a key derived from the signing key; pages
    signed before that (HMAC-SHA256 under the signing key itself, cut to 128 bits) verify as well while they live
    (``CLICK_TTL``). Given several keys, the first signs and each verifies (in order): a key rotates without refusing
    the clicks of pages signed with the previous one while they live.
    """

    __slots__ = ("_keyed", "_pads", "generated", "ttl")

    def __init__(self, signing_key: SigningKey | Sequence[SigningKey] | None, *, ttl: int = CLICK_TTL) -> None:
        keys, self.generated = _keys(signing_key)
        # Each key's BLAKE2b state fed its derived key, and HMAC's padded inner and outer hashes (the signatures of
        # pages from before BLAKE2b), made once and copied per message.
        self._keyed = [blake2b_keyed(key) for key in keys]
        self._pads = [hmac_pads(key) for key in keys]
        self.ttl = ttl

    def sign(
        self, token: str, mbox: str, visitor: str, expires: int, *, key: int = 0, proposition: str | None = None
    ) -> str:
        """The signature; ``proposition`` (an Edge Network click's proposition, as the page carries it) is covered
        when given, so a click signed with one verifies only with it, and one signed without only without."""
        mac = self._keyed[key].copy()
        mac.update(click_message(token, mbox, visitor, expires, proposition))
        return signature_text(mac.digest())

    def sign_hmac(
        self, token: str, mbox: str, visitor: str, expires: int, *, key: int = 0, proposition: str | None = None
    ) -> str:
        """The signature as pages signed before BLAKE2b carry it: HMAC-SHA256 of the same message."""
        inner, outer = self._pads[key]
        return signature_text(hmac_sha256(inner, outer, click_message(token, mbox, visitor, expires, proposition)))

    def fed(self, token: str, mbox: str) -> Any:
        """The signing key's MAC fed the start of a click's message (``token\nmbox\n``): what every visitor's
        signature of that click shares. :meth:`signed` finishes it for one visitor."""
        mac = self._keyed[0].copy()
        mac.update(f"{token}\n{mbox}\n".encode())
        return mac

    def signed(self, fed: Any, rest: bytes) -> bytes:
        """``sign(token, mbox, visitor, expires)`` in ASCII bytes, from :meth:`fed` of the token and mbox and
        ``rest``, the message's end ``f"{visitor}\\n{expires}".encode()``: the MAC fed the message in two parts."""
        mac = fed.copy()
        mac.update(rest)
        return signature_ascii(mac.digest())

    def verify(
        self, signature: str, token: str, mbox: str, visitor: str, expires: int, *, proposition: str | None = None
    ) -> bool:
        """Whether ``signature`` is this click's under one of the keys: BLAKE2b's, or HMAC-SHA256's (older pages)."""
        for key in range(len(self._keyed)):
            for sign in (self.sign, self.sign_hmac):
                if hmac.compare_digest(
                    sign(token, mbox, visitor, expires, key=key, proposition=proposition), signature
                ):
                    return True
        return False


def click_message(token: str, mbox: str, visitor: str, expires: int, proposition: str | None) -> bytes:
    """What a click's signature covers: ``token\nmbox\nvisitor\nexpires``, and ``\nproposition`` when given."""
    if proposition is None:
        return f"{token}\n{mbox}\n{visitor}\n{expires}".encode()
    return f"{token}\n{mbox}\n{visitor}\n{expires}\n{proposition}".encode()


def visitor_of(cookie_header: str, organization_id: str) -> Visitor:
    """The visitor a click is for, from the request's cookies: the mbox cookie and the AMCV cookie (ECID, Audience
    Manager). Their Delivery API form is ``identity.visitor_ids``."""
    cookies = cookie_parser(cookie_header)
    return identified(Visitor.from_cookies(cookies), experience_cloud=read_amcv(cookies, organization_id))


def binding(visitor: Visitor) -> str:
    """Who a signed click belongs to: the tntId (the visitor for 2 years), else the session."""
    return f"t:{visitor.tnt_id}" if visitor.tnt_id else f"s:{visitor.session_id}"


def edge_binding(state: Iterable[tuple[str, str]], organization_id: str) -> str | None:
    """Who an Edge Network click belongs to: the datastream's identity cookie (``kndctr_<org>_identity``)."""
    value = dict(state).get(f"kndctr_{organization_id.replace('@', '_')}_identity")
    return f"e:{value}" if value else None


def _edge_clicks(result: OffersResult, organization_id: str) -> tuple[str | None, Mapping[str, str]]:
    """For an Edge Network decision: the binding (the identity the answer left the visitor with) and each click
    token's proposition as the compact JSON string the page carries and the signature covers."""
    assert result.edge is not None
    state = [*result.visitor.edge_state, *((c.name, c.value) for c in result.state_cookies)]
    refs = {
        token: json.dumps(
            {"id": p.id, "scope": p.scope, "scopeDetails": p.scope_details}, separators=(",", ":"), default=str
        )
        for token, p in result.edge.answer.clicks.items()
    }
    return edge_binding(state, organization_id), refs


def click_metrics(result: OffersResult, global_mbox: str) -> list[tuple[str, str]]:
    """``(event token, mbox)`` for every click metric of a decision (the global mbox's name for page load)."""
    page_load = result.page_load
    found = [] if page_load is None else _clicks_of(page_load.metrics, global_mbox)
    for mbox in result.mboxes:
        if mbox.metrics:
            found += _clicks_of(mbox.metrics, mbox.name)
    return found


def _clicks_of(metrics: Iterable[Metric], mbox: str) -> list[tuple[str, str]]:
    return [(m.event_token, mbox) for m in metrics if m.type is MetricType.CLICK and m.selector and m.event_token]


class Tracking:
    """The middleware's side of clicks and conversions; nothing about one visitor is kept here."""

    def __init__(
        self,
        client: OffersClient,
        *,
        signing_key: SigningKey | Sequence[SigningKey] | None,
        stats: Counter[str],
        io: IOThread | None,
        global_mbox: str,
        customer_ids: CustomerIdsSource = None,
        third_party_id: ThirdPartyIdSource = None,
    ) -> None:
        self.client = client
        self.organization_id: str = getattr(client, "organization_id", "")
        self.customer_ids, self.third_party_id = customer_ids, third_party_id
        self.signer = ClickSigner(signing_key)
        self.stats = stats
        self._io = io
        self.global_mbox = global_mbox
        # id of the clicked tokens -> (a page load's metrics, those tokens, their _clicks): see ``_clicks``
        self._kept_clicks: dict[int, tuple[object, object, tuple[tuple[bytes, Any], ...]]] = {}

    # -- the page ----------------------------------------------------------------------------------

    def sign_page(
        self,
        body: bytes,
        result: OffersResult,
        *,
        tokens: Collection[object],
        encoding: str,
        nonce: str | None,
        at: int | None = None,
    ) -> bytes:
        """The page with this visitor's signatures of the click tokens the rewrite marked (``tokens``).

        ``at``, when known, is where the page's last ``</body>`` starts (-1: it has none; see ``body_end``).
        """
        element = self.signatures(result, tokens=tokens, encoding=encoding, nonce=nonce)
        if element is None:
            return body
        return splice_before_body_end(body, element, encoding) if at is None else splice_at(body, element, at)

    def signatures(
        self, result: OffersResult, *, tokens: Collection[object], encoding: str, nonce: str | None
    ) -> bytes | None:
        """The element that carries this visitor's signatures of ``tokens``, in ``encoding``; None: nothing to sign.

        A Delivery API decision's element is written in ASCII bytes (its JSON escapes every other character, a
        nonce that is not ASCII is left out): the element itself in an encoding where ASCII is as it is
        (``ascii_as_is``), re-encoded otherwise."""
        if result.edge is not None:
            data = self._edge_data(result, tokens)
            if data is None:
                return None
            return f"{_script_open(nonce)}{data}</script>".encode(encoding, "xmlcharrefreplace")
        kept = self._clicks(result, tokens)
        if not kept:
            return None
        expires = int(time.time()) + self.signer.ttl
        rest, signed = f"{binding(result.visitor)}\n{expires}".encode(), self.signer.signed
        if len(kept) == 1:
            head, fed = kept[0]
            entries = b'%s%s"]' % (head, signed(fed, rest))
        else:
            entries = b",".join([b'%s%s"]' % (head, signed(fed, rest)) for head, fed in kept])
        opening = _OPEN if nonce is None else _script_open(nonce).encode()
        # signed_clicks_json's text, written inline
        element = b'%s{"expires":%d,"clicks":{%s}}</script>' % (opening, expires, entries)
        return element if ascii_as_is(encoding) else element.decode("ascii").encode(encoding, "xmlcharrefreplace")

    def _edge_data(self, result: OffersResult, tokens: Collection[object]) -> str | None:
        """An Edge Network decision's signatures of ``tokens`` as the element's JSON; None: nothing to sign."""
        metrics = [(token, mbox) for token, mbox in click_metrics(result, self.global_mbox) if token in tokens]
        if not metrics:
            return None
        expires = int(time.time()) + self.signer.ttl
        clicks: dict[str, list[str]] = {}
        edge_who, refs = _edge_clicks(result, self.organization_id)
        for token, mbox in metrics:
            ref = refs.get(token)
            if edge_who is not None and ref is not None:
                clicks[token] = [mbox, self.signer.sign(token, mbox, edge_who, expires, proposition=ref), ref]
        if not clicks:
            return None
        return script_json({"expires": expires, "clicks": clicks})

    def _clicks(self, result: OffersResult, tokens: Collection[object]) -> tuple[tuple[bytes, Any], ...]:
        """For each of ``tokens`` a click metric of the decision names, in the JSON object's order (a token twice
        keeps its first place and its last mbox): its ``click_head(token, mbox)`` (ASCII bytes) and the signer's
        hash ``fed`` the message's start, what every visitor's signature of it shares (``ClickSigner.fed``).

        Kept by the tokens, with the page load's metrics they were found in, both immutable (held here, so the
        tokens' id stays theirs), when the decision has no regional mbox: the same for every decision of one
        on-device answer and every hit of one rewrite-cache entry. A kept hash is only ever copied, never fed
        again."""
        page_load = result.page_load
        metrics = None if page_load is None or result.mboxes else page_load.metrics
        if type(metrics) is not tuple or type(tokens) is not frozenset:
            return self._find_clicks(result, tokens)
        kept = self._kept_clicks.get(id(tokens))
        if kept is not None and kept[0] is metrics and kept[1] is tokens:
            return kept[2]
        clicks = self._find_clicks(result, tokens)
        if len(self._kept_clicks) >= _MAX_KEPT_HEADS:
            self._kept_clicks.clear()
        self._kept_clicks[id(tokens)] = (metrics, tokens, clicks)
        return clicks

    def _find_clicks(self, result: OffersResult, tokens: Collection[object]) -> tuple[tuple[bytes, Any], ...]:
        mboxes = {token: mbox for token, mbox in click_metrics(result, self.global_mbox) if token in tokens}
        signer = self.signer
        return tuple((click_head(token, mbox).encode(), signer.fed(token, mbox)) for token, mbox in mboxes.items())

    # -- the queue ---------------------------------------------------------------------------------

    def enqueue(self, entry: Pending) -> bool:
        """Into the client's queue (False: full, dropped), sent from the loop its connections live on: the I/O
        thread's when there is one (``put`` is thread-safe), else this one."""
        queue: NotificationQueue | None = getattr(self.client, "notifications", None)
        if queue is None:  # a client with no notification queue (the Edge Network's): nothing can go
            if "no-queue" not in _said:
                _said.add("no-queue")
                logger.warning("%s sends no clicks or track() events: they are dropped", type(self.client).__name__)
            return False
        if self._io is not None:
            queue.bind(self._io.loop)
        return queue.put(entry)

    async def track(
        self,
        scope: Scope,
        visitor: Visitor | None,
        mbox: str,
        *,
        params: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | None = None,
        order: Mapping[str, Any] | None = None,
        wait: bool = False,
    ) -> NotificationOutcome:
        """``request.state.target.track(...)``: at.js ``trackEvent`` for this request's visitor and page."""
        headers = Headers(scope=scope)
        if visitor is None:  # everything the middleware knows of it: cookies, the app's customer ids, thirdPartyId
            cookies = cookie_parser(headers.get("cookie", ""))
            visitor = await identify(
                Visitor.from_cookies(cookies),
                cookies,
                Request(scope),
                organization_id=self.organization_id,
                customer_ids=self.customer_ids,
                third_party_id=self.third_party_id,
            )
        url = str(URL(scope=scope))
        client = scope.get("client")
        page = PageContext.from_headers(url, headers, client_ip=client[0] if client else None)
        note = event_notification(mbox, params=params, profile=profile, order=order, url=url)
        return await self.send(with_third_party_id(visitor, params), page, [note], wait=wait)

    async def send(
        self, visitor: Visitor, page: PageContext, notifications: Iterable[Mapping[str, Any]], *, wait: bool
    ) -> NotificationOutcome:
        done: concurrent.futures.Future[NotificationOutcome] | None = concurrent.futures.Future() if wait else None
        if not self.enqueue(Pending(visitor, page, tuple(notifications), done=done)):
            return NotificationOutcome.DROPPED
        return NotificationOutcome.QUEUED if done is None else await asyncio.wrap_future(done)
