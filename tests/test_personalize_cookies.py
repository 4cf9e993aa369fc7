"""The personalizer's Set-Cookie lines: ``set_cookies`` over the result's cookies, in order (mbox, mboxEdgeCluster,
the Edge Network's state cookies), ``Secure`` on https."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from target_middleware.delivery.models import parse_response
from target_middleware.delivery.offers import DecisioningMethod, OffersResult
from target_middleware.pageheaders import set_cookie_suffix, set_cookies
from target_middleware.personalize import Personalizer
from target_middleware.visitor import CookieValue, Visitor

COOKIES = st.builds(
    CookieValue,
    st.sampled_from(["mbox", "mboxEdgeCluster", "kndctr_X_AdobeOrg_identity"]),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12),
    st.integers(0, 10**9),
)


@settings(max_examples=300)
@given(
    mbox=st.none() | COOKIES,
    cluster=st.none() | COOKIES,
    state=st.lists(COOKIES, max_size=3).map(tuple),
    scheme=st.sampled_from(["http", "https", "ws", "wss", None]),
    domain=st.none() | st.just(".shop.example"),
    http_only=st.booleans(),
)
def test_the_set_cookie_lines_are_those_of_the_result_s_cookies(
    *,
    mbox: CookieValue | None,
    cluster: CookieValue | None,
    state: tuple[CookieValue, ...],
    scheme: str | None,
    domain: str | None,
    http_only: bool,
) -> None:
    personalizer = Personalizer(
        engine=None,
        offload_size=1,
        cookie_domain=domain,
        cookie_http_only=http_only,
        redirect_hosts=None,
        redirect_keep_query=False,
        click_endpoint=None,
        debug_header=False,
        global_mbox="g",
    )
    result: Any = OffersResult(
        parse_response({}), Visitor("s"), mbox, cluster, DecisioningMethod.ON_DEVICE, {}, state_cookies=state
    )
    cookies = (*(c for c in (mbox, cluster) if c is not None), *state)
    secure = scheme in ("https", "wss")
    suffix = set_cookie_suffix(domain=domain, secure=secure, http_only=http_only)
    scope = {} if scheme is None else {"scheme": scheme}
    assert personalizer._set_cookies(scope, result) == set_cookies(cookies, suffix)
