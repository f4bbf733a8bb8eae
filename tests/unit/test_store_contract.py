"""One contract, every JobStore/KeyStore implementation (memory and SQLite here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from inbetween.jobs.models import (
    Generation,
    GenerationRequest,
    ImageInput,
    JobWarning,
    Outcome,
    Stage,
    Status,
)
from inbetween.settings import Settings
from inbetween.store import MemoryStore, SqlStore, open_store
from inbetween.store.base import ApiKey

LEASE = 30.0


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore | SqlStore]:
    if request.param == "memory":
        s: MemoryStore | SqlStore = MemoryStore()
    elif request.param == "sqlite":
        s = open_store(Settings(data_dir=tmp_path / "d"))
    else:
        url = request.getfixturevalue("postgres_url")
        s = open_store(Settings(data_dir=tmp_path / "d", database_url=url))
    s.add_key(ApiKey("k1", "one", "h" * 64, 1.0))
    yield s
    if isinstance(s, SqlStore):
        s.engine.dispose()


def _job(job_id: str, created: float, **overrides: object) -> Generation:
    request = GenerationRequest(model="inbetween/keyframe", prompt="p", seed=None)
    values: dict[str, object] = {"id": job_id, "key_id": "k1", "request": request, "seed": 5,
                                 "created_at": created, "updated_at": created}
    values.update(overrides)
    return Generation(**values)  # type: ignore[arg-type]


FIRST, LAST = ImageInput(data=b"\x89PNG..."), ImageInput(url="https://example.com/b.jpg")


def test_create_get_and_inputs_roundtrip(store: MemoryStore | SqlStore) -> None:
    job = _job("a", 10.0, request=GenerationRequest(
        model="google/veo-3.1-first-last-image-to-video", prompt="“Hello” 🌍", aspect_ratio="9:16",
        duration=4, resolution="720p", generate_audio=False, provider="local",
        negative_prompt="blur", seed=2**32 - 1))
    store.create(job, FIRST, LAST)
    assert store.get("a") == job
    assert store.inputs("a") == (FIRST, LAST)
    assert store.get("missing") is None


def test_claim_is_fifo_and_leases(store: MemoryStore | SqlStore) -> None:
    store.create(_job("late", 20.0), FIRST, LAST)
    store.create(_job("early", 10.0), FIRST, LAST)
    claimed = store.claim("w1", LEASE, now=100.0)
    assert claimed is not None and claimed.id == "early"
    assert (claimed.status, claimed.stage, claimed.lease_owner) == (
        Status.GENERATING, Stage.FETCHING, "w1")
    assert claimed.lease_expires_at == 130.0 and claimed.attempts == 1
    assert store.claim("w2", LEASE, 100.0).id == "late"  # type: ignore[union-attr]
    assert store.claim("w3", LEASE, 100.0) is None


def test_each_job_is_claimed_exactly_once_under_contention(
    store: MemoryStore | SqlStore,
) -> None:
    for i in range(20):
        store.create(_job(f"j{i:02d}", float(i)), FIRST, LAST)
    claims: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (job := store.claim(name, LEASE, 1.0)) is not None:
            with lock:
                claims.append(job.id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claims) == [f"j{i:02d}" for i in range(20)]


def test_renew_and_finish_need_the_lease(store: MemoryStore | SqlStore) -> None:
    store.create(_job("a", 1.0), FIRST, LAST)
    store.claim("w1", LEASE, 100.0)
    assert store.renew("a", "w1", LEASE, 110.0, stage=Stage.RENDERING, progress=40)
    job = store.get("a")
    assert job is not None
    assert (job.stage, job.progress, job.lease_expires_at) == (Stage.RENDERING, 40, 140.0)
    assert not store.renew("a", "intruder", LEASE, 110.0)
    done = Outcome(Status.COMPLETED, engine="e", video_token="tok",
                   warnings=(JobWarning("c", "m"),), credits_used=2.5,
                   details={"match_confidence": 0.5, "cues": ["linear"]})
    assert not store.finish("a", "intruder", done, 120.0)
    assert store.finish("a", "w1", done, 120.0)
    job = store.get("a")
    assert job is not None
    assert (job.status, job.progress, job.video_token, job.engine) == (
        Status.COMPLETED, 100, "tok", "e")
    assert job.warnings == (JobWarning("c", "m"),) and job.credits_used == 2.5
    assert job.details == {"match_confidence": 0.5, "cues": ["linear"]}
    assert job.finished_at == 120.0 and job.lease_owner is None
    # a finished job cannot be finished, renewed or released again
    assert not store.finish("a", "w1", Outcome(Status.ERROR, error_name="X"), 121.0)
    assert not store.renew("a", "w1", LEASE, 121.0)
    assert not store.release("a", "w1", 121.0)


def test_error_outcome_keeps_name_and_message(store: MemoryStore | SqlStore) -> None:
    store.create(_job("a", 1.0), FIRST, LAST)
    store.claim("w1", LEASE, 1.0)
    store.renew("a", "w1", LEASE, 1.0, progress=30)
    assert store.finish("a", "w1", Outcome(Status.ERROR, error_name="InvalidImage",
                                           error_message="image_url: bad"), 2.0)
    job = store.get("a")
    assert job is not None
    assert (job.status, job.error_name, job.error_message, job.progress) == (
        Status.ERROR, "InvalidImage", "image_url: bad", 30)


def test_release_puts_the_job_back(store: MemoryStore | SqlStore) -> None:
    store.create(_job("a", 1.0), FIRST, LAST)
    store.claim("w1", LEASE, 1.0)
    assert store.release("a", "w1", 2.0)
    job = store.get("a")
    assert job is not None and (job.status, job.lease_owner, job.progress) == (
        Status.QUEUED, None, 0)
    assert store.claim("w2", LEASE, 3.0).attempts == 2  # type: ignore[union-attr]


def test_reaper_requeues_expired_leases_then_gives_up(store: MemoryStore | SqlStore) -> None:
    store.create(_job("a", 1.0), FIRST, LAST)
    store.claim("w1", 10.0, now=0.0)  # expires at 10
    assert store.reap(now=9.0, max_attempts=2).requeued == ()  # still leased
    assert store.reap(now=11.0, max_attempts=2).requeued == ("a",)
    assert not store.finish("a", "w1", Outcome(Status.COMPLETED), 12.0)  # w1 lost it
    store.claim("w2", 10.0, now=20.0)  # second attempt, expires at 30
    result = store.reap(now=31.0, max_attempts=2)
    assert result.requeued == () and result.failed == ("a",)
    job = store.get("a")
    assert job is not None and job.status is Status.ERROR and job.error_name == "WorkerLost"
    assert "stopped responding 2 times" in (job.error_message or "")


def test_deadlines_end_queued_jobs_at_once_and_running_ones_after_the_grace(
    store: MemoryStore | SqlStore,
) -> None:
    store.create(_job("q", 1.0, deadline_at=5.0), FIRST, LAST)
    store.create(_job("r", 2.0, deadline_at=5.0), FIRST, LAST)
    store.create(_job("free", 3.0), FIRST, LAST)
    assert store.get("q").deadline_at == 5.0  # type: ignore[union-attr]
    store.claim("w1", 100.0, now=3.0, generation_id="r")
    assert store.expire(now=4.9, grace=2.0) == []
    assert [g.id for g in store.expire(now=5.0, grace=2.0)] == ["q"]  # queued: at once
    assert [g.id for g in store.expire(now=7.0, grace=2.0)] == ["r"]  # running: after grace
    for job_id in ("q", "r"):
        job = store.get(job_id)
        assert job is not None and job.status is Status.ERROR and job.stage is Stage.DONE
        assert job.error_name == "DeadlineExceeded" and job.credits_used == 0
        assert job.lease_owner is None and job.finished_at is not None
    assert not store.finish("r", "w1", Outcome(Status.COMPLETED), 8.0)  # its worker lost it
    assert store.get("free").status is Status.QUEUED  # type: ignore[union-attr]
    assert store.expire(now=1e9, grace=0.0) == []


def test_the_ledger_keeps_deliveries_only_even_after_delete(
    store: MemoryStore | SqlStore,
) -> None:
    day = 1_795_000_000.0  # 2026-11-18 UTC
    for job_id in ("a", "b"):
        store.create(_job(job_id, 1.0), FIRST, LAST)
        store.claim("w", 100.0, now=2.0, generation_id=job_id)
    store.finish("a", "w", Outcome(Status.COMPLETED, engine="e", video_token="t",
                                   credits_used=1.5, details={"provider": "fal"}), day)
    store.finish("b", "w", Outcome(Status.ERROR, error_name="EngineError"), day)
    store.delete("a")
    [charge] = store.charges("k1", "2026-11-18", "2026-11-18")
    assert (charge.generation_id, charge.provider, charge.cost_usd, charge.date) == (
        "a", "fal", 1.5, "2026-11-18")
    assert charge.seconds == _job("x", 0.0).request.duration
    assert store.charges("k1", "2026-11-19", "2026-12-31") == []
    assert store.charges("someone-else", "2026-01-01", "2026-12-31") == []


def test_keys(store: MemoryStore | SqlStore) -> None:
    store.add_key(ApiKey("k2", "two", "b" * 64, 2.0))
    assert store.key_by_hash("b" * 64) == ApiKey("k2", "two", "b" * 64, 2.0)
    assert store.key_by_hash("c" * 64) is None
    assert [k.id for k in store.list_keys()] == ["k1", "k2"]
    with pytest.raises(KeyError, match="duplicate key hash"):  # every store's own error
        store.add_key(ApiKey("k3", "dup", "b" * 64, 3.0))
    assert [k.id for k in store.list_keys()] == ["k1", "k2"]


def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first = open_store(settings)
    first.add_key(ApiKey("k1", "one", "a" * 64, 1.0))
    first.create(_job("a", 1.0), FIRST, LAST)
    first.engine.dispose()
    again = open_store(settings)  # migrations are idempotent
    assert again.get("a") is not None and again.list_keys()[0].id == "k1"
    again.engine.dispose()


def test_migrations_upgrade_an_existing_database(tmp_path: Path) -> None:
    from sqlalchemy import text

    from inbetween.store.migrate import upgrade
    from inbetween.store.sql import make_engine

    settings = Settings(data_dir=tmp_path / "d")
    settings.data_dir.mkdir()
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine, "0001")  # a database made by the first release
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO api_keys VALUES ('k1', 'one', :h, 1.0)"), {"h": "a" * 64})
        conn.execute(text(
            "INSERT INTO generations (id, key_id, model, prompt, aspect_ratio, duration, "
            "resolution, generate_audio, provider, seed, status, stage, progress, warnings, "
            "credits_used, attempts, created_at, updated_at) VALUES ('old', 'k1', "
            "'inbetween/keyframe', 'p', '16:9', 8, '1080p', 1, 'auto', 1, 'queued', 'queued', "
            "0, '[]', 0, 0, 1.0, 1.0)"))
    engine.dispose()
    store = open_store(settings)  # upgrades to head
    old = store.get("old")
    assert old is not None and old.details == {} and old.status is Status.QUEUED
    store.engine.dispose()


def test_revoking_keys_by_name(store: MemoryStore | SqlStore) -> None:
    store.add_key(ApiKey("k2", "shared", "b" * 64, 2.0))
    store.add_key(ApiKey("k3", "shared", "c" * 64, 3.0))
    assert store.revoke_keys("shared", now=10.0) == 2
    assert store.revoke_keys("shared", now=11.0) == 0  # already revoked
    assert store.revoke_keys("nobody", now=11.0) == 0
    assert store.key_by_hash("b" * 64).revoked_at == 10.0  # type: ignore[union-attr]
    assert store.key_by_hash("h" * 64).revoked_at is None  # type: ignore[union-attr]


def test_idempotency_key_is_unique_per_api_key(store: MemoryStore | SqlStore) -> None:
    from inbetween.store.base import IdempotencyReplay

    store.add_key(ApiKey("k2", "two", "b" * 64, 2.0))
    store.create(_job("a", 1.0, idempotency_key="x", request_hash="r1"), FIRST, LAST)
    with pytest.raises(IdempotencyReplay) as replay:
        store.create(_job("b", 2.0, idempotency_key="x", request_hash="r2"), FIRST, LAST)
    assert replay.value.existing.id == "a" and replay.value.existing.request_hash == "r1"
    store.create(_job("c", 3.0, key_id="k2", idempotency_key="x"), FIRST, LAST)  # other key
    store.create(_job("d", 4.0), FIRST, LAST)  # no key: no constraint
    store.create(_job("e", 5.0), FIRST, LAST)
    assert store.get("b") is None and store.get("e") is not None


def test_delete_and_finished_before(store: MemoryStore | SqlStore) -> None:
    store.create(_job("a", 1.0), FIRST, LAST)
    store.create(_job("b", 2.0), FIRST, LAST)
    store.claim("w", LEASE, 5.0)  # a
    store.finish("a", "w", Outcome(Status.COMPLETED, video_token="t"), 10.0)
    assert [g.id for g in store.finished_before(11.0)] == ["a"]
    assert store.finished_before(9.0) == []
    deleted = store.delete("a")
    assert deleted is not None and deleted.video_token == "t"
    assert store.get("a") is None and store.delete("a") is None
    claimed = store.claim("w", LEASE, 12.0)
    assert claimed is not None and claimed.id == "b"
    assert store.delete("b") is not None
    assert not store.renew("b", "w", LEASE, 13.0)  # the worker has lost it


def test_queue_position_is_fifo(store: MemoryStore | SqlStore) -> None:
    for job_id, created in (("c", 3.0), ("a", 1.0), ("b", 1.0)):
        store.create(_job(job_id, created), FIRST, LAST)
    positions = {i: store.queue_position(store.get(i)) for i in "abc"}  # type: ignore[arg-type]
    assert positions == {"a": 1, "b": 2, "c": 3}  # creation time, then id
    store.claim("w", LEASE, 5.0)  # takes a
    assert store.queue_position(store.get("a")) is None  # type: ignore[arg-type]
    assert store.queue_position(store.get("c")) == 2  # type: ignore[arg-type]


def test_revision_counts_visible_changes_and_logs_follow_it(
    store: MemoryStore | SqlStore,
) -> None:
    store.create(_job("a", 1.0), FIRST, LAST)
    assert store.get("a").revision == 0  # type: ignore[union-attr]
    store.claim("w1", LEASE, 2.0)
    assert store.get("a").revision == 1  # type: ignore[union-attr]
    store.renew("a", "w1", LEASE, 3.0)  # a heartbeat changes nothing a client sees
    assert store.get("a").revision == 1  # type: ignore[union-attr]
    store.renew("a", "w1", LEASE, 3.0, stage=Stage.RENDERING, progress=40)
    assert store.append_log("a", "w1", "info", "rendering 96 frames", 4.0)
    assert store.append_log("a", "w1", "warning", "low match confidence", 5.0)
    assert not store.append_log("a", "intruder", "info", "not my job", 5.0)
    logs = store.logs("a")
    assert [(e.revision, e.level, e.message) for e in logs] == [
        (3, "info", "rendering 96 frames"), (4, "warning", "low match confidence")]
    assert logs[0].time == 4.0
    assert [e.revision for e in store.logs("a", after=3)] == [4]
    assert store.finish("a", "w1", Outcome(Status.COMPLETED, engine="e", video_token="t"), 6.0)
    assert store.get("a").revision == 5  # type: ignore[union-attr]
    assert not store.append_log("a", "w1", "info", "too late", 7.0)
    store.delete("a")
    assert store.logs("a") == []


def test_list_for_key_is_newest_first_with_a_cursor(store: MemoryStore | SqlStore) -> None:
    store.add_key(ApiKey("k2", "two", "i" * 64, 1.0))
    for i, created in enumerate([5.0, 7.0, 7.0, 9.0]):
        store.create(_job(f"j{i}", created), FIRST, LAST)
    store.create(_job("other", 8.0, key_id="k2"), FIRST, LAST)
    page = store.list_for_key("k1", 2)
    assert [g.id for g in page] == ["j3", "j2"]
    last = page[-1]
    rest = store.list_for_key("k1", 10, before=(last.created_at, last.id))
    assert [g.id for g in rest] == ["j1", "j0"]
    assert [g.id for g in store.list_for_key("k2", 10)] == ["other"]
    oldest = store.list_for_key("k1", 2, oldest_first=True)
    assert [g.id for g in oldest] == ["j0", "j1"]
    after = store.list_for_key("k1", 10, before=(oldest[-1].created_at, oldest[-1].id),
                               oldest_first=True)
    assert [g.id for g in after] == ["j2", "j3"]


def test_uploads_expire_after_their_last_use(store: MemoryStore | SqlStore) -> None:
    from inbetween.jobs.models import Upload

    up = Upload("u1", "k1", "image/png", 123, 64, 48, created_at=10.0, last_used_at=10.0)
    store.add_upload(up)
    store.add_upload(Upload("u2", "k1", "image/jpeg", 9, 64, 64, 12.0, 12.0))
    assert store.get_upload("u1") == up
    assert store.get_upload("nope") is None
    store.touch_upload("u1", 20.0)
    assert [u.id for u in store.uploads_unused_since(15.0)] == ["u2"]
    store.delete_upload("u2")
    assert store.uploads_unused_since(15.0) == []
    assert store.get_upload("u1").last_used_at == 20.0  # type: ignore[union-attr]


def test_upstream_state_is_kept_under_the_lease(store: MemoryStore | SqlStore) -> None:
    store.create(_job("a", 1.0), FIRST, LAST)
    store.claim("w1", LEASE, 2.0)
    handle = {"provider": "fal", "handle": {"request_id": "r1"}, "attempts": []}
    assert store.set_upstream("a", "w1", handle, 3.0)
    assert not store.set_upstream("a", "intruder", {"provider": "x"}, 3.0)
    job = store.get("a")
    assert job is not None and job.upstream == handle and job.revision == 2
    store.release("a", "w1", 4.0)
    again = store.claim("w2", LEASE, 5.0)
    assert again is not None and again.upstream == handle  # survives a re-claim


HOOK = {"webhook_url": "https://example.com/h",
        "webhook_events": ("started", "progress", "completed", "error"),
        "base_url": "http://api.example"}


def test_the_outbox_is_written_with_the_status_changes(store: MemoryStore | SqlStore) -> None:
    store.create(_job("w", 1.0, **HOOK), FIRST, LAST)
    store.create(_job("quiet", 2.0), FIRST, LAST)  # no webhook: nothing to send
    assert store.claim("w1", 1.0, now=10.0) is not None
    assert [d.type for d in store.deliveries("w")] == ["generation.started"]
    store.renew("w", "w1", 1.0, 10.2, progress=20)
    store.renew("w", "w1", 1.0, 10.5, progress=30)  # within a second of the last: not sent
    store.renew("w", "w1", 1.0, 10.6, stage=Stage.RENDERING)  # not a progress change
    assert [d.type for d in store.deliveries("w")] == ["generation.started",
                                                       "generation.progress"]
    assert store.reap(now=20.0, max_attempts=3).requeued == ("w",)
    assert store.claim("w2", LEASE, now=21.0, generation_id="w") is not None
    store.renew("w", "w2", LEASE, 21.5, progress=50)
    assert store.finish("w", "w2", Outcome(Status.COMPLETED, video_token="tok"), 22.0)
    types = [d.type for d in store.deliveries("w")]
    assert types == ["generation.started", "generation.progress", "generation.progress",
                     "generation.completed"]  # started once, although it ran twice
    done = store.deliveries("w")[-1]
    assert done.url == "https://example.com/h" and done.status == "pending"
    assert '"url":"http://api.example/files/tok.mp4"' in done.body
    assert store.claim("w3", LEASE, now=23.0) is not None  # "quiet"
    assert store.deliveries("quiet") == []


def test_each_delivery_attempt_is_claimed_by_one_sender(store: MemoryStore | SqlStore) -> None:
    for i in range(12):
        store.create(_job(f"d{i:02d}", float(i), webhook_url="https://example.com/h",
                          webhook_events=("started",)), FIRST, LAST)
        assert store.claim("w", LEASE, now=50.0) is not None
    got: dict[str, list[str]] = {}

    def take(owner: str) -> None:
        got[owner] = [d.id for d in store.claim_deliveries(owner, 60.0, hold=30.0, limit=5)]
        got[owner] += [d.id for d in store.claim_deliveries(owner, 60.0, hold=30.0, limit=5)]

    threads = [threading.Thread(target=take, args=(f"s{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [d for ids in got.values() for d in ids]
    assert len(taken) == len(set(taken)) == 12
    first_owner, first_ids = next((o, ids) for o, ids in got.items() if ids)
    one = first_ids[0]
    other = "nobody"
    assert not store.record_attempt(one, other, 61.0, result="delivered", status_code=200,
                                    error=None, next_attempt_at=None)
    assert store.record_attempt(one, first_owner, 61.0, result="retry", status_code=500,
                                error="HTTP 500", next_attempt_at=70.0)
    assert store.claim_deliveries("late", 65.0, hold=30.0) == []  # not due, or held
    again = store.claim_deliveries("late", 70.0, hold=30.0)
    assert [d.id for d in again] == [one] and again[0].attempts == 1
    assert store.record_attempt(one, "late", 71.0, result="failed", status_code=410,
                                error="gone", next_attempt_at=None)
    assert store.get_delivery(one).status == "failed"  # type: ignore[union-attr]
    retried = store.retry_delivery(one, 80.0)
    assert retried is not None and (retried.status, retried.next_attempt_at) == (
        "pending", 80.0)
    assert store.record_attempt(one, "late", 81.0, result="delivered", status_code=200,
                                error=None, next_attempt_at=None) is False  # not claimed
    # the others are still held by their senders: only this one is claimed again
    assert [d.id for d in store.claim_deliveries("late", 90.0, hold=5.0)] == [one]
    store.record_attempt(one, "late", 91.0, result="delivered", status_code=200,
                         error=None, next_attempt_at=None)
    assert store.prune_deliveries(cutoff=92.0) == 1  # only what ended before the cutoff
    assert store.get_delivery(one) is None
    assert sum(store.get_delivery(d) is not None for d in taken) == 11  # pending ones stay
    rows = {(name, labels): value for name, labels, value in store.counters()}
    assert rows[("webhook_deliveries_total", '{"result": "retry"}')] == 1.0
    assert rows[("webhook_deliveries_total", '{"result": "failed"}')] == 1.0


def test_signing_secrets_are_made_once_and_rotate(store: MemoryStore | SqlStore) -> None:
    made = store.webhook_secret("k1", 1.0, "whsec_a")
    assert (made.secret, store.webhook_secret("k1", 2.0, "whsec_b").secret) == (
        "whsec_a", "whsec_a")
    rotated = store.rotate_webhook_secret("k1", "whsec_c", 10.0, overlap=100.0)
    assert (rotated.secret, rotated.previous, rotated.previous_until) == (
        "whsec_c", "whsec_a", 110.0)
    assert rotated.signing(50.0) == ("whsec_c", "whsec_a") and rotated.signing(111.0) == (
        "whsec_c",)


def test_budgets_reserve_the_worst_case_and_never_overspend(
    store: MemoryStore | SqlStore,
) -> None:
    from inbetween.errors import BudgetExceeded

    store.add_key(ApiKey("k2", "capped", "c" * 64, 1.0))
    assert store.set_budget("capped", 10.0, "total") == 1
    accepted: list[str] = []
    refused: list[str] = []

    def submit(i: int) -> None:
        try:
            store.create(_job(f"b{i:02d}", 100.0 + i, key_id="k2", reserved_usd=3.0),
                         FIRST, LAST)
            accepted.append(f"b{i:02d}")
        except BudgetExceeded as e:
            refused.append(e.message)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(accepted) == 3 and len(refused) == 9  # 3 × $3 fit in $10
    assert "$1.00 is left" in refused[0] and "does not reset" in refused[0]
    # an error refunds its reservation; a completion settles it at what was charged
    first, second = sorted(accepted)[:2]
    store.claim("w", LEASE, 200.0, generation_id=first)
    store.finish(first, "w", Outcome(Status.ERROR, error_name="EngineError"), 201.0)
    store.claim("w", LEASE, 200.0, generation_id=second)
    store.finish(second, "w", Outcome(Status.COMPLETED, video_token="t", credits_used=1.5),
                 201.0)
    store.create(_job("fits", 300.0, key_id="k2", reserved_usd=4.5), FIRST, LAST)  # 3+1.5+4.5
    with pytest.raises(BudgetExceeded):
        store.create(_job("over", 301.0, key_id="k2", reserved_usd=1.01), FIRST, LAST)
    assert store.set_budget("capped", None, None) == 1  # removed: anything goes
    store.create(_job("free", 302.0, key_id="k2", reserved_usd=100.0), FIRST, LAST)
    store.create(_job("other key", 303.0, reserved_usd=100.0), FIRST, LAST)  # k1: no budget
