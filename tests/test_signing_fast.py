"""The signing fast paths equal the general ones they replace: hmac, base64, json.dumps, the searched splice."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_middleware.pagebytes import body_end, clicks_json, script_json, splice_at, splice_before_body_end
from target_middleware.tracking import ClickSigner, hmac_pads, hmac_sha256, signature_text

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


@settings(max_examples=300)
@given(
    key=st.binary(min_size=16, max_size=80),
    click=st.tuples(TEXT, TEXT, TEXT),
    expires=st.integers(0, 2**40),
    proposition=st.none() | TEXT,
)
def test_a_signature_is_the_hmac_of_the_click(
    key: bytes, click: tuple[str, str, str], expires: int, proposition: str | None
) -> None:
    """What the signer wrote before (an hmac.HMAC copied per message): same text, so old pages still verify."""
    token, mbox, visitor = click
    mac = hmac.new(key, digestmod=hashlib.sha256)
    mac.update(f"{token}\n{mbox}\n{visitor}\n{expires}".encode())
    if proposition is not None:
        mac.update(f"\n{proposition}".encode())
    expected = base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()
    signer = ClickSigner(key)
    assert signer.sign(token, mbox, visitor, expires, proposition=proposition) == expected
    assert signer.verify(expected, token, mbox, visitor, expires, proposition=proposition)


@settings(max_examples=400)
@given(
    expires=st.integers(0, 2**40),
    clicks=st.dictionaries(TEXT, st.tuples(TEXT, st.from_regex(r"[A-Za-z0-9_-]{22}", fullmatch=True)), max_size=4),
)
@example(expires=5, clicks={"</script><!--": ("a&b>", "A" * 22)})
def test_clicks_json_is_script_json_of_the_object(expires: int, clicks: dict[str, tuple[str, str]]) -> None:
    expected = script_json({"expires": expires, "clicks": {t: [m, s] for t, (m, s) in clicks.items()}})
    assert clicks_json(expires, [(t, m, s) for t, (m, s) in clicks.items()]) == expected


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
