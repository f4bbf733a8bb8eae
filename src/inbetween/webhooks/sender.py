"""Sends due webhook deliveries from the store's outbox.

Every API process and worker process runs one. Each pass claims the deliveries that are due
(one attempt each, held for longer than an attempt can take, so no other process sends the
same attempt meanwhile), sends them side by side, and records each attempt's result — which
schedules the next attempt or ends the delivery. A process that dies mid-attempt leaves its
claim to expire; another process then sends that attempt again, with the same
``webhook-id``, so receivers that deduplicate by it see the message once.

A delivery is ``POST url`` with the fixed body, ``webhook-id``, ``webhook-timestamp`` (this
attempt's send time) and ``webhook-signature`` (signed anew each attempt). Any 2xx is
delivered; 410 stops; anything else (status, time-out, connection error, a URL that now
resolves somewhere it may not go) is retried after the next delay of the schedule. Redirects
are never followed. The URL is checked against the outbound policy again at each attempt and
the connection goes to the address that was checked.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from inbetween.errors import ImageFetchError, InfrastructureError
from inbetween.jobs.models import Delivery
from inbetween.log import event
from inbetween.media.fetch import FetchPolicy, pinned
from inbetween.settings import Settings
from inbetween.store.base import JobStore
from inbetween.webhooks.signing import new_secret, signature_header

__all__ = ["Attempt", "WebhookSender", "webhook_sender"]

log = logging.getLogger("inbetween.webhooks")

_PARALLEL = 4


@dataclass(frozen=True)
class Attempt:
    """How one attempt went."""

    result: str  # delivered | retry | failed
    status_code: int | None = None
    error: str | None = None


class WebhookSender:
    """Claims, signs, sends and records due deliveries, every ``poll`` seconds (at once
    after ``nudge``)."""

    def __init__(self, store: JobStore, policy: FetchPolicy, schedule: Sequence[float], *,
                 timeout: float = 10.0, poll: float = 1.0, overlap: float = 86_400.0,
                 owner: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store, self.policy, self.schedule = store, policy, tuple(schedule)
        self.timeout, self.poll, self.overlap, self.clock = timeout, poll, overlap, clock
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)
        self._pool = ThreadPoolExecutor(_PARALLEL, thread_name_prefix="webhook")

    def start(self) -> None:
        self._thread.start()

    def nudge(self) -> None:
        """Look for due deliveries now (e.g. after a manual retry)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self._pool.shutdown(wait=True)

    def send_due(self) -> int:
        """One pass: claim as many due deliveries as are sent at once, and send them; how
        many attempts were made. Each claim outlasts its attempt (connect, send and answer
        each within ``timeout``, plus the DNS lookup; all of a pass's attempts run at once),
        so no other process sends the same attempt meanwhile."""
        hold = self.timeout * 3 + 60
        due = self.store.claim_deliveries(self.owner, self.clock(), hold, limit=_PARALLEL)
        list(self._pool.map(self._deliver, due))
        return len(due)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                while self.send_due() and not self._stop.is_set():
                    pass  # a full batch: there may be more due
            except Exception as e:  # the store is down, or a bug: never end the loop
                event(log, "webhooks.pass_failed", level=logging.WARNING,
                      error=f"{type(e).__name__}: {e}"[:300])
            self._wake.wait(self.poll)
            self._wake.clear()

    def _deliver(self, delivery: Delivery) -> None:
        try:
            attempt = self.attempt(delivery)
        except InfrastructureError as e:  # the claim expires; another pass sends it
            event(log, "webhooks.store_error", level=logging.WARNING, error=str(e))
            return
        except Exception as e:  # e.g. a URL httpx cannot send: that attempt failed
            attempt = Attempt("retry", error=f"{type(e).__name__}: {e}"[:500])
        number = delivery.attempts + 1
        result, next_at = attempt.result, None
        if result == "retry":
            if number > len(self.schedule):
                result = "failed"
            else:
                next_at = self.clock() + self.schedule[number - 1]
        self.store.record_attempt(delivery.id, self.owner, self.clock(), result=result,
                                  status_code=attempt.status_code, error=attempt.error,
                                  next_attempt_at=next_at)
        event(log, f"webhook.{result}", level=logging.INFO if result == "delivered"
              else logging.WARNING, job=delivery.generation_id, delivery=delivery.id,
              type=delivery.type, attempt=number, status=attempt.status_code,
              error=attempt.error)

    def attempt(self, delivery: Delivery) -> Attempt:
        """Sign and send ``delivery`` once."""
        import httpx  # loaded by the processes that send

        secret = self.store.webhook_secret(delivery.key_id, self.clock(), new_secret())
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "inbetween-webhooks",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature_header(secret.signing(self.clock()), delivery.id,
                                                  stamp, delivery.body),
        }
        try:
            target, host, extensions = pinned(delivery.url, "webhook_url", self.policy,
                                              purpose="sends webhooks to")
        except ImageFetchError as e:
            return Attempt("retry", error=e.message)
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False,
                              trust_env=False) as client, client.stream(
                    "POST", target, content=delivery.body.encode(),
                    headers={**headers, **host}, extensions=extensions) as response:
                code = response.status_code
        except httpx.TimeoutException:
            return Attempt("retry", error=f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as e:
            return Attempt("retry", error=f"{type(e).__name__}: {e}"[:500])
        if 200 <= code < 300:
            return Attempt("delivered", code)
        if code == 410:
            return Attempt("failed", code, "the receiver answered 410 Gone: not retried")
        return Attempt("retry", code, f"HTTP {code}")


def webhook_sender(settings: Settings, store: JobStore,
                   policy: FetchPolicy | None = None) -> WebhookSender:
    """This process's sender, configured by the INBETWEEN_WEBHOOK_* settings."""
    return WebhookSender(store, policy or FetchPolicy.of(settings), settings.webhook_schedule,
                         timeout=settings.webhook_timeout_seconds,
                         poll=settings.webhook_poll_seconds,
                         overlap=settings.webhook_secret_overlap_hours * 3600)
