"""The JobStore and KeyStore protocols: the job store is the source of truth.

Every state change is a conditional write (compare-and-set on status and lease owner), so
any number of processes on any number of machines can share one store safely.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from inbetween.errors import TooManyRequests
from inbetween.jobs.models import (
    Charge,
    Delivery,
    Generation,
    ImageInput,
    LogEntry,
    Outcome,
    Stage,
    Upload,
    WebhookSecret,
)

__all__ = ["ApiKey", "IdempotencyReplay", "JobStore", "KeyStore", "ReapResult",
           "deadline_message", "too_many_unfinished", "worker_lost_message"]


class IdempotencyReplay(Exception):
    """``create`` found a generation with the same API key and Idempotency-Key."""

    def __init__(self, existing: Generation) -> None:
        super().__init__(existing.id)
        self.existing = existing


@dataclass(frozen=True)
class ApiKey:
    """A stored API key (only its SHA-256 hash is kept)."""

    id: str
    name: str
    key_hash: str
    created_at: float
    revoked_at: float | None = None
    budget_usd: float | None = None
    budget_period: str | None = None  # day | month | total (UTC calendar periods)


@dataclass(frozen=True)
class ReapResult:
    """What one reaper pass did: jobs put back in the queue, and jobs given up on."""

    requeued: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


class JobStore(Protocol):
    def create(self, generation: Generation, first: ImageInput, last: ImageInput,
               max_unfinished: int | None = None) -> None:
        """Store a new queued generation with its two inputs; TooManyRequests when its key
        already has ``max_unfinished`` queued or generating jobs (checked atomically);
        IdempotencyReplay when its (key, Idempotency-Key) already has a generation."""

    def get(self, generation_id: str) -> Generation | None:
        """The generation, or None when it does not exist."""

    def inputs(self, generation_id: str) -> tuple[ImageInput, ImageInput]:
        """The (first, last) inputs of a generation."""

    def queue_position(self, generation: Generation) -> int | None:
        """None unless queued; else 1 + the queued jobs ahead (FIFO: creation time, then id)."""

    def claim(self, worker_id: str, lease_seconds: float, now: float,
              generation_id: str | None = None,
              models: Collection[str] | None = None) -> Generation | None:
        """Atomically move the oldest queued job (or ``generation_id``, if it is queued) of
        ``models`` (None: any) to generating, leased to ``worker_id``; None when there is
        none to take."""

    def renew(
        self,
        generation_id: str,
        worker_id: str,
        lease_seconds: float,
        now: float,
        *,
        stage: Stage | None = None,
        progress: int | None = None,
    ) -> bool:
        """Extend the lease (and record stage/progress); False when the lease was lost."""

    def finish(self, generation_id: str, worker_id: str, outcome: Outcome, now: float) -> bool:
        """End a leased job as completed or error; False when the lease was lost."""

    def release(self, generation_id: str, worker_id: str, now: float) -> bool:
        """Give a leased job back to the queue (infrastructure failure); False if lost."""

    def reap(self, now: float, max_attempts: int) -> ReapResult:
        """Requeue generating jobs whose lease expired; fail those out of attempts."""

    def expire(self, now: float, grace: float) -> list[Generation]:
        """End as ``DeadlineExceeded`` (nothing charged) every queued generation whose
        deadline has passed, and every generating one whose deadline passed more than
        ``grace`` seconds ago (its worker stops at its own deadline; this catches one that
        died or hangs); the generations as they were."""

    def redispatch(self, now: float, older_than: float, limit: int = 100) -> list[str]:
        """Queued generations last sent to the workers (or created) more than
        ``older_than`` seconds ago, marked as sent now: the reaper sends them again (a
        broker that restarted may have lost their messages; a claim is conditional, so a
        duplicate does nothing)."""

    def counters(self) -> list[tuple[str, str, float]]:
        """Every metric counter row: (name, labels as sorted JSON, value); see
        ``inbetween.metrics``. Rows only grow: deleting a generation lowers nothing."""

    def count_queued(self) -> int:
        """How many generations are queued now."""

    def charges(self, key_id: str, first_day: str, last_day: str) -> list[Charge]:
        """The key's ledger rows delivered from ``first_day`` to ``last_day`` (UTC days,
        YYYY-MM-DD, inclusive); written with the completion, kept after a DELETE."""

    def claim_deliveries(self, owner: str, now: float, hold: float,
                         limit: int = 20) -> list[Delivery]:
        """Claim up to ``limit`` pending deliveries due by ``now`` for one attempt each by
        ``owner``, for ``hold`` seconds (no other process sends them meanwhile)."""

    def record_attempt(self, delivery_id: str, owner: str, now: float, *,
                       result: str, status_code: int | None, error: str | None,
                       next_attempt_at: float | None) -> bool:
        """Record ``owner``'s attempt: ``result`` ``delivered``, ``retry`` (pending again at
        ``next_attempt_at``) or ``failed``; counted in the metrics. False when the claim
        was lost (another process has the delivery now)."""

    def deliveries(self, generation_id: str) -> list[Delivery]:
        """A generation's webhook messages, oldest first (kept after a DELETE)."""

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        """The delivery, or None."""

    def retry_delivery(self, delivery_id: str, now: float) -> Delivery | None:
        """Make a delivery pending and due now (unless an attempt is in flight); it as it is
        then, or None."""

    def prune_deliveries(self, cutoff: float) -> int:
        """Forget deliveries that ended (delivered or failed) before ``cutoff``; how many."""

    def webhook_secret(self, key_id: str, now: float, fresh: str) -> WebhookSecret:
        """The key's signing secret, made (``fresh``) on first use."""

    def rotate_webhook_secret(self, key_id: str, fresh: str, now: float,
                              overlap: float) -> WebhookSecret:
        """Make ``fresh`` the key's secret; the old one signs too for ``overlap`` seconds."""

    def delete(self, generation_id: str) -> Generation | None:
        """Remove a generation and its inputs; the generation as it was, or None."""

    def finished_before(self, cutoff: float, limit: int = 100) -> list[Generation]:
        """Finished generations that ended before ``cutoff`` (oldest first)."""

    def ping(self) -> None:
        """Raise when the store cannot be reached."""

    def append_log(self, generation_id: str, worker_id: str, level: str, message: str,
                   now: float) -> bool:
        """Add a line to a leased job's log (bumping its revision); False if lost."""

    def set_upstream(self, generation_id: str, worker_id: str, upstream: dict[str, object],
                     now: float) -> bool:
        """Record a leased job's upstream state (JSON-able); False if the lease was lost."""

    def logs(self, generation_id: str, after: int = 0, limit: int = 500) -> list[LogEntry]:
        """Log lines with a revision above ``after``, oldest first."""

    def list_for_key(self, key_id: str, limit: int,
                     before: tuple[float, str] | None = None,
                     oldest_first: bool = False) -> list[Generation]:
        """A key's generations, newest first (creation time, then id), strictly older than
        ``before`` = (created_at, id) when given; with ``oldest_first``, oldest first and
        strictly newer than ``before``."""

    def add_upload(self, upload: Upload) -> None:
        """Record an uploaded image (its bytes are already in the artifact store)."""

    def get_upload(self, upload_id: str) -> Upload | None:
        """The upload, or None."""

    def touch_upload(self, upload_id: str, now: float) -> None:
        """Mark an upload as used now (it expires that long after its last use)."""

    def uploads_unused_since(self, cutoff: float, limit: int = 100) -> list[Upload]:
        """Uploads last used before ``cutoff`` (oldest first)."""

    def delete_upload(self, upload_id: str) -> None:
        """Forget an upload."""


