"""In-memory JobStore and KeyStore: the reference twin of the SQL store, for tests and embedding."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection

from inbetween import metrics
from inbetween.jobs.budget import budget_exceeded, period_start
from inbetween.jobs.models import (
    Charge,
    Delivery,
    Generation,
    ImageInput,
    LogEntry,
    Outcome,
    Stage,
    Status,
    Upload,
    WebhookSecret,
    can_transition,
)
from inbetween.store.base import (
    ApiKey,
    IdempotencyReplay,
    ReapResult,
    deadline_message,
    too_many_unfinished,
    worker_lost_message,
)
from inbetween.webhooks.outbox import Outbox

__all__ = ["MemoryStore"]


class MemoryStore:
    """A JobStore and KeyStore held in a dict, safe across threads of one process."""

    def __init__(self, outbox: Outbox | None = None) -> None:
        self.outbox = outbox or Outbox()
        self._lock = threading.Lock()
        self._deliveries: dict[str, Delivery] = {}
        self._dispatched: dict[str, float] = {}
        self._secrets: dict[str, WebhookSecret] = {}
        self._jobs: dict[str, Generation] = {}
        self._inputs: dict[str, tuple[ImageInput, ImageInput]] = {}
        self._keys: dict[str, ApiKey] = {}
        self._logs: dict[str, list[LogEntry]] = {}
        self._uploads: dict[str, Upload] = {}
        self._counters: dict[tuple[str, str], float] = {}
        self._ledger: list[Charge] = []

    def create(self, generation: Generation, first: ImageInput, last: ImageInput,
               max_unfinished: int | None = None) -> None:
        with self._lock:
            if generation.id in self._jobs:
                raise KeyError(f"generation {generation.id} exists")
            if generation.idempotency_key is not None:
                for existing in self._jobs.values():
                    if (existing.key_id, existing.idempotency_key) == (
                            generation.key_id, generation.idempotency_key):
                        raise IdempotencyReplay(existing)
            if max_unfinished is not None and sum(
                1 for g in self._jobs.values()
                if g.key_id == generation.key_id and not g.finished
            ) >= max_unfinished:
                raise too_many_unfinished(max_unfinished)
            self._check_budget(generation)
            self._jobs[generation.id] = generation
            self._inputs[generation.id] = (first, last)

    def _check_budget(self, generation: Generation) -> None:
        key = self._keys.get(generation.key_id)
        if key is None or key.budget_usd is None:
            return
        period = key.budget_period or "month"
        first_day = period_start(period, generation.created_at)
        used = sum(c.cost_usd for c in self._ledger if c.key_id == key.id
                   and (first_day is None or c.date >= first_day))
        used += sum(g.reserved_usd for g in self._jobs.values()
                    if g.key_id == key.id and not g.finished)
        refusal = budget_exceeded(key.budget_usd, period, used, generation.reserved_usd,
                                  generation.created_at)
        if refusal is not None:
            raise refusal

    def get(self, generation_id: str) -> Generation | None:
        return self._jobs.get(generation_id)

    def inputs(self, generation_id: str) -> tuple[ImageInput, ImageInput]:
        return self._inputs[generation_id]

    def queue_position(self, generation: Generation) -> int | None:
        if generation.status is not Status.QUEUED:
            return None
        mine = (generation.created_at, generation.id)
        return 1 + sum(1 for g in self._jobs.values()
                       if g.status is Status.QUEUED and (g.created_at, g.id) < mine)

    def claim(self, worker_id: str, lease_seconds: float, now: float,
              generation_id: str | None = None,
              models: Collection[str] | None = None) -> Generation | None:
        with self._lock:
            queued = [g for g in self._jobs.values() if g.status is Status.QUEUED
                      and generation_id in (None, g.id)
                      and (models is None or g.request.model in models)]
            if not queued:
                return None
            job = min(queued, key=lambda g: (g.created_at, g.id))
            claimed = dataclasses.replace(
                job,
                status=Status.GENERATING,
                stage=Stage.FETCHING,
                lease_owner=worker_id,
                lease_expires_at=now + lease_seconds,
                attempts=job.attempts + 1,
                updated_at=now,
                revision=job.revision + 1,
            )
            self._jobs[job.id] = claimed
            self._bump(metrics.claimed(now - job.updated_at))
            self._send(self.outbox.started(claimed, now))
            return claimed

    def _leased(self, generation_id: str, worker_id: str) -> Generation | None:
        job = self._jobs.get(generation_id)
        if job is None or job.status is not Status.GENERATING or job.lease_owner != worker_id:
            return None
        return job

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
        with self._lock:
            job = self._leased(generation_id, worker_id)
            if job is None:
                return False
            changed = stage is not None or progress is not None
            job = self._jobs[generation_id] = dataclasses.replace(
                job,
                lease_expires_at=now + lease_seconds,
                stage=stage or job.stage,
                progress=job.progress if progress is None else progress,
                updated_at=now,
                revision=job.revision + changed,
            )
            if progress is not None:
                last = max((d.created_at for d in self._deliveries.values()
                            if d.generation_id == generation_id
                            and d.type == "generation.progress"), default=None)
                self._send(self.outbox.progress(job, now, last))
            return True

    def finish(self, generation_id: str, worker_id: str, outcome: Outcome, now: float) -> bool:
        with self._lock:
            job = self._leased(generation_id, worker_id)
            if job is None or not can_transition(job.status, outcome.status):
                return False
            self._jobs[generation_id] = dataclasses.replace(
                job,
                status=outcome.status,
                stage=Stage.DONE,
                progress=100 if outcome.status is Status.COMPLETED else job.progress,
                engine=outcome.engine,
                video_token=outcome.video_token,
                error_name=outcome.error_name,
                error_message=outcome.error_message,
                warnings=outcome.warnings,
                details=dict(outcome.details),
                credits_used=outcome.credits_used,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
                finished_at=now,
                revision=job.revision + 1,
            )
            self._bump(metrics.ended(self._jobs[generation_id], outcome, now))
            charge = Charge.of(self._jobs[generation_id], outcome, now)
            if charge is not None:
                self._ledger.append(charge)
            self._send(self.outbox.ended(self._jobs[generation_id], now))
            return True

    def release(self, generation_id: str, worker_id: str, now: float) -> bool:
        with self._lock:
            job = self._leased(generation_id, worker_id)
            if job is None:
                return False
            self._jobs[generation_id] = _requeued(job, now)
            return True

    def reap(self, now: float, max_attempts: int) -> ReapResult:
        requeued: list[str] = []
        failed: list[str] = []
        with self._lock:
            for job in list(self._jobs.values()):
                expired = job.lease_expires_at is not None and job.lease_expires_at < now
                if job.status is not Status.GENERATING or not expired:
                    continue
                if job.attempts >= max_attempts:
                    self._jobs[job.id] = dataclasses.replace(
                        _requeued(job, now),
                        status=Status.ERROR,
                        stage=Stage.DONE,
                        error_name="WorkerLost",
                        error_message=worker_lost_message(job.attempts),
                        finished_at=now,
                    )
                    self._bump(metrics.ended(job, Outcome(Status.ERROR,
                                                          error_name="WorkerLost"), now))
                    self._send(self.outbox.ended(self._jobs[job.id], now))
                    failed.append(job.id)
                else:
                    self._jobs[job.id] = _requeued(job, now)
                    self._dispatched[job.id] = now  # the reaper sends it now
                    requeued.append(job.id)
        return ReapResult(tuple(requeued), tuple(failed))

    def expire(self, now: float, grace: float) -> list[Generation]:
        ended: list[Generation] = []
        with self._lock:
            for job in list(self._jobs.values()):
                if job.deadline_at is None or job.finished:
                    continue
                due = job.deadline_at <= (now if job.status is Status.QUEUED else now - grace)
                if due:
                    self._jobs[job.id] = dataclasses.replace(
                        job, status=Status.ERROR, stage=Stage.DONE,
                        error_name="DeadlineExceeded", error_message=deadline_message(job),
                        credits_used=0.0, lease_owner=None, lease_expires_at=None,
                        finished_at=now, updated_at=now, revision=job.revision + 1)
                    ended.append(job)
                    self._bump(metrics.ended(job, Outcome(
                        Status.ERROR, error_name="DeadlineExceeded"), now))
                    self._send(self.outbox.ended(self._jobs[job.id], now))
        return ended

    def redispatch(self, now: float, older_than: float, limit: int = 100) -> list[str]:
        with self._lock:
            stale = sorted((g for g in self._jobs.values() if g.status is Status.QUEUED
                            and self._dispatched.get(g.id, g.created_at) < now - older_than),
                           key=lambda g: g.created_at)[:limit]
            for g in stale:
                self._dispatched[g.id] = now
            return [g.id for g in stale]

    def counters(self) -> list[tuple[str, str, float]]:
        with self._lock:
            return sorted((name, labels, value)
                          for (name, labels), value in self._counters.items())

    def count_queued(self) -> int:
        with self._lock:
            return sum(1 for g in self._jobs.values() if g.status is Status.QUEUED)

    def charges(self, key_id: str, first_day: str, last_day: str) -> list[Charge]:
        with self._lock:
            return sorted((c for c in self._ledger if c.key_id == key_id
                           and first_day <= c.date <= last_day),
                          key=lambda c: (c.date, c.created_at))

    def _bump(self, increments: list[metrics.Increment]) -> None:
        """Add to counter rows (called with the lock held, with the change they count)."""
        for name, labels, amount in increments:
            self._counters[(name, labels)] = self._counters.get((name, labels), 0.0) + amount

    def _send(self, messages: list[Delivery]) -> None:
        """Put webhook messages in the outbox (called with the lock held, with the change)."""
        for message in messages:
            self._deliveries[message.id] = message

    def claim_deliveries(self, owner: str, now: float, hold: float,
                         limit: int = 20) -> list[Delivery]:
        with self._lock:
            due = sorted((d for d in self._deliveries.values() if d.status == "pending"
                          and d.next_attempt_at is not None and d.next_attempt_at <= now
                          and (d.claimed_until is None or d.claimed_until < now)),
                         key=lambda d: d.next_attempt_at or 0.0)[:limit]
            claimed = [dataclasses.replace(d, claimed_by=owner, claimed_until=now + hold)
                       for d in due]
            self._deliveries.update((d.id, d) for d in claimed)
            return claimed

    def record_attempt(self, delivery_id: str, owner: str, now: float, *,
                       result: str, status_code: int | None, error: str | None,
                       next_attempt_at: float | None) -> bool:
        with self._lock:
            d = self._deliveries.get(delivery_id)
            if d is None or d.claimed_by != owner or d.status != "pending":
                return False
            status = {"delivered": "delivered", "retry": "pending"}.get(result, "failed")
            self._deliveries[delivery_id] = dataclasses.replace(
                d, status=status, attempts=d.attempts + 1, last_status_code=status_code,
                last_error=error, next_attempt_at=next_attempt_at, claimed_by=None,
                claimed_until=None, updated_at=now)
            self._bump(metrics.delivery(result))
            return True

    def deliveries(self, generation_id: str) -> list[Delivery]:
        with self._lock:
            return sorted((d for d in self._deliveries.values()
                           if d.generation_id == generation_id),
                          key=lambda d: (d.created_at, d.id))

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        return self._deliveries.get(delivery_id)

    def retry_delivery(self, delivery_id: str, now: float) -> Delivery | None:
        with self._lock:
            d = self._deliveries.get(delivery_id)
            if d is not None and (d.claimed_until is None or d.claimed_until < now):
                d = self._deliveries[delivery_id] = dataclasses.replace(
                    d, status="pending", next_attempt_at=now, claimed_by=None,
                    claimed_until=None, updated_at=now)
            return d

    def prune_deliveries(self, cutoff: float) -> int:
        with self._lock:
            old = [d.id for d in self._deliveries.values()
                   if d.status != "pending" and d.updated_at < cutoff]
            for delivery_id in old:
                del self._deliveries[delivery_id]
            return len(old)

    def webhook_secret(self, key_id: str, now: float, fresh: str) -> WebhookSecret:
        with self._lock:
            return self._secrets.setdefault(key_id, WebhookSecret(key_id, fresh, created_at=now))

    def rotate_webhook_secret(self, key_id: str, fresh: str, now: float,
                              overlap: float) -> WebhookSecret:
        with self._lock:
            old = self._secrets.get(key_id)
            new = WebhookSecret(key_id, fresh, old.secret if old else None,
                                now + overlap if old else None, now)
            self._secrets[key_id] = new
            return new

    def set_budget(self, name: str, usd: float | None, period: str | None) -> int:
        with self._lock:
            live = [k for k in self._keys.values() if k.name == name and k.revoked_at is None]
            for key in live:
                self._keys[key.id] = dataclasses.replace(
                    key, budget_usd=usd, budget_period=period if usd is not None else None)
            return len(live)

    def delete(self, generation_id: str) -> Generation | None:
        with self._lock:
            self._inputs.pop(generation_id, None)
            self._logs.pop(generation_id, None)
            return self._jobs.pop(generation_id, None)

    def finished_before(self, cutoff: float, limit: int = 100) -> list[Generation]:
        done = [g for g in self._jobs.values()
                if g.finished and g.finished_at is not None and g.finished_at < cutoff]
        return sorted(done, key=lambda g: g.finished_at or 0.0)[:limit]

    def ping(self) -> None:
        return None

    def append_log(self, generation_id: str, worker_id: str, level: str, message: str,
                   now: float) -> bool:
        with self._lock:
            job = self._leased(generation_id, worker_id)
            if job is None:
                return False
            job = dataclasses.replace(job, revision=job.revision + 1)
            self._jobs[generation_id] = job
            self._logs.setdefault(generation_id, []).append(
                LogEntry(job.revision, now, level, message))
            return True

    def set_upstream(self, generation_id: str, worker_id: str, upstream: dict[str, object],
                     now: float) -> bool:
        with self._lock:
            job = self._leased(generation_id, worker_id)
            if job is None:
                return False
            self._jobs[generation_id] = dataclasses.replace(
                job, upstream=dict(upstream), updated_at=now, revision=job.revision + 1)
            return True

    def logs(self, generation_id: str, after: int = 0, limit: int = 500) -> list[LogEntry]:
        with self._lock:
            return [e for e in self._logs.get(generation_id, []) if e.revision > after][:limit]

    def list_for_key(self, key_id: str, limit: int,
                     before: tuple[float, str] | None = None,
                     oldest_first: bool = False) -> list[Generation]:
        with self._lock:
            mine = [g for g in self._jobs.values() if g.key_id == key_id
                    and (before is None or ((g.created_at, g.id) > before if oldest_first
                                            else (g.created_at, g.id) < before))]
        return sorted(mine, key=lambda g: (g.created_at, g.id),
                      reverse=not oldest_first)[:limit]

    def add_upload(self, upload: Upload) -> None:
        with self._lock:
            self._uploads[upload.id] = upload

    def get_upload(self, upload_id: str) -> Upload | None:
        return self._uploads.get(upload_id)

    def touch_upload(self, upload_id: str, now: float) -> None:
        with self._lock:
            if upload_id in self._uploads:
                self._uploads[upload_id] = dataclasses.replace(
                    self._uploads[upload_id], last_used_at=now)

    def uploads_unused_since(self, cutoff: float, limit: int = 100) -> list[Upload]:
        with self._lock:
            old = [u for u in self._uploads.values() if u.last_used_at < cutoff]
        return sorted(old, key=lambda u: u.last_used_at)[:limit]

    def delete_upload(self, upload_id: str) -> None:
        with self._lock:
            self._uploads.pop(upload_id, None)

    def add_key(self, key: ApiKey) -> None:
        with self._lock:
            if any(k.key_hash == key.key_hash for k in self._keys.values()):
                raise KeyError("duplicate key hash")
            self._keys[key.id] = key

    def key_by_hash(self, key_hash: str) -> ApiKey | None:
        return next((k for k in self._keys.values() if k.key_hash == key_hash), None)

    def revoke_keys(self, name: str, now: float) -> int:
        with self._lock:
            live = [k for k in self._keys.values() if k.name == name and k.revoked_at is None]
            for key in live:
                self._keys[key.id] = dataclasses.replace(key, revoked_at=now)
            return len(live)

    def list_keys(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda k: (k.created_at, k.id))


def _requeued(job: Generation, now: float) -> Generation:
    return dataclasses.replace(
        job,
        status=Status.QUEUED,
        stage=Stage.QUEUED,
        progress=0,
        lease_owner=None,
        lease_expires_at=None,
        updated_at=now,
        revision=job.revision + 1,
    )

