"""`GET /v2/video/generations/events`: a generation's live events as Server-Sent Events.

Everything comes from the job store (status, stage, progress, queue order, log lines), read
every ``INBETWEEN_EVENTS_POLL_SECONDS``, so the stream works whichever process or machine
runs the job. Event ids are the generation's revision, a per-generation sequence number
that every visible change bumps; a client reconnecting with ``Last-Event-ID`` gets a fresh
``status`` snapshot and only the log lines after that id.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from inbetween.api.auth import require_key
from inbetween.api.errors import ERROR_RESPONSES
from inbetween.api.generations import generation_out
from inbetween.api.schemas import iso_time
from inbetween.api.state import Services, services
from inbetween.jobs.models import Generation
from inbetween.jobs.service import get_for_key, queue_position_of
from inbetween.store.base import ApiKey

__all__ = ["router"]

router = APIRouter(prefix="/v2/video", tags=["generations"])

_STREAM_DOC = """Server-Sent Events, each with an `id:` (the generation's revision) and one of:

- `status` — first, on connect: `{"status", "stage", "progress", "queue_position"}`;
- `progress` — the same shape, on every change of stage, progress or queue position;
- `log` — `{"time", "level", "message"}`, a line of the generation's log;
- `end` — the full GET body, after which the stream closes.

`stage` is one of `queued`, `fetching`, `analysing`, `rendering`, `encoding`, `audio`,
`storing` (null once finished). A `: ping` comment is sent every
`INBETWEEN_EVENTS_PING_SECONDS` (15 s). A client connecting after the end gets `status` then
`end` at once. If the generation is deleted while streaming, `end` carries its last state
with `"deleted": true`."""


class _Stream(EventSourceResponse):
    """An EventSourceResponse that gives its key's stream slot back however it ends."""

    def __init__(self, content: AsyncIterator[ServerSentEvent], svc: Services,
                 key_id: str) -> None:
        super().__init__(content, ping=svc.settings.events_ping_seconds,
                         ping_message_factory=lambda: ServerSentEvent(comment="ping"),
                         headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self._slots, self._key_id = svc.streams, key_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slots.release(self._key_id)


@router.get(
    "/generations/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
              "description": _STREAM_DOC},
        **{k: ERROR_RESPONSES[k] for k in (400, 401, 404, 429)},
    },
    summary="Follow a generation live (Server-Sent Events)",
)
async def generation_events(
    request: Request,
    generation_id: str = Query(description="The id returned by POST."),
    last_event_id: str | None = Header(
        None, alias="Last-Event-ID", max_length=20,
        description="The last event id seen, when reconnecting: log lines up to it are "
        "not sent again."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> EventSourceResponse:
    """Status, progress and log lines as they happen, then the final GET body."""
    svc.limiter.check(key.id, "poll")
    generation = await run_in_threadpool(get_for_key, svc.store, generation_id.strip(), key.id)
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
    svc.streams.acquire(key.id)
    return _Stream(_events(generation, after, request, svc), svc, key.id)


async def _events(generation: Generation, after: int, request: Request,
                  svc: Services) -> AsyncIterator[ServerSentEvent]:
    store = svc.store
    g = generation
    snapshot = await run_in_threadpool(_snapshot, g, svc)
    yield _event("status", g.revision, snapshot)
    if not g.finished:
        async for log_event in _logs(g, after, svc):
            after = int(log_event.id or after)
            yield log_event
    while not g.finished:
        await asyncio.sleep(svc.settings.events_poll_seconds)
        current = await run_in_threadpool(store.get, g.id)
        if current is None:  # deleted while we watched
            body = await run_in_threadpool(generation_out, g, request, svc)
            yield _event("end", g.revision, {**body.model_dump(mode="json"), "deleted": True})
            return
        g = current
        async for log_event in _logs(g, after, svc):
            after = int(log_event.id or after)
            yield log_event
        now = await run_in_threadpool(_snapshot, g, svc)
        if now != snapshot and not g.finished:
            snapshot = now
            yield _event("progress", g.revision, snapshot)
    body = await run_in_threadpool(generation_out, g, request, svc)
    yield _event("end", g.revision, body.model_dump(mode="json"))


async def _logs(g: Generation, after: int, svc: Services) -> AsyncIterator[ServerSentEvent]:
    """Log lines after ``after`` up to ``g``'s revision: a line written since ``g`` was read
    (each bumps the revision) waits for the next read, so ids only ever increase."""
    for entry in await run_in_threadpool(svc.store.logs, g.id, after):
        if entry.revision > g.revision:
            break
        yield _event("log", entry.revision, {"time": iso_time(entry.time),
                                             "level": entry.level, "message": entry.message})


def _snapshot(g: Generation, svc: Services) -> dict[str, Any]:
    return {"status": g.status.value, "stage": None if g.finished else g.stage.value,
            "progress": g.progress, "queue_position": queue_position_of(svc.store, g)}


def _event(name: str, revision: int, data: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(data, separators=(",", ":")), event=name,
                           id=str(revision))
