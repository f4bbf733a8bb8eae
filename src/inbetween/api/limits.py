"""Request limits: a body-size cap (413) and per-key rate limits (429 with Retry-After).

Rate limits are token buckets kept in each server process (a key's limit is per process;
behind several API processes it multiplies by their number).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inbetween.errors import TooManyRequests

__all__ = ["BodyLimit", "RateLimiter", "StreamSlots"]


def _too_large_body(limit: int, path: str) -> bytes:
    from inbetween.api.errors import error_body, is_openai_path

    return json.dumps(error_body(
        413, "PayloadTooLarge", f"the request body is larger than {limit / 2**20:g} MiB "
        "(INBETWEEN_MAX_BODY_MB); send images as URLs, or smaller images",
        openai=is_openai_path(path))).encode()


class BodyLimit:
    """ASGI middleware: 413 for bodies over ``max_bytes`` — at once when Content-Length says
    so, else as soon as the streamed body passes the limit (the rest is never read)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._reject(send, scope["path"])
            return
        received = 0
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not rejected:
                    rejected = True
                    await self._reject(send, scope["path"])
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:  # once rejected, the app's own answer is dropped
                await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _reject(self, send: Send, path: str) -> None:
        body = _too_large_body(self.max_bytes, path)
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Token buckets per (key, action): ``rate`` requests a second, bursts of ``rate``."""

    def __init__(self, rates: dict[str, float], clock: Callable[[], float] = time.monotonic):
        self.rates, self.clock = rates, clock
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str, action: str) -> None:
        """Take a token, or raise TooManyRequests saying when to retry."""
        rate = self.rates[action]
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get((key_id, action), (rate, now))
            tokens = min(rate, tokens + (now - last) * rate)
            if tokens < 1.0:
                wait = (1.0 - tokens) / rate
                self._buckets[(key_id, action)] = (tokens, now)
                raise TooManyRequests(
                    f"too many {action} requests for this API key: at most {rate:g} a second; "
                    f"retry in {wait:.2f} s", retry_after=max(1, math.ceil(wait)))
            self._buckets[(key_id, action)] = (tokens - 1.0, now)


class StreamSlots:
    """Per-key cap on open streams (in this process)."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key_id: str) -> None:
        """Take a slot, or raise TooManyRequests when the key holds ``per_key`` already."""
        with self._lock:
            count = self._open.get(key_id, 0)
            if count >= self.per_key:
                raise TooManyRequests(
                    f"this API key already has {count} open event streams, the limit "
                    "(INBETWEEN_MAX_EVENT_STREAMS_PER_KEY); close one, or poll with GET",
                    retry_after=5)
            self._open[key_id] = count + 1

    def release(self, key_id: str) -> None:
        with self._lock:
            left = self._open.get(key_id, 0) - 1
            if left > 0:
                self._open[key_id] = left
            else:
                self._open.pop(key_id, None)
