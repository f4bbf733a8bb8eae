"""Operations on generations that the API calls: submit and look up."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import secrets
import time
import uuid
from collections.abc import Mapping

from inbetween.errors import Conflict, NotFound, UpstreamFailure
from inbetween.jobs.models import (
    MAX_SEED,
    Generation,
    GenerationRequest,
    ImageInput,
    JobWarning,
    Stage,
    Status,
)
from inbetween.log import event
from inbetween.storage.base import ArtifactStore, delete_video
from inbetween.store.base import IdempotencyReplay, JobStore
from inbetween.upstream.providers import Provider

__all__ = ["MAX_SEED", "cancel_upstream", "delete", "delete_expired", "get_for_key",
           "queue_position_of", "request_hash", "submit"]

log = logging.getLogger("inbetween.jobs")



def submit(
    store: JobStore,
    request: GenerationRequest,
    first: ImageInput,
    last: ImageInput,
    *,
    key_id: str,
    now: float | None = None,
    max_unfinished: int | None = None,
    idempotency_key: str | None = None,
    deadline_in: float | None = None,
    webhook: tuple[str, tuple[str, ...]] | None = None,
    base_url: str | None = None,
    reserved_usd: float = 0.0,
) -> Generation:
    """Store the job as queued and return it (the caller routes it first, and dispatches).
    With ``deadline_in`` seconds (``Cancel-After``) it ends as DeadlineExceeded if not
    finished by then.

    With an ``idempotency_key``, a retry of the same request returns the generation made the
    first time; the same key for a different request raises Conflict. ``webhook`` = (URL,
    events) to announce status changes to, with links built on ``base_url``;
    ``reserved_usd``, the worst case, is held against the key's budget (BudgetExceeded when
    it does not fit) until the job ends.
    """
    created = time.time() if now is None else now
    generation = Generation(
        id=str(uuid.uuid4()),
        key_id=key_id,
        request=request,
        seed=request.seed if request.seed is not None else secrets.randbelow(MAX_SEED + 1),
        created_at=created,
        updated_at=created,
        idempotency_key=idempotency_key,
        request_hash=request_hash(request, first, last),
        deadline_at=None if deadline_in is None else created + deadline_in,
        webhook_url=webhook[0] if webhook else None,
        webhook_events=webhook[1] if webhook else (),
        base_url=base_url,
        reserved_usd=reserved_usd,
    )
    try:
        store.create(generation, first, last, max_unfinished)
    except IdempotencyReplay as replay:
        if replay.existing.request_hash != generation.request_hash:
            raise Conflict(
                f"Idempotency-Key {idempotency_key!r} was already used for a different "
                "request; use a new key for a new request") from None
        return replay.existing
    return generation


def request_hash(request: GenerationRequest, first: ImageInput, last: ImageInput) -> str:
    """A digest of everything that defines a request (images by URL or by content)."""
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(request), sort_keys=True).encode())
    for image in (first, last):
        digest.update(b"url:" + image.url.encode() if image.url is not None
                      else b"data:" + hashlib.sha256(image.data or b"").digest())
    return digest.hexdigest()


def delete(store: JobStore, artifacts: ArtifactStore, generation: Generation) -> None:
    """Delete a generation: its record (a worker running it loses its lease and stops, writing
    nothing) and its video."""
    store.delete(generation.id)
    if generation.video_token:
        delete_video(artifacts, generation.video_token)


def delete_expired(store: JobStore, artifacts: ArtifactStore, cutoff: float) -> int:
    """Delete finished generations that ended before ``cutoff``; how many."""
    expired = store.finished_before(cutoff)
    for generation in expired:
        delete(store, artifacts, generation)
    return len(expired)


def get_for_key(store: JobStore, generation_id: str, key_id: str) -> Generation:
    """The generation if it exists and belongs to ``key_id``; NotFound otherwise."""
    generation = store.get(generation_id)
    if generation is None or generation.key_id != key_id:
        raise NotFound(f"no generation with id {generation_id!r} for this API key")
    return generation


def queue_position_of(store: JobStore, generation: Generation) -> int | None:
    """1 + the jobs ahead in our queue; or, for a job waiting in an upstream provider's
    queue, the position the provider reports; else None."""
    if generation.status is Status.QUEUED:
        return store.queue_position(generation)
    upstream = generation.upstream or {}
    position = upstream.get("queue_position")
    if generation.status is Status.GENERATING and generation.stage is Stage.QUEUED and \
            isinstance(position, int):
        return position
    return None


def cancel_upstream(providers: Mapping[str, Provider], generation: Generation,
                    ) -> tuple[JobWarning, ...]:
    """Cancel a generation's upstream job where its provider can; else say it may still
    complete (and be billed) there."""
    upstream = generation.upstream or {}
    if generation.finished or upstream.get("phase") not in ("submitting", "submitted"):
        return ()
    name = str(upstream.get("provider"))
    provider = providers.get(name)
    handle = upstream.get("handle")
    cancelled = False
    if provider is not None and isinstance(handle, dict):
        try:
            cancelled = provider.cancel({str(k): str(v) for k, v in handle.items()})
        except UpstreamFailure as e:
            event(log, "upstream.cancel_failed", level=logging.WARNING, job=generation.id,
                  provider=name, error=e.message)
    if cancelled:
        event(log, "upstream.cancelled", job=generation.id, provider=name)
        return ()
    event(log, "upstream.not_cancelled", level=logging.WARNING, job=generation.id,
          provider=name, why="the provider cannot cancel; the job may still complete and "
          "be billed there")
    return (JobWarning("upstream_not_cancelled", f"{name} cannot cancel a job it has "
                       "started: inbetween stopped following it and deleted what it had, but "
                       "the upstream job may still complete there and be billed."),)
