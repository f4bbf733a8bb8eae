"""HTTP calls to an upstream provider, with its retry rules and error classification.

- A provider's key goes only to that provider's configured hosts.
- 429 (and, for calls that are safe to repeat, 408/5xx and connection errors) are retried
  with backoff, honouring ``Retry-After``.
- A submission is never repeated once it may have reached the provider: connection refused
  → ``UpstreamUnavailable`` (nothing started: the chain may move on); sent with no answer →
  ``UpstreamUncertain`` (maybe started: no fallback, no second submission).
- 401/403 → ``UpstreamAuthFailed``; 5xx → ``UpstreamUnavailable``; other 4xx → the
  provider's classification (content policy → ``ContentFiltered``, else ``UpstreamError``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from inbetween.errors import (
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamFailure,
    UpstreamUnavailable,
    UpstreamUncertain,
)
from inbetween.log import event

__all__ = ["Caller", "host_of"]

log = logging.getLogger("inbetween.upstream")
Classify = Callable[[httpx.Response], UpstreamFailure | None]


def host_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


class Caller:
    """One provider's HTTP client."""

    def __init__(self, provider: str, key_headers: dict[str, str], hosts: frozenset[str], *,
                 classify: Classify | None = None, retries: int = 3,
                 timeout: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.provider, self.key_headers, self.hosts = provider, key_headers, hosts
        self.classify, self.retries, self.sleep = classify, retries, sleep
        self.timeout = httpx.Timeout(timeout, connect=10.0)

    def headers_for(self, url: str) -> dict[str, str]:
        """The key's headers when ``url`` is on one of the provider's hosts, else none."""
        return dict(self.key_headers) if host_of(url) in self.hosts else {}

    def request(self, method: str, url: str, *, submit: bool = False,
                headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        """Send, retrying what may be retried; a classified UpstreamFailure otherwise."""
        sent_headers = {**self.headers_for(url), **(headers or {})}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                # a client per call: polls are seconds apart, and nothing is left open
                with httpx.Client(timeout=self.timeout, follow_redirects=False,
                                  trust_env=False) as client:
                    response = client.request(method, url, headers=sent_headers, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
                if submit or last:
                    raise UpstreamUnavailable(
                        f"{self.provider}: cannot connect to {_where(url)}: {e}") from e
                self._pause(attempt)
                continue
            except httpx.TransportError as e:
                if submit:
                    raise UpstreamUncertain(
                        f"{self.provider}: the submission was sent but no answer came "
                        f"({type(e).__name__}); it was not sent again, so as not to start (and "
                        "bill) a second job. Submit again if you want another try.") from e
                if last:
                    raise UpstreamError(
                        f"{self.provider}: {_where(url)} failed: {type(e).__name__}: {e}") from e
                self._pause(attempt)
                continue
            status = response.status_code
            again = status == 429 or (not submit and (status == 408 or status >= 500))
            if again and not last:
                self._pause(attempt, _retry_after(response))
                continue
            if status >= 400:
                raise self._failure(response)
            return response
        raise AssertionError("unreachable")

    def _failure(self, response: httpx.Response) -> UpstreamFailure:
        status = response.status_code
        detail = _detail(response)
        if status in (401, 403):
            event(log, "upstream.auth_failed", level=logging.ERROR, provider=self.provider,
                  status=status, detail=detail)
            return UpstreamAuthFailed(
                f"{self.provider} refused this server's key (HTTP {status}: {detail}); the "
                "operator must check its key setting", http_status=status)
        if status == 429:
            return UpstreamUnavailable(f"{self.provider} is rate-limiting this server (HTTP "
                                       f"429: {detail}) and kept doing so after retries",
                                       http_status=status)
        if status >= 500:
            return UpstreamUnavailable(f"{self.provider} failed with HTTP {status}: {detail}",
                                       http_status=status)
        classified = self.classify(response) if self.classify else None
        if classified is not None:
            classified.http_status = status
            return classified
        return UpstreamError(f"{self.provider} refused the request (HTTP {status}): {detail}",
                             http_status=status)

    def _pause(self, attempt: int, retry_after: float | None = None) -> None:
        delay = min(30.0, 0.5 * 2 ** attempt) * (0.75 + random.random() / 2)
        self.sleep(max(delay, retry_after or 0.0))


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        value = response.headers.get("Retry-After")
        return min(120.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _detail(response: httpx.Response) -> str:
    """The provider's own words, short."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error.get("status") or "") + " " + str(error["message"])[:300]
        if body.get("detail") is not None:
            return str(body["detail"])[:300]
    return str(body)[:300]
