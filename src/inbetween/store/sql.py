"""The SQL JobStore and KeyStore (SQLAlchemy 2 Core): SQLite by default, PostgreSQL alike.

Each state change is one conditional UPDATE (status and lease owner in the WHERE clause), so
claims and finishes stay atomic across threads, processes and machines.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from inbetween import metrics
from inbetween.errors import InfrastructureError
from inbetween.jobs.budget import budget_exceeded, period_start
from inbetween.jobs.models import (
    Charge,
    Delivery,
    Generation,
    GenerationRequest,
    ImageInput,
    JobWarning,
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
from inbetween.store.schema import (
    api_keys,
    generation_inputs,
    generation_logs,
    generations,
    ledger,
    metric_counters,
    uploads,
    webhook_deliveries,
    webhook_secrets,
)
from inbetween.webhooks.outbox import Outbox

__all__ = ["SqlStore", "make_engine"]

_G = generations.c
_L = generation_logs.c
_U = uploads.c
_D = webhook_deliveries.c
_UNFINISHED = (Status.QUEUED.value, Status.GENERATING.value)
STORE_TIMEOUT = 10
"""Seconds a store operation may wait for a lock or a connection."""


def make_engine(url: str) -> Engine:
    """An Engine for ``url``.

    SQLite gets WAL, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` transactions: a
    deferred transaction that reads and then writes fails at once (SQLITE_BUSY_SNAPSHOT)
    when another process wrote in between, instead of waiting its turn. Waits are bounded
    (``STORE_TIMEOUT``: a locked SQLite file, a PostgreSQL that does not answer), so a
    request fails with 503 instead of hanging.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": STORE_TIMEOUT,
                                                  "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True, pool_timeout=STORE_TIMEOUT,
                             connect_args={"connect_timeout": 5})
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event issues BEGIN
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class SqlStore:
    """JobStore + KeyStore over one SQLAlchemy Engine."""

    def __init__(self, engine: Engine, outbox: Outbox | None = None) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        self.outbox = outbox or Outbox()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise InfrastructureError(f"database error: {type(e).__name__}: {e}") from e

    # -- jobs ------------------------------------------------------------------------------
    def create(self, generation: Generation, first: ImageInput, last: ImageInput,
               max_unfinished: int | None = None) -> None:
        try:
            self._create(generation, first, last, max_unfinished)
        except InfrastructureError as e:
            if generation.idempotency_key is None or not isinstance(e.__cause__,
                                                                    IntegrityError):
                raise
            with self._tx() as conn:
                row = conn.execute(select(generations).where(
                    _G.key_id == generation.key_id,
                    _G.idempotency_key == generation.idempotency_key)).first()
            if row is None:
                raise
            raise IdempotencyReplay(_from_row(dict(row._mapping))) from None

    def _create(self, generation: Generation, first: ImageInput, last: ImageInput,
                max_unfinished: int | None) -> None:
        with self._tx() as conn:
            if generation.idempotency_key is not None:
                row = conn.execute(select(generations).where(
                    _G.key_id == generation.key_id,
                    _G.idempotency_key == generation.idempotency_key)).first()
                if row is not None:
                    raise IdempotencyReplay(_from_row(dict(row._mapping)))
            if max_unfinished is not None:
                unfinished = conn.execute(
                    select(func.count()).select_from(generations).where(
                        _G.key_id == generation.key_id,
                        _G.status.in_((Status.QUEUED.value, Status.GENERATING.value)))
                ).scalar_one()
                if unfinished >= max_unfinished:
                    raise too_many_unfinished(max_unfinished)
            self._check_budget(conn, generation)
            conn.execute(insert(generations).values(**_to_row(generation)))
            conn.execute(
                insert(generation_inputs),
                [
                    {"generation_id": generation.id, "role": role, "url": i.url, "data": i.data}
                    for role, i in (("first", first), ("last", last))
                ],
            )

    def _check_budget(self, conn: Connection, generation: Generation) -> None:
        """Refuse ``generation`` when its worst case does not fit what is left of its key's
        budget (the key's row is locked: concurrent submissions of one key queue here)."""
        key = conn.execute(select(api_keys.c.budget_usd, api_keys.c.budget_period)
                           .where(api_keys.c.id == generation.key_id)
                           .with_for_update(key_share=True)).first()  # FOR NO KEY UPDATE
        if key is None or key.budget_usd is None:
            return
        period = key.budget_period or "month"
        first_day = period_start(period, generation.created_at)
        charged = select(func.coalesce(func.sum(ledger.c.cost_usd), 0.0)).where(
            ledger.c.key_id == generation.key_id)
        if first_day is not None:
            charged = charged.where(ledger.c.date >= first_day)
        reserved = select(func.coalesce(func.sum(_G.reserved_usd), 0.0)).where(
            _G.key_id == generation.key_id, _G.status.in_(_UNFINISHED))
        used = float(conn.execute(charged).scalar_one()) + float(
            conn.execute(reserved).scalar_one())
        refusal = budget_exceeded(key.budget_usd, period, used, generation.reserved_usd,
                                  generation.created_at)
        if refusal is not None:
            raise refusal

    def get(self, generation_id: str) -> Generation | None:
        with self._tx() as conn:
            row = conn.execute(select(generations).where(_G.id == generation_id)).first()
        return None if row is None else _from_row(dict(row._mapping))

    def inputs(self, generation_id: str) -> tuple[ImageInput, ImageInput]:
        c = generation_inputs.c
        with self._tx() as conn:
            rows = conn.execute(
                select(c.role, c.url, c.data).where(c.generation_id == generation_id)
            ).all()
        found = {r.role: ImageInput(url=r.url, data=r.data) for r in rows}
        return found["first"], found["last"]

    def queue_position(self, generation: Generation) -> int | None:
        if generation.status is not Status.QUEUED:
            return None
        ahead = (_G.created_at < generation.created_at) | (
            (_G.created_at == generation.created_at) & (_G.id < generation.id))
        with self._tx() as conn:
            count = conn.execute(select(func.count()).select_from(generations).where(
                _G.status == Status.QUEUED.value, ahead)).scalar_one()
        return int(count) + 1

    def claim(self, worker_id: str, lease_seconds: float, now: float,
              generation_id: str | None = None,
              models: Collection[str] | None = None) -> Generation | None:
        while True:
            with self._tx() as conn:
                # PostgreSQL: lock the row, skipping rows other workers hold (SQLite ignores
                # this; its BEGIN IMMEDIATE already serialises writers)
                wanted = select(_G.id, _G.updated_at).where(_G.status == Status.QUEUED.value)
                if generation_id is not None:
                    wanted = wanted.where(_G.id == generation_id)
                if models is not None:
                    wanted = wanted.where(_G.model.in_(list(models)))
                found = conn.execute(
                    wanted.order_by(_G.created_at, _G.id).limit(1)
                    .with_for_update(skip_locked=True)
                ).first()
                if found is None:
                    return None
                candidate, queued_since = found
                row = conn.execute(
                    update(generations)
                    .where(_G.id == candidate, _G.status == Status.QUEUED.value)
                    .values(
                        status=Status.GENERATING.value,
                        stage=Stage.FETCHING.value,
                        lease_owner=worker_id,
                        lease_expires_at=now + lease_seconds,
                        attempts=_G.attempts + 1,
                        updated_at=now,
                        revision=_G.revision + 1,
                    )
                    .returning(*generations.c)
                ).first()
                if row is not None:
                    job = _from_row(dict(row._mapping))
                    self._bump(conn, metrics.claimed(now - queued_since))
                    self._send(conn, self.outbox.started(job, now))
            if row is not None:
                return job
            if generation_id is not None:
                return None
            # another worker took it between SELECT and UPDATE: try the next one

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
        values: dict[str, Any] = {"lease_expires_at": now + lease_seconds, "updated_at": now}
        if stage is not None:
            values["stage"] = stage.value
        if progress is not None:
            values["progress"] = progress
        if stage is not None or progress is not None:
            values["revision"] = _G.revision + 1
        if progress is None:
            return self._update_leased(generation_id, worker_id, values)
        with self._tx() as conn:  # a progress message goes with the progress
            row = conn.execute(
                update(generations)
                .where(_G.id == generation_id, _G.status == Status.GENERATING.value,
                       _G.lease_owner == worker_id)
                .values(**values).returning(*generations.c)).first()
            if row is None:
                return False
            job = _from_row(dict(row._mapping))
            if job.webhook_url is not None and "progress" in job.webhook_events:
                last = conn.execute(select(func.max(_D.created_at)).where(
                    _D.generation_id == generation_id,
                    _D.type == "generation.progress")).scalar()
                self._send(conn, self.outbox.progress(job, now, last))
        return True

    def finish(self, generation_id: str, worker_id: str, outcome: Outcome, now: float) -> bool:
        values: dict[str, Any] = {
            "status": outcome.status.value,
            "stage": Stage.DONE.value,
            "engine": outcome.engine,
            "video_token": outcome.video_token,
            "error_name": outcome.error_name,
            "error_message": outcome.error_message,
            "warnings": _dump_warnings(outcome.warnings),
            "details": json.dumps(outcome.details),
            "credits_used": outcome.credits_used,
            "lease_owner": None,
            "lease_expires_at": None,
            "updated_at": now,
            "finished_at": now,
            "revision": _G.revision + 1,
        }
        if outcome.status is Status.COMPLETED:
            values["progress"] = 100
        if not can_transition(Status.GENERATING, outcome.status):
            raise ValueError(f"a generating job cannot become {outcome.status}")
        with self._tx() as conn:  # the counters move in the same transaction
            row = conn.execute(
                update(generations)
                .where(_G.id == generation_id, _G.status == Status.GENERATING.value,
                       _G.lease_owner == worker_id)
                .values(**values)
                .returning(*generations.c)
            ).first()
            if row is not None:
                job = _from_row(dict(row._mapping))
                self._bump(conn, metrics.ended(job, outcome, now))
                charge = Charge.of(job, outcome, now)
                if charge is not None:  # the ledger row goes with the completion
                    conn.execute(insert(ledger).values(**dataclasses.asdict(charge)))
                self._send(conn, self.outbox.ended(job, now))
        return row is not None

    def charges(self, key_id: str, first_day: str, last_day: str) -> list[Charge]:
        with self._tx() as conn:
            rows = conn.execute(
                select(ledger).where(ledger.c.key_id == key_id, ledger.c.date >= first_day,
                                     ledger.c.date <= last_day)
                .order_by(ledger.c.date, ledger.c.created_at)).all()
        return [Charge(**r._mapping) for r in rows]

    def release(self, generation_id: str, worker_id: str, now: float) -> bool:
        return self._update_leased(
            generation_id, worker_id, _requeue_values(now), target=Status.QUEUED
        )

    def _update_leased(
        self,
        generation_id: str,
        worker_id: str,
        values: dict[str, Any],
        target: Status = Status.GENERATING,
    ) -> bool:
        if target is not Status.GENERATING and not can_transition(Status.GENERATING, target):
            raise ValueError(f"a generating job cannot become {target}")
        with self._tx() as conn:
            count = conn.execute(
                update(generations)
                .where(
                    _G.id == generation_id,
                    _G.status == Status.GENERATING.value,
                    _G.lease_owner == worker_id,
                )
                .values(**values)
            ).rowcount
        return bool(count == 1)

    def reap(self, now: float, max_attempts: int) -> ReapResult:
        expired = (_G.status == Status.GENERATING.value) & (_G.lease_expires_at < now)
        with self._tx() as conn:
            failed = conn.execute(
                select(_G.id, _G.attempts).where(expired, _G.attempts >= max_attempts)
            ).all()
            for job_id, attempts in failed:
                row = conn.execute(
                    update(generations)
                    .where(_G.id == job_id, expired)
                    .values(
                        {
                            **_requeue_values(now),
                            "status": Status.ERROR.value,
                            "stage": Stage.DONE.value,
                            "error_name": "WorkerLost",
                            "error_message": worker_lost_message(attempts),
                            "finished_at": now,
                        }
                    )
                    .returning(*generations.c)
                ).first()
                if row is not None:
                    lost = _from_row(dict(row._mapping))
                    self._bump(conn, metrics.ended(lost, Outcome(
                        Status.ERROR, error_name="WorkerLost"), now))
                    self._send(conn, self.outbox.ended(lost, now))
            requeued = conn.execute(
                update(generations)
                .where(expired, _G.attempts < max_attempts)
                .values(**_requeue_values(now))
                .returning(_G.id)
            ).scalars().all()
        return ReapResult(tuple(requeued), tuple(job_id for job_id, _ in failed))

    def expire(self, now: float, grace: float) -> list[Generation]:
        unfinished = _G.status.in_((Status.QUEUED.value, Status.GENERATING.value))
        due = (((_G.status == Status.QUEUED.value) & (_G.deadline_at <= now))
               | ((_G.status == Status.GENERATING.value) & (_G.deadline_at <= now - grace)))
        ended: list[Generation] = []
        with self._tx() as conn:
            rows = conn.execute(select(generations).where(unfinished, due)).all()
            for row in rows:
                job = _from_row(dict(row._mapping))
                after = conn.execute(
                    update(generations)
                    .where(_G.id == job.id, _G.status == job.status.value)
                    .values(**_deadline_values(job, now))
                    .returning(*generations.c)
                ).first()
                if after is not None:
                    ended.append(job)
                    self._bump(conn, metrics.ended(job, Outcome(
                        Status.ERROR, error_name="DeadlineExceeded"), now))
                    self._send(conn, self.outbox.ended(_from_row(dict(after._mapping)), now))
        return ended

    def redispatch(self, now: float, older_than: float, limit: int = 100) -> list[str]:
        sent = func.coalesce(_G.dispatched_at, _G.created_at)
        stale = (_G.status == Status.QUEUED.value) & (sent < now - older_than)
        with self._tx() as conn:
            ids = conn.execute(select(_G.id).where(stale).order_by(_G.created_at).limit(limit)
                               .with_for_update(skip_locked=True)).scalars().all()
            if ids:
                conn.execute(update(generations).where(_G.id.in_(ids), stale)
                             .values(dispatched_at=now))
        return list(ids)

    def counters(self) -> list[tuple[str, str, float]]:
        with self._tx() as conn:
            rows = conn.execute(select(metric_counters).order_by(
                metric_counters.c.name, metric_counters.c.labels)).all()
        return [(r.name, r.labels, float(r.value)) for r in rows]

    def count_queued(self) -> int:
        with self._tx() as conn:
            return int(conn.execute(select(func.count()).select_from(generations).where(
                _G.status == Status.QUEUED.value)).scalar() or 0)

    def _upsert(self) -> Any:
        """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL share the syntax)."""
        from sqlalchemy.dialects import postgresql, sqlite

        return postgresql.insert if self._dialect == "postgresql" else sqlite.insert

    def _bump(self, conn: Connection, increments: list[metrics.Increment]) -> None:
        """Add to counter rows (an upsert: SQLite and PostgreSQL share the syntax)."""
        upsert = self._upsert()
        totals: dict[tuple[str, str], float] = {}
        for name, labels, amount in increments:
            totals[(name, labels)] = totals.get((name, labels), 0.0) + amount
        for (name, labels), amount in sorted(totals.items()):  # one order: no deadlocks
            statement = upsert(metric_counters).values(name=name, labels=labels, value=amount)
            conn.execute(statement.on_conflict_do_update(
                index_elements=["name", "labels"],
                set_={"value": metric_counters.c.value + statement.excluded.value}))

    def _send(self, conn: Connection, messages: list[Delivery]) -> None:
        """Write webhook messages into the outbox (in the caller's transaction)."""
        if messages:
            conn.execute(insert(webhook_deliveries),
                         [dataclasses.asdict(m) for m in messages])

    # -- webhooks ----------------------------------------------------------------------------
    def claim_deliveries(self, owner: str, now: float, hold: float,
                         limit: int = 20) -> list[Delivery]:
        due = ((_D.status == "pending") & (_D.next_attempt_at <= now)
               & or_(_D.claimed_until.is_(None), _D.claimed_until < now))
        claimed: list[Delivery] = []
        with self._tx() as conn:
            ids = conn.execute(select(_D.id).where(due).order_by(_D.next_attempt_at)
                               .limit(limit).with_for_update(skip_locked=True)).scalars().all()
            for delivery_id in ids:
                row = conn.execute(
                    update(webhook_deliveries).where(_D.id == delivery_id, due)
                    .values(claimed_by=owner, claimed_until=now + hold)
                    .returning(*webhook_deliveries.c)).first()
                if row is not None:
                    claimed.append(Delivery(**row._mapping))
        return claimed

    def record_attempt(self, delivery_id: str, owner: str, now: float, *,
                       result: str, status_code: int | None, error: str | None,
                       next_attempt_at: float | None) -> bool:
        status = {"delivered": "delivered", "retry": "pending"}.get(result, "failed")
        with self._tx() as conn:
            count = conn.execute(
                update(webhook_deliveries)
                .where(_D.id == delivery_id, _D.claimed_by == owner, _D.status == "pending")
                .values(status=status, attempts=_D.attempts + 1, last_status_code=status_code,
                        last_error=error, next_attempt_at=next_attempt_at, claimed_by=None,
                        claimed_until=None, updated_at=now)).rowcount
            if count == 1:
                self._bump(conn, metrics.delivery(result))
        return bool(count == 1)

    def deliveries(self, generation_id: str) -> list[Delivery]:
        with self._tx() as conn:
            rows = conn.execute(select(webhook_deliveries)
                                .where(_D.generation_id == generation_id)
                                .order_by(_D.created_at, _D.id)).all()
        return [Delivery(**r._mapping) for r in rows]

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        with self._tx() as conn:
            row = conn.execute(select(webhook_deliveries).where(_D.id == delivery_id)).first()
        return None if row is None else Delivery(**row._mapping)

    def retry_delivery(self, delivery_id: str, now: float) -> Delivery | None:
        with self._tx() as conn:
            conn.execute(  # not while an attempt is in flight: that one is recorded first
                update(webhook_deliveries)
                .where(_D.id == delivery_id,
                       or_(_D.claimed_until.is_(None), _D.claimed_until < now))
                .values(status="pending", next_attempt_at=now, claimed_by=None,
                        claimed_until=None, updated_at=now))
            row = conn.execute(select(webhook_deliveries).where(_D.id == delivery_id)).first()
        return None if row is None else Delivery(**row._mapping)

    def prune_deliveries(self, cutoff: float) -> int:
        with self._tx() as conn:
            count = conn.execute(delete(webhook_deliveries).where(
                _D.status != "pending", _D.updated_at < cutoff)).rowcount
        return int(count)

    def webhook_secret(self, key_id: str, now: float, fresh: str) -> WebhookSecret:
        upsert = self._upsert()
        with self._tx() as conn:
            conn.execute(upsert(webhook_secrets).values(
                key_id=key_id, secret=fresh, created_at=now).on_conflict_do_nothing())
            row = conn.execute(select(webhook_secrets)
                               .where(webhook_secrets.c.key_id == key_id)).one()
        return WebhookSecret(**row._mapping)

    def rotate_webhook_secret(self, key_id: str, fresh: str, now: float,
                              overlap: float) -> WebhookSecret:
        with self._tx() as conn:  # one transaction: concurrent rotations queue up
            found = conn.execute(select(webhook_secrets.c.key_id)
                                 .where(webhook_secrets.c.key_id == key_id)
                                 .with_for_update()).first()
            if found is None:
                conn.execute(insert(webhook_secrets).values(key_id=key_id, secret=fresh,
                                                            created_at=now))
            else:
                conn.execute(update(webhook_secrets).where(webhook_secrets.c.key_id == key_id)
                             .values(secret=fresh, previous=webhook_secrets.c.secret,
                                     previous_until=now + overlap, created_at=now))
            row = conn.execute(select(webhook_secrets)
                               .where(webhook_secrets.c.key_id == key_id)).one()
        return WebhookSecret(**row._mapping)

    def set_budget(self, name: str, usd: float | None, period: str | None) -> int:
        with self._tx() as conn:
            count = conn.execute(
                update(api_keys)
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(budget_usd=usd, budget_period=period if usd is not None else None)
            ).rowcount
        return int(count)

    def delete(self, generation_id: str) -> Generation | None:
        with self._tx() as conn:
            row = conn.execute(select(generations).where(_G.id == generation_id)).first()
            if row is None:
                return None
            conn.execute(delete(generation_inputs).where(
                generation_inputs.c.generation_id == generation_id))
            conn.execute(delete(generation_logs).where(_L.generation_id == generation_id))
            conn.execute(delete(generations).where(_G.id == generation_id))
        return _from_row(dict(row._mapping))

    def finished_before(self, cutoff: float, limit: int = 100) -> list[Generation]:
        with self._tx() as conn:
            rows = conn.execute(
                select(generations)
                .where(_G.status.in_((Status.COMPLETED.value, Status.ERROR.value)),
                       _G.finished_at < cutoff)
                .order_by(_G.finished_at).limit(limit)
            ).all()
        return [_from_row(dict(r._mapping)) for r in rows]

    def ping(self) -> None:
        with self._tx() as conn:
            conn.execute(text("SELECT 1"))

    def append_log(self, generation_id: str, worker_id: str, level: str, message: str,
                   now: float) -> bool:
        with self._tx() as conn:
            revision = conn.execute(
                update(generations)
                .where(_G.id == generation_id, _G.status == Status.GENERATING.value,
                       _G.lease_owner == worker_id)
                .values(revision=_G.revision + 1)
                .returning(_G.revision)
            ).scalar()
            if revision is None:
                return False
            conn.execute(insert(generation_logs).values(
                generation_id=generation_id, revision=revision, time=now, level=level,
                message=message))
        return True

    def set_upstream(self, generation_id: str, worker_id: str, upstream: dict[str, object],
                     now: float) -> bool:
        return self._update_leased(generation_id, worker_id, {
            "upstream": json.dumps(upstream), "updated_at": now,
            "revision": _G.revision + 1})

    def logs(self, generation_id: str, after: int = 0, limit: int = 500) -> list[LogEntry]:
        with self._tx() as conn:
            rows = conn.execute(
                select(_L.revision, _L.time, _L.level, _L.message)
                .where(_L.generation_id == generation_id, _L.revision > after)
                .order_by(_L.revision).limit(limit)
            ).all()
        return [LogEntry(r.revision, r.time, r.level, r.message) for r in rows]

    def list_for_key(self, key_id: str, limit: int,
                     before: tuple[float, str] | None = None,
                     oldest_first: bool = False) -> list[Generation]:
        query = select(generations).where(_G.key_id == key_id)
        if before is not None:
            created, gid = before
            if oldest_first:
                query = query.where((_G.created_at > created)
                                    | ((_G.created_at == created) & (_G.id > gid)))
            else:
                query = query.where((_G.created_at < created)
                                    | ((_G.created_at == created) & (_G.id < gid)))
        order = (_G.created_at, _G.id) if oldest_first else (_G.created_at.desc(),
                                                              _G.id.desc())
        with self._tx() as conn:
            rows = conn.execute(query.order_by(*order).limit(limit)).all()
        return [_from_row(dict(r._mapping)) for r in rows]

    # -- uploads ---------------------------------------------------------------------------
    def add_upload(self, upload: Upload) -> None:
        with self._tx() as conn:
            conn.execute(insert(uploads).values(**dataclasses.asdict(upload)))

    def get_upload(self, upload_id: str) -> Upload | None:
        with self._tx() as conn:
            row = conn.execute(select(uploads).where(_U.id == upload_id)).first()
        return None if row is None else Upload(**row._mapping)

    def touch_upload(self, upload_id: str, now: float) -> None:
        with self._tx() as conn:
            conn.execute(update(uploads).where(_U.id == upload_id).values(last_used_at=now))

    def uploads_unused_since(self, cutoff: float, limit: int = 100) -> list[Upload]:
        with self._tx() as conn:
            rows = conn.execute(select(uploads).where(_U.last_used_at < cutoff)
                                .order_by(_U.last_used_at).limit(limit)).all()
        return [Upload(**r._mapping) for r in rows]

    def delete_upload(self, upload_id: str) -> None:
        with self._tx() as conn:
            conn.execute(delete(uploads).where(_U.id == upload_id))

    # -- keys ------------------------------------------------------------------------------
    def add_key(self, key: ApiKey) -> None:
        try:
            with self._tx() as conn:
                conn.execute(
                    insert(api_keys).values(**dataclasses.asdict(key))
                )
        except InfrastructureError as e:
            if isinstance(e.__cause__, IntegrityError) and self.key_by_hash(key.key_hash):
                raise KeyError("duplicate key hash") from e.__cause__
            raise

    def key_by_hash(self, key_hash: str) -> ApiKey | None:
        with self._tx() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        return None if row is None else ApiKey(**row._mapping)

    def revoke_keys(self, name: str, now: float) -> int:
        with self._tx() as conn:
            count = conn.execute(
                update(api_keys)
                .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
        return int(count)

    def list_keys(self) -> list[ApiKey]:
        with self._tx() as conn:
            rows = conn.execute(
                select(api_keys).order_by(api_keys.c.created_at, api_keys.c.id)
            ).all()
        return [ApiKey(**r._mapping) for r in rows]


def _requeue_values(now: float) -> dict[str, Any]:
    return {
        "dispatched_at": now,  # the caller sends it to the workers now
        "status": Status.QUEUED.value,
        "stage": Stage.QUEUED.value,
        "progress": 0,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
        "revision": _G.revision + 1,
    }


def _dump_warnings(warnings: tuple[JobWarning, ...]) -> str:
    return json.dumps([{"code": w.code, "message": w.message} for w in warnings])


def _to_row(g: Generation) -> dict[str, Any]:
    r = g.request
    return {
        "id": g.id,
        "key_id": g.key_id,
        "model": r.model,
        "prompt": r.prompt,
        "negative_prompt": r.negative_prompt,
        "aspect_ratio": r.aspect_ratio,
        "duration": r.duration,
        "resolution": r.resolution,
        "generate_audio": r.generate_audio,
        "provider": r.provider,
        "requested_seed": r.seed,
        "seed": g.seed,
        "status": g.status.value,
        "stage": g.stage.value,
        "progress": g.progress,
        "engine": g.engine,
        "video_token": g.video_token,
        "error_name": g.error_name,
        "error_message": g.error_message,
        "warnings": _dump_warnings(g.warnings),
        "details": json.dumps(g.details),
        "idempotency_key": g.idempotency_key,
        "request_hash": g.request_hash,
        "credits_used": g.credits_used,
        "attempts": g.attempts,
        "lease_owner": g.lease_owner,
        "lease_expires_at": g.lease_expires_at,
        "created_at": g.created_at,
        "updated_at": g.updated_at,
        "finished_at": g.finished_at,
        "revision": g.revision,
        "upstream": json.dumps(g.upstream) if g.upstream is not None else None,
        "deadline_at": g.deadline_at,
        "webhook_url": g.webhook_url,
        "webhook_events": ",".join(g.webhook_events),
        "base_url": g.base_url,
        "reserved_usd": g.reserved_usd,
    }


def _deadline_values(job: Generation, now: float) -> dict[str, Any]:
    """The columns of a job ended by its deadline (nothing charged, no video)."""
    return {"status": Status.ERROR.value, "stage": Stage.DONE.value,
            "error_name": "DeadlineExceeded", "error_message": deadline_message(job),
            "credits_used": 0.0, "lease_owner": None, "lease_expires_at": None,
            "finished_at": now, "updated_at": now, "revision": job.revision + 1}


def _from_row(row: Mapping[str, Any]) -> Generation:
    request = GenerationRequest(
        model=row["model"],
        prompt=row["prompt"],
        aspect_ratio=row["aspect_ratio"],
        duration=row["duration"],
        resolution=row["resolution"],
        generate_audio=bool(row["generate_audio"]),
        provider=row["provider"],
        negative_prompt=row["negative_prompt"],
        seed=row["requested_seed"],
    )
    return Generation(
        id=row["id"],
        key_id=row["key_id"],
        request=request,
        seed=row["seed"],
        status=Status(row["status"]),
        stage=Stage(row["stage"]),
        progress=row["progress"],
        engine=row["engine"],
        video_token=row["video_token"],
        error_name=row["error_name"],
        error_message=row["error_message"],
        warnings=tuple(JobWarning(**w) for w in json.loads(row["warnings"])),
        details=json.loads(row["details"]) if row["details"] else {},
        idempotency_key=row["idempotency_key"],
        request_hash=row["request_hash"],
        credits_used=row["credits_used"],
        attempts=row["attempts"],
        lease_owner=row["lease_owner"],
        lease_expires_at=row["lease_expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        revision=row["revision"],
        upstream=json.loads(row["upstream"]) if row["upstream"] else None,
        deadline_at=row["deadline_at"],
        webhook_url=row["webhook_url"],
        webhook_events=tuple(e for e in row["webhook_events"].split(",") if e),
        base_url=row["base_url"],
        reserved_usd=row["reserved_usd"],
    )
