"""Server-side fetching cannot be turned against private networks (real loopback servers).

Addresses outside loopback are only ever *refused* here: the check happens before any
connection, so no packet leaves for them.
"""

from __future__ import annotations

import http.server
import time

import numpy as np
import pytest

from inbetween.errors import ImageFetchError
from inbetween.media.fetch import FetchPolicy, fetch_bytes, is_public
from tests.conftest import encode
from tests.helpers import serve

STRICT = FetchPolicy(max_bytes=2**20)


@pytest.fixture
def jpeg(photos: dict[str, np.ndarray]) -> bytes:
    return encode(photos["coffee"], "JPEG")


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "0x7f000001",
     "localhost", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "[::]"],
)
def test_loopback_in_every_spelling_is_refused_before_connecting(host: str, jpeg: bytes) -> None:
    with serve({"/x": (200, "image/jpeg", jpeg)}) as server:
        with pytest.raises(ImageFetchError, match="non-public address") as info:
            fetch_bytes(f"http://{host}:{server.port}/x", "image_url", STRICT)
        assert server.requests == []  # nothing reached the server
    assert info.value.field == "image_url"


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/a.jpg",
     "http://172.16.0.1/a.jpg", "http://192.168.1.1/a.jpg", "http://100.64.0.1/a.jpg",
     "http://224.0.0.1/a.jpg", "http://240.0.0.1/a.jpg", "http://[fe80::1]/a.jpg",
     "http://[fc00::1]/a.jpg", "http://[2002:7f00:1::]/a.jpg", "http://[::ffff:10.0.0.1]/",
     "https://[::ffff:169.254.169.254]/"],
)
def test_private_link_local_cgnat_multicast_reserved_are_refused(url: str) -> None:
    with pytest.raises(ImageFetchError, match="non-public address"):
        fetch_bytes(url, "last_image_url", STRICT)


@pytest.mark.parametrize("url", ["ftp://example.com/a.jpg", "file:///etc/passwd",
                                 "gopher://127.0.0.1/", "http:///nohost"])
def test_only_http_and_https(url: str) -> None:
    with pytest.raises(ImageFetchError, match="only http"):
        fetch_bytes(url, "image_url", STRICT)


def test_public_addresses_are_public() -> None:
    import ipaddress

    assert is_public(ipaddress.ip_address("8.8.8.8"))
    assert is_public(ipaddress.ip_address("2606:4700:4700::1111"))
    assert not is_public(ipaddress.ip_address("::ffff:192.168.0.1"))


def test_allow_by_range_and_by_host_port(jpeg: bytes) -> None:
    with serve({"/x": (200, "image/jpeg", jpeg)}) as server:
        by_range = FetchPolicy.from_settings("127.0.0.0/8", 1, 5, 30)
        assert fetch_bytes(f"{server.url}/x", "image_url", by_range) == jpeg
        by_host = FetchPolicy.from_settings(f"localhost:{server.port}", 1, 5, 30)
        assert fetch_bytes(f"http://localhost:{server.port}/x", "image_url", by_host) == jpeg
        # the request went to the checked address with the name kept in the Host header
        assert server.requests[-1][1]["Host"] == f"localhost:{server.port}"
        other_port = FetchPolicy.from_settings(f"localhost:{server.port + 1}", 1, 5, 30)
        with pytest.raises(ImageFetchError, match="non-public"):
            fetch_bytes(f"http://localhost:{server.port}/x", "image_url", other_port)


def test_invalid_allow_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="neither a CIDR range nor host:port"):
        FetchPolicy.from_settings("example.com", 1, 5, 30)


def test_redirect_to_a_non_allowed_address_is_refused(jpeg: bytes) -> None:
    with serve({"/x": (200, "image/jpeg", jpeg)}) as target, \
            serve({"/go": (302, f"{target.url}/x", b"")}) as allowed:
        policy = FetchPolicy.from_settings(f"127.0.0.1:{allowed.port}", 1, 5, 30)
        with pytest.raises(ImageFetchError, match="non-public address 127.0.0.1"):
            fetch_bytes(f"{allowed.url}/go", "image_url", policy)
        assert [path for path, _ in allowed.requests] == ["/go"]
        assert target.requests == []


def test_redirects_are_limited(jpeg: bytes) -> None:
    routes = {f"/{i}": (302, f"/{i + 1}", b"") for i in range(5)}
    with serve(routes) as server:  # type: ignore[arg-type]
        policy = FetchPolicy.from_settings("127.0.0.0/8", 1, 5, 30)
        with pytest.raises(ImageFetchError, match="more than 3 redirects"):
            fetch_bytes(f"{server.url}/0", "image_url", policy)


def test_oversize_bodies_stop_at_the_cap() -> None:
    big = b"\xff\xd8" + b"0" * (3 * 2**20)
    with serve({"/big": (200, "image/jpeg", big)}) as server:
        policy = FetchPolicy.from_settings("127.0.0.0/8", 1, 5, 30)
        with pytest.raises(ImageFetchError, match="larger than 1 MiB"):
            fetch_bytes(f"{server.url}/big", "image_url", policy)


def test_slow_drip_bodies_are_cut_off() -> None:
    def drip(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        try:
            for _ in range(40):  # 10 bytes every 0.1 s: 4 s for 400 bytes
                handler.wfile.write(b"x" * 10)
                handler.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            return

    with serve({"/slow": drip}) as server:
        policy = FetchPolicy.from_settings("127.0.0.0/8", 1, 5, total_timeout=1.0)
        started = time.monotonic()
        with pytest.raises(ImageFetchError, match="took longer than 1 s"):
            fetch_bytes(f"{server.url}/slow", "image_url", policy)
        assert time.monotonic() - started < 3.0


def test_http_errors_name_the_status(jpeg: bytes) -> None:
    with serve({"/x": (403, "text/html", b"no")}) as server:
        policy = FetchPolicy.from_settings("127.0.0.0/8", 1, 5, 30)
        with pytest.raises(ImageFetchError, match="answered HTTP 403"):
            fetch_bytes(f"{server.url}/x", "image_url", policy)
