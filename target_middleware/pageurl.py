"""The page's URL as Starlette's ``Request.url`` says it, from the scope, without the URL object for a plain request.

A page view (``pageview.py``) sends Target the page's URL; for a rule that calls nothing of the app there is no
``Request`` to ask, and :func:`page_url` gives the same string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import URL
from starlette.types import Scope

__all__ = ["page_url"]

# A host header Starlette takes as it is (its host syntax, a port it accepts), and what it escapes in a path.
_PLAIN_HOST = re.compile(rb"[A-Za-z0-9.-]+(?::[0-9]{1,4})?")
# Host header -> itself decoded when plain, else None. A site answers to a few names: the first _MAX_HOSTS seen are
# kept (never a visitor's value: the Host header names the site), the rest checked each time.
_HOSTS: dict[bytes, str | None] = {}
_MAX_HOSTS = 256
_UNSEEN = object()
# (Host header, scheme, path) -> the URL without its query, for plain requests: a site's pages (never a visitor's
# value), cleared when full so a flood of odd paths costs the usual ones a new entry, never memory; a path or host
# longer than _MAX_KEPT is not kept (the table stays within a few hundred KB whatever is asked).
_URLS: dict[tuple[bytes | None, str, str], str] = {}
_MAX_URLS = 512
_MAX_KEPT = 512


def page_url(scope: Scope, headers: Mapping[bytes, bytes | None]) -> str:
    """``str(Request(scope).url)``, the page's URL as the app sees it, given the scope's ``headers`` as
    ``dict(reversed(scope["headers"]))``.

    The usual request is ``scheme://host/path?query`` with no URL object and no parse: an http(s) scheme, a Host
    header of letters, digits, dots and dashes with a port of at most four digits (Starlette takes such a header as
    it is), a path from ``/`` with nothing Starlette escapes (``?``, ``#``, ``\\``). The rest (no Host header, an
    IPv6 literal, a five-digit port, ...) is Starlette's to say.
    """
    host = headers.get(b"host")
    scheme = scope.get("scheme", "http")
    path: str = scope["path"]
    key = (host, scheme, path)
    url = _URLS.get(key)
    if url is None:
        url = _plain_url(host, scheme, path)
        if url is None:
            return str(URL(scope=scope))
        if len(url) <= 2 * _MAX_KEPT:
            if len(_URLS) >= _MAX_URLS:
                _URLS.clear()
            _URLS[key] = url
    query: bytes = scope.get("query_string", b"")
    return f"{url}?{query.decode()}" if query else url  # UTF-8, strictly, as Starlette decodes it


def _plain_url(host: bytes | None, scheme: str, path: str) -> str | None:
    """``scheme://host/path`` for a plain request (see :func:`page_url`), else None."""
    if (
        _FAST_URL
        and host is not None
        and scheme in {"http", "https"}
        and path[:1] == "/"
        and "?" not in path
        and "#" not in path
        and "\\" not in path
    ):
        netloc = _HOSTS.get(host, _UNSEEN)
        if netloc is _UNSEEN:
            netloc = host.decode("latin-1") if _PLAIN_HOST.fullmatch(host) else None
            if len(_HOSTS) < _MAX_HOSTS:
                _HOSTS[host] = netloc
        if netloc is not None:
            return f"{scheme}://{netloc}{path}"
    return None


# The shortcut is Starlette's URL for plain requests in every Starlette this package supports; the one installed
# confirms it here, once, on plain requests that would show a difference (a root_path, a port, a query, two hosts).
_PROBES: tuple[dict[str, Any], ...] = (
    {"type": "http", "scheme": "https", "path": "/a/b", "root_path": "/a", "headers": [(b"host", b"x.example")]},
    {"type": "http", "path": "/", "query_string": b"q=%C3%A9&x", "headers": [(b"host", b"Shop.example:8080")]},
    {"type": "http", "path": "/p", "server": ("10.0.0.1", 81), "headers": [(b"host", b"h-1"), (b"host", b"i")]},
)
_FAST_URL = True
_FAST_URL = all(page_url(probe, dict(reversed(probe["headers"]))) == str(URL(scope=probe)) for probe in _PROBES)
_HOSTS.clear()
_URLS.clear()
