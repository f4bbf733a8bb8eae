"""Download an input image for the worker: http(s) only, public addresses only, bounded size.

Every address the host name resolves to must be public (or inside ``allow``, for development
and tests); each redirect is checked again. The full hardening (connecting to the checked
address, odd IP spellings) is tracked in the hardening issue.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

import httpx

from inbetween.errors import ImageFetchError

__all__ = ["fetch_bytes", "parse_allow"]

_MAX_REDIRECTS = 3
_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allow(spec: str) -> tuple[Network, ...]:
    """Parse ``INBETWEEN_FETCH_ALLOW`` (comma-separated CIDR ranges)."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",")
                 if p.strip())


def fetch_bytes(
    url: str, field: str, *, max_bytes: int, allow: Sequence[Network] = ()
) -> bytes:
    """GET ``url`` and return its body; raises ImageFetchError naming ``field`` and why."""
    with httpx.Client(timeout=_TIMEOUT, follow_redirects=False, trust_env=False) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            _check_target(url, field, allow)
            try:
                with client.stream("GET", url, headers={"Accept": "image/*"}) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise ImageFetchError(
                            f"{field}: {url} answered HTTP {response.status_code}; "
                            "the URL must point directly at a publicly readable image",
                            field=field,
                        )
                    return _read_capped(response, field, max_bytes)
            except httpx.HTTPError as e:
                raise ImageFetchError(
                    f"{field}: could not download {url}: {type(e).__name__}: {e}", field=field
                ) from e
    raise ImageFetchError(f"{field}: more than {_MAX_REDIRECTS} redirects", field=field)


def _read_capped(response: httpx.Response, field: str, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ImageFetchError(
                f"{field}: the image is larger than {max_bytes / 2**20:.0f} MiB "
                "(INBETWEEN_FETCH_MAX_MB)",
                field=field,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _check_target(url: str, field: str, allow: Sequence[Network]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageFetchError(f"{field}: only http(s) URLs can be fetched, not {url!r}",
                              field=field)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise ImageFetchError(f"{field}: cannot resolve {parts.hostname}: {e}",
                              field=field) from e
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global and not any(address in net for net in allow):
            raise ImageFetchError(
                f"{field}: {parts.hostname} resolves to the non-public address {address}; "
                "inbetween only fetches images from public addresses",
                field=field,
            )