class KeyStore(Protocol):
    def add_key(self, key: ApiKey) -> None:
        """Store a new API key; KeyError("duplicate key hash") when its hash is stored."""

    def key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this SHA-256 hash, or None."""

    def list_keys(self) -> list[ApiKey]:
        """All keys, oldest first."""

    def revoke_keys(self, name: str, now: float) -> int:
        """Revoke every live key named ``name``; how many were revoked."""

    def set_budget(self, name: str, usd: float | None, period: str | None) -> int:
        """Set (``usd`` None: remove) the budget of every live key named ``name``; how many
        keys."""


def too_many_unfinished(limit: int) -> TooManyRequests:
    return TooManyRequests(
        f"this API key already has {limit} unfinished generations (queued or generating), "
        "the limit (INBETWEEN_MAX_UNFINISHED_PER_KEY); wait for some to finish",
        retry_after=5)


def deadline_message(job: Generation) -> str:
    """error.message of a job ended by its Cancel-After deadline."""
    where = "before it started" if job.status.value == "queued" else "while it was running"
    return (f"The generation was not finished by the deadline its Cancel-After header set "
            f"({job.deadline_at - job.created_at if job.deadline_at else 0:g} s after it was "
            f"submitted); it was stopped {where} and nothing was charged. Submit it again "
            "with a later deadline.")


def worker_lost_message(attempts: int) -> str:
    """error.message of a job given up on after ``attempts`` expired leases."""
    return (
        f"The worker running this generation stopped responding {attempts} times "
        "(its lease expired each time), so it was not retried again. Submit it again, and "
        "check the worker logs for crashes or out-of-memory kills."
    )
