"""``python -m demo_app`` as a user starts it, on a free port, fetched over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def demo() -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_")}  # the bundled artifact
    process = subprocess.Popen(
        [sys.executable, "-m", "demo_app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"python -m demo_app exited with {process.returncode}: {process.stdout.read()}")  # type: ignore[union-attr]
            try:
                httpx.get(url + "/static/shop.css", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("python -m demo_app did not answer within 30 s")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.parametrize(
    ("path", "expect"),
    [
        ("/", 'class="promo-banner'),
        ("/products/tent-2p", '<p class="bundle">'),
        ("/category/tents", '<div class="promo-card">'),
        ("/deals", 'class="deals-headline"'),
        ("/_target?path=/", "Actions on the page (dry run)"),
    ],
)
def test_the_demo_serves_personalized_pages(demo: str, path: str, expect: str) -> None:
    page = httpx.get(demo + path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert expect in page.text


def test_the_demo_redirects_the_summer_sale(demo: str) -> None:
    sale = httpx.get(demo + "/summer-sale")
    assert sale.status_code == 302
    assert sale.headers["location"] == "/deals?from=summer-sale"
