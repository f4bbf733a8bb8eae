"""Which status changes become webhook messages, and what they say.

A store calls ``Outbox`` inside the transaction that stores a status change and writes the
messages it returns in that same transaction: a crash can lose neither the change nor its
announcement, and the body is fixed then — ``data`` is the generation as ``GET`` shows it at
that change, its links built on ``INBETWEEN_PUBLIC_URL`` or on the submitting request's base
URL.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

from inbetween.jobs.models import Delivery, Generation, Status
from inbetween.jobs.view import generation_view, iso_time

__all__ = ["PROGRESS_INTERVAL", "Outbox"]

PROGRESS_INTERVAL = 1.0
"""At most one ``progress`` message per generation per this many seconds."""


class Outbox:
    """Makes the messages of a generation's status changes (None when it did not ask)."""

    def __init__(self, public_url: str | None = None,
                 sign: Callable[[str], str] | None = None) -> None:
        self.public_url, self.sign = public_url, sign

    def started(self, job: Generation, now: float) -> list[Delivery]:
        """``job`` was just claimed: ``started`` on its first claim only (a re-run after a
        lost lease announces nothing new)."""
        return self._message(job, "started", now) if job.attempts == 1 else []

    def progress(self, job: Generation, now: float, last_sent: float | None) -> list[Delivery]:
        """``job``'s progress moved; ``last_sent`` is when its latest progress message was
        written, if any."""
        if last_sent is not None and now - last_sent < PROGRESS_INTERVAL:
            return []
        return self._message(job, "progress", now)

    def ended(self, job: Generation, now: float) -> list[Delivery]:
        """``job`` just ended (by its worker, the reaper or its deadline)."""
        return self._message(job, "completed" if job.status is Status.COMPLETED else "error",
                             now)

    def _message(self, job: Generation, event: str, now: float) -> list[Delivery]:
        if job.webhook_url is None or event not in job.webhook_events:
            return []
        base = (self.public_url or job.base_url or "").rstrip("/")
        body = json.dumps({"type": f"generation.{event}", "timestamp": iso_time(now),
                           "data": generation_view(job, base, self.sign)},
                          separators=(",", ":"))
        return [Delivery(id=f"msg_{secrets.token_hex(12)}", generation_id=job.id,
                         key_id=job.key_id, type=f"generation.{event}", url=job.webhook_url,
                         body=body, next_attempt_at=now, created_at=now, updated_at=now)]
