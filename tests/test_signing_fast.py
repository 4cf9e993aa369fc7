"""The signing fast paths equal the general ones they replace: hmac, blake2b, base64, json.dumps, the splice."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import SimpleNamespace
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_middleware.delivery.models import MboxResult, Metric, MetricType, PageLoadResult
from target_middleware.pagebytes import (
    ascii_as_is,
    body_end,
    click_head,
    clicks_json,
    script_json,
    splice_at,
    splice_before_body_end,
)
from target_middleware.testing import static_client
from target_middleware.tracking import (
    ClickSigner,
    Tracking,
    binding,
    click_metrics,
    hmac_pads,
    hmac_sha256,
    signature_text,
)
from target_middleware.visitor import Visitor

TEXT = st.text(st.characters(blacklist_categories=["Cs"]) | st.sampled_from('<>&"\\\u2028\u2029\x00é€'), max_size=30)


@settings(max_examples=300)
@given(key=st.binary(min_size=0, max_size=200), message=st.binary(max_size=300))
@example(key=b"k" * 64, message=b"")
@example(key=b"k" * 65, message=b"x")
def test_hmac_from_pads_is_hmac_sha256(key: bytes, message: bytes) -> None:
    inner, outer = hmac_pads(key)
    assert hmac_sha256(inner, outer, message) == hmac.new(key, message, hashlib.sha256).digest()
    assert hmac_sha256(inner, outer, message) == hmac.new(key, message, hashlib.sha256).digest()  # pads unchanged


@settings(max_examples=200)
@given(tag=st.binary(min_size=16, max_size=32))
def test_signature_text_is_unpadded_base64url_of_128_bits(tag: bytes) -> None:
    assert signature_text(tag) == base64.urlsafe_b64encode(tag[:16]).rstrip(b"=").decode()


def message(token: str, mbox: str, visitor: str, expires: int, proposition: str | None) -> bytes:
    """What a click's signature covers."""
    return (f"{token}\n{mbox}\n{visitor}\n{expires}" + ("" if proposition is None else f"\n{proposition}")).encode()


def hmac_signature(key: bytes, signed: bytes) -> str:
    """A click's signature as pages signed before BLAKE2b carry it (an hmac.HMAC per message, cut to 128 bits)."""
    return base64.urlsafe_b64encode(hmac.new(key, signed, hashlib.sha256).digest()[:16]).rstrip(b"=").decode()


def blake2b_signature(key: bytes, signed: bytes) -> str:
    """A click's signature as the README says it: keyed BLAKE2b-128 of the same message, under the key
    HMAC-SHA256(signing key, label)."""
    derived = hmac.new(key, b"target-middleware click signatures: keyed BLAKE2b-128", hashlib.sha256).digest()
    tag = hashlib.blake2b(signed, key=derived, digest_size=16).digest()
    return base64.urlsafe_b64encode(tag).rstrip(b"=").decode()


@settings(max_examples=300)
@given(
    key=st.binary(min_size=16, max_size=80),
    click=st.tuples(TEXT, TEXT, TEXT),
    expires=st.integers(0, 2**40),
    proposition=st.none() | TEXT,
)
def test_a_signature_is_keyed_blake2b_and_the_hmac_of_older_pages_verifies(
    key: bytes, click: tuple[str, str, str], expires: int, proposition: str | None
) -> None:
    """New pages carry BLAKE2b's signature; a page signed before (HMAC-SHA256) still verifies while it lives, and
    neither verifies for another click, expiry or key."""
    token, mbox, visitor = click
    signer = ClickSigner(key)
    new = signer.sign(token, mbox, visitor, expires, proposition=proposition)
    signed = message(token, mbox, visitor, expires, proposition)
    old = hmac_signature(key, signed)
    assert new == blake2b_signature(key, signed)
    assert new != old
    assert signer.sign_hmac(token, mbox, visitor, expires, proposition=proposition) == old
    for signature in (new, old):
        assert signer.verify(signature, token, mbox, visitor, expires, proposition=proposition)
        assert not signer.verify(signature, token, mbox, visitor, expires + 1, proposition=proposition)
        assert not signer.verify(signature, token, mbox, f"{visitor}x", expires, proposition=proposition)
        assert not signer.verify(signature, token, mbox, visitor, expires, proposition=f"{proposition}x")
        assert not ClickSigner(key + b"x").verify(signature, token, mbox, visitor, expires, proposition=proposition)
        # A rotated key: the previous key's pages verify, of either kind.
        assert ClickSigner([key + b"x", key]).verify(signature, token, mbox, visitor, expires, proposition=proposition)
    rotated = ClickSigner([key + b"x", key]).sign(token, mbox, visitor, expires, proposition=proposition)
    assert rotated == blake2b_signature(key + b"x", signed)


