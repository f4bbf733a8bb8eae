"""Download an input image for the worker without letting strangers reach private networks.

- Only ``http``/``https``. The host name is resolved once; every address it resolves to must
  be public — not loopback, private, link-local (169.254.169.254 included), CGNAT, multicast,
  reserved or unspecified, for IPv4 and IPv6, IPv4 inside IPv6 (mapped, 6to4, Teredo)
  included — unless ``INBETWEEN_FETCH_ALLOW`` lists its range or its host:port. Odd spellings
  (``127.1``, ``2130706433``, ``0x7f.1``) resolve to the address they mean and are checked as
  that address.
- The connection goes to the address that was checked (the URL's host is replaced by it; the
  ``Host`` header and TLS SNI/verification keep the name), so DNS cannot change the answer
  between check and use.
- Redirects are followed by hand, at most 3, each checked again.
- Connect time-out 5 s, total 30 s (a slow drip is cut off), at most ``max_bytes`` read.
- The body's type is decided later from its bytes (magic numbers), never from Content-Type.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from inbetween.errors import ImageFetchError

if TYPE_CHECKING:
    import httpx

    from inbetween.settings import Settings

__all__ = ["FetchPolicy", "fetch_bytes", "fetch_to_file", "is_public", "pinned"]

_MAX_REDIRECTS = 3
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class FetchPolicy:
    """Where and how much the fetcher may download."""

    max_bytes: int = 20 * 2**20
    allow_networks: tuple[Network, ...] = ()
    allow_hosts: frozenset[str] = frozenset()  # "host:port", lower-case
    connect_timeout: float = 5.0
    total_timeout: float = 30.0
    anywhere: bool = False  # the CLI fetches for the person running it
    limit_name: str = "INBETWEEN_FETCH_MAX_MB"

    @classmethod
    def of(cls, settings: Settings) -> FetchPolicy:
        """The policy of INBETWEEN_FETCH_ALLOW / _FETCH_MAX_MB / _FETCH_*_SECONDS, which
        image URLs and webhook URLs pass."""
        return cls.from_settings(settings.fetch_allow, settings.fetch_max_mb,
                                 settings.fetch_connect_seconds, settings.fetch_timeout_seconds)

    @classmethod
    def from_settings(cls, allow: str, max_mb: float, connect_timeout: float,
                      total_timeout: float) -> FetchPolicy:
        """Parse ``INBETWEEN_FETCH_ALLOW``: comma-separated CIDR ranges and host:port."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for entry in (e.strip() for e in allow.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if ":" not in entry.strip("[]"):
                    raise ValueError(f"INBETWEEN_FETCH_ALLOW: {entry!r} is neither a CIDR "
                                     "range nor host:port") from None
                hosts.add(entry.lower())
        return cls(int(max_mb * 2**20), tuple(networks), frozenset(hosts), connect_timeout,
                   total_timeout)


def is_public(address: Address) -> bool:
    """Whether ``address`` is on the public internet (and so may be fetched)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None)
        if embedded is not None and not is_public(embedded):
            return False
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return False
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified)


def fetch_bytes(url: str, field: str, policy: FetchPolicy) -> bytes:
    """GET ``url`` and return its body; raises ImageFetchError naming ``field`` and why."""
    chunks: list[bytes] = []
    _fetch(url, field, policy, chunks.append, accept="image/*")
    return b"".join(chunks)


def fetch_to_file(url: str, path: Path, field: str, policy: FetchPolicy, *,
                  headers_for: Callable[[str], dict[str, str]] | None = None,
                  accept: str = "*/*") -> int:
    """GET ``url`` into ``path`` under the same rules; ``headers_for(url)`` gives extra
    headers for each hop's URL (credentials only for the hosts that should get them: a
    redirect to another host gets none). Returns the size."""
    with path.open("wb") as out:
        return _fetch(url, field, policy, out.write, headers_for=headers_for, accept=accept)


def _fetch(url: str, field: str, policy: FetchPolicy, write: Callable[[bytes], object], *,
           headers_for: Callable[[str], dict[str, str]] | None = None,
           accept: str = "*/*") -> int:
    deadline = time.monotonic() + policy.total_timeout
    import httpx  # loaded when a URL is fetched, not with the policy

    timeout = httpx.Timeout(policy.total_timeout, connect=policy.connect_timeout)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(_MAX_REDIRECTS + 1):
            target, headers, extensions = pinned(url, field, policy)
            headers["Accept"] = accept
            if headers_for is not None:
                headers.update(headers_for(url))
            try:
                with client.stream("GET", target, headers=headers,
                                   extensions=extensions) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise ImageFetchError(
                            f"{field}: {_public(url)} answered HTTP {response.status_code}; "
                            "the URL must point directly at a publicly readable file",
                            field=field,
                        )
                    return _read(response, field, policy, deadline, write)
            except httpx.TimeoutException as e:
                raise _too_slow(field, _public(url), policy) from e
            except httpx.HTTPError as e:
                raise ImageFetchError(
                    f"{field}: could not download {_public(url)}: {type(e).__name__}: {e}",
                    field=field) from e
    raise ImageFetchError(f"{field}: more than {_MAX_REDIRECTS} redirects", field=field)


def _public(url: str) -> str:
    """``url`` without its query string (signed URLs carry secrets there)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _too_slow(field: str, url: str, policy: FetchPolicy) -> ImageFetchError:
    return ImageFetchError(
        f"{field}: downloading {url} took longer than {policy.total_timeout:g} s "
        f"(connect limit {policy.connect_timeout:g} s)", field=field)


def _read(response: httpx.Response, field: str, policy: FetchPolicy, deadline: float,
          write: Callable[[bytes], object]) -> int:
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > policy.max_bytes:
            raise ImageFetchError(
                f"{field}: the file is larger than {policy.max_bytes / 2**20:g} MiB "
                f"({policy.limit_name})",
                field=field,
            )
        if time.monotonic() > deadline:
            raise _too_slow(field, _public(str(response.request.url)), policy)
        write(chunk)
    return size


def pinned(url: str, field: str, policy: FetchPolicy, purpose: str = "fetches images from",
           ) -> tuple[str, dict[str, str], dict[str, object]]:
    """Check ``url``'s target and rewrite it to connect to the checked address: the URL to
    connect to, its Host header, and httpx's extensions (TLS SNI); ImageFetchError naming
    ``field`` when the target may not be reached."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImageFetchError(f"{field}: only http(s) URLs can be used, not {url!r}",
                              field=field)
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise ImageFetchError(f"{field}: invalid port in {url!r}", field=field) from e
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as e:  # "a..b" is a UnicodeError
        raise ImageFetchError(f"{field}: cannot resolve {host}: {e}", field=field) from e
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    named = f"{host.lower()}:{port}" in policy.allow_hosts
    for address in addresses:
        allowed = (policy.anywhere or named or is_public(address)
                   or any(address in net for net in policy.allow_networks)
                   or f"{address}:{port}" in policy.allow_hosts)
        if not allowed:
            raise ImageFetchError(
                f"{field}: {host} resolves to the non-public address {address}; inbetween "
                f"only {purpose} public addresses (an operator may allow it with "
                "INBETWEEN_FETCH_ALLOW)",
                field=field,
            )
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{port}"
    default_port = port == (443 if parts.scheme == "https" else 80)
    host_header = host if default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if default_port else f"[{host}]:{port}"
    target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    extensions: dict[str, object] = {}
    if parts.scheme == "https":
        extensions["sni_hostname"] = host
    return target, {"Host": host_header}, extensions