@settings(max_examples=400)
@given(
    expires=st.integers(0, 2**40),
    clicks=st.dictionaries(TEXT, st.tuples(TEXT, st.from_regex(r"[A-Za-z0-9_-]{22}", fullmatch=True)), max_size=4),
)
@example(expires=5, clicks={"</script><!--": ("a&b>", "A" * 22)})
def test_clicks_json_is_script_json_of_the_object(expires: int, clicks: dict[str, tuple[str, str]]) -> None:
    expected = script_json({"expires": expires, "clicks": {t: [m, s] for t, (m, s) in clicks.items()}})
    assert clicks_json(expires, [(t, m, s) for t, (m, s) in clicks.items()]) == expected


ENCODINGS = [
    *("utf-8", "latin-1", "cp1252", "ascii", "iso2022_jp", "shift_jis", "raw_unicode_escape", "koi8-r"),
    *("utf-16", "utf-16-le", "utf-32", "utf-8-sig", "utf-7", "cp500", "unicode_escape", "idna", "punycode"),
    *("rot13", "base64", "no-such-charset"),
]


@settings(max_examples=500)
@given(text=st.text(st.characters(max_codepoint=127)), encoding=st.sampled_from(ENCODINGS))
@example(text='<script nonce="+1">{}</script>', encoding="utf-7")
@example(text="a", encoding="utf-8-sig")
def test_ascii_as_is_only_where_ascii_text_encodes_to_its_own_bytes(text: str, encoding: str) -> None:
    """Where ``ascii_as_is`` holds, any ASCII text is its bytes in that encoding; where it does not, some is not
    (or the codec is no text encoding: the element is then encoded as before, and fails as before)."""
    if ascii_as_is(encoding):
        assert text.encode(encoding, "xmlcharrefreplace") == text.encode("ascii")
    else:
        ascii = "".join(map(chr, range(128)))
        with suppress(LookupError, ValueError, TypeError):
            assert ascii.encode(encoding, "xmlcharrefreplace") != ascii.encode("ascii")
    assert ascii_as_is("utf-8")
    assert ascii_as_is("latin-1")
    assert not ascii_as_is("utf-16")


PAGES = st.lists(
    st.sampled_from(["<p>x</p>", "</body>", "</BODY>", "</Body >", "</body\n>", "</bod", "é", "<body>", "</html>"]),
    max_size=8,
).map("".join)


@settings(max_examples=400)
@given(page=PAGES, encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "utf-16-le", "utf-32", "cp1252"]))
def test_a_splice_at_the_found_end_is_the_searched_splice(page: str, encoding: str) -> None:
    body, snippet = page.encode(encoding), "<script>s</script>".encode(encoding)
    at = body_end(body, encoding)
    if at is None:
        assert encoding.startswith(("utf-16", "utf-32"))
        return
    ends = list(re.finditer(rb"</body\s*>", body, re.IGNORECASE))  # the rule, as plainly as it can be said
    expected = body[: ends[-1].start()] + snippet + body[ends[-1].start() :] if ends else body + snippet
    assert splice_at(body, snippet, at) == expected
    assert splice_before_body_end(body, snippet, encoding) == expected


@settings(max_examples=300)
@given(
    expires=st.integers(0, 2**40),
    clicks=st.dictionaries(TEXT, st.tuples(TEXT, st.from_regex(r"[A-Za-z0-9_-]{22}", fullmatch=True)), max_size=4),
)
def test_a_click_s_head_is_what_clicks_json_writes_before_its_signature(
    expires: int, clicks: dict[str, tuple[str, str]]
) -> None:
    """Tracking writes the signatures' JSON from each click's head, its signature and ``"]``, joined by commas."""
    heads = [f'{click_head(t, m)}{s}"]' for t, (m, s) in clicks.items()]
    expected = clicks_json(expires, [(t, m, s) for t, (m, s) in clicks.items()])
    assert f'{{"expires":{expires},"clicks":{{{",".join(heads)}}}}}' == expected


def old_signatures(
    tracking: Tracking, result: Any, tokens: Any, nonce: str | None, encoding: str = "utf-8"
) -> bytes | None:
    """Tracking.signatures before the heads were kept (main 635df39), for a Delivery API decision: each click signed
    whole by ``ClickSigner.sign``, written by ``clicks_json`` (the nonce attribute only for a nonce that can go
    between quotes as it is)."""
    metrics = [(token, mbox) for token, mbox in click_metrics(result, tracking.global_mbox) if token in tokens]
    if not metrics:
        return None
    expires = int(time.time()) + tracking.signer.ttl
    who = binding(result.visitor)
    mboxes = dict(metrics)
    sign = tracking.signer.sign
    data = clicks_json(expires, [(token, mbox, sign(token, mbox, who, expires)) for token, mbox in mboxes.items()])
    attributes = 'type="application/json" data-target-middleware="click-signatures"'
    quotable = nonce is not None and nonce.isascii() and '"' not in nonce and "&" not in nonce
    element = (
        f'<script {attributes} nonce="{nonce}">{data}</script>' if quotable else f"<script {attributes}>{data}</script>"
    )
    return element.encode(encoding, "xmlcharrefreplace")


WORDS = st.sampled_from(["t1", "t2", "<t&>", "é", ""])
METRICS = st.lists(
    st.builds(Metric, st.sampled_from(list(MetricType)), st.none() | WORDS, st.none() | WORDS), max_size=4
).map(tuple)
MBOXES = st.lists(st.builds(MboxResult, st.sampled_from(["hero", "side"]), st.none(), st.just(()), METRICS), max_size=2)


@settings(max_examples=300, deadline=None)
@given(
    page_load=st.none() | METRICS,
    mboxes=MBOXES,
    tokens=st.tuples(st.frozensets(WORDS, max_size=3), st.frozensets(WORDS, max_size=3)),
    visitors=st.lists(st.sampled_from(["a1", "b2", "c3", None, "a1.35_0"]), min_size=1, max_size=4),
    nonce=st.none() | st.sampled_from(["n0nce", "", 'a"b', "x&y", "é"]),
    encoding=st.sampled_from(["utf-8", "latin-1", "cp1252", "utf-16", "ascii", "utf-8-sig", "utf-7", "cp500"]),
    key=st.binary(min_size=16, max_size=100),
)
def test_the_signatures_are_the_old_ones_for_every_visitor(
    *,
    page_load: tuple[Metric, ...] | None,
    mboxes: list[MboxResult],
    tokens: tuple[frozenset[str], frozenset[str]],
    visitors: list[str | None],
    nonce: str | None,
    encoding: str,
    key: bytes,
) -> None:
    """Kept clicks (one decision's metrics for several visitors, as on-device answers share them: each click's head
    and its HMAC's inner hash fed ``token\\nmbox\\n``) sign each visitor as the general path does, tntId or session
    bound, any key length (over 64 bytes: hashed first); the clock is frozen so both read the same expiry."""
    tracking = Tracking(static_client({}), signing_key=key, stats=Counter(), io=None, global_mbox="g")
    load = None if page_load is None else PageLoadResult((), page_load)
    for i, tnt in enumerate(visitors):
        clicked = tokens[i % 2]  # two rewrites' tokens over the same decision's metrics
        response = SimpleNamespace(execute_page_load=load, execute_mboxes=tuple(mboxes))
        result = SimpleNamespace(
            response=response, page_load=load, mboxes=tuple(mboxes), edge=None, visitor=Visitor("s1", tnt_id=tnt)
        )
        with frozen_time():
            signed = tracking.signatures(result, tokens=clicked, encoding=encoding, nonce=nonce)  # type: ignore[arg-type]
            assert signed == old_signatures(tracking, result, clicked, nonce, encoding)


@contextmanager
def frozen_time() -> Iterator[None]:
    now = time.time()
    real = time.time
    time.time = lambda: now  # type: ignore[assignment]
    try:
        yield
    finally:
        time.time = real  # type: ignore[assignment]
