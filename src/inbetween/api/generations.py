"""The hosted API's dialect: `POST`, `GET` and `DELETE /v2/video/generations`, plus our
additions: `Prefer: wait=N`, `…/generations/list` and `…/generations/events` (SSE)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import re
import time

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from inbetween.api.auth import require_key
from inbetween.api.errors import ERROR_RESPONSES
from inbetween.api.schemas import (
    GenerationCreate,
    GenerationCreated,
    GenerationList,
    GenerationOut,
    to_list_item,
    to_out,
)
from inbetween.api.state import Services, services
from inbetween.engines.registry import route
from inbetween.errors import ImageFetchError, InvalidImage, InvalidRequest
from inbetween.jobs.models import (
    DEFAULT_WEBHOOK_EVENTS,
    WEBHOOK_EVENTS,
    Generation,
    ImageInput,
)
from inbetween.jobs.service import (
    cancel_upstream,
    delete,
    get_for_key,
    queue_position_of,
    submit,
)
from inbetween.jobs.uploads import resolve_upload, upload_id_of
from inbetween.media.fetch import pinned
from inbetween.media.images import parse_image_field
from inbetween.store.base import ApiKey
from inbetween.upstream.prices import worst_case_usd

__all__ = ["router"]

router = APIRouter(prefix="/v2/video", tags=["generations"])


_PREFER_WAIT = re.compile(r"^\s*wait\s*=\s*(\d{1,2})\s*$", re.I)
MAX_WAIT_SECONDS = 60
_CANCEL_AFTER = re.compile(r"^(?:(\d{1,5})h)?(?:(\d{1,7})m)?(?:(\d{1,9})s)?$")
MAX_CANCEL_AFTER = 24 * 3600


@router.post(
    "/generations",
    response_model=GenerationCreated | GenerationOut,
    responses={k: ERROR_RESPONSES[k] for k in (400, 401, 402, 409, 413, 429, 503)},
    summary="Submit a generation",
)
async def create_generation(
    body: GenerationCreate,
    request: Request,
    response: Response,
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", max_length=200,
        description="Retries with the same key and the same request return the same "
        "generation; the same key with a different request answers 409."),
    prefer: str | None = Header(
        None, alias="Prefer", max_length=100,
        description="`wait=N` (N = 1–60): hold the answer until the generation ends or N "
        "seconds pass, then answer with the GET body and `Preference-Applied: wait=N`. "
        "Disconnecting never cancels the generation."),
    cancel_after: str | None = Header(
        None, alias="Cancel-After", max_length=40,
        description="A deadline: `90s`, `5m`, `1h30m` (at most 24h). A generation not "
        "finished by then ends with status `error`, `error.name` `DeadlineExceeded`: its "
        "work is stopped (an upstream job cancelled where the provider can) and nothing is "
        "charged."),
) -> GenerationCreated | GenerationOut:
    """Queue a first-and-last-frame generation and answer at once with its id.

    Base64 images are decoded and checked now; URL images are fetched by the worker;
    `…/v2/uploads/{id}` URLs name this key's uploads and are never fetched.
    """
    wait = _prefer_wait(prefer)
    deadline_in = cancel_after_seconds(cancel_after)
    generation = await run_in_threadpool(submit_body, body, key, svc, idempotency_key,
                                         deadline_in, str(request.base_url).rstrip("/"))
    if wait is None:
        return GenerationCreated(id=generation.id, status=generation.status.value)
    deadline = time.monotonic() + wait
    while not generation.finished and time.monotonic() < deadline:
        await asyncio.sleep(min(svc.settings.events_poll_seconds,
                                max(0.0, deadline - time.monotonic())))
        current = await run_in_threadpool(svc.store.get, generation.id)
        if current is None:  # deleted meanwhile
            break
        generation = current
    response.headers["Preference-Applied"] = f"wait={wait}"
    return await run_in_threadpool(generation_out, generation, request, svc)


def _prefer_wait(prefer: str | None) -> int | None:
    if prefer is None:
        return None
    match = _PREFER_WAIT.match(prefer)
    seconds = int(match.group(1)) if match else 0
    if not 1 <= seconds <= MAX_WAIT_SECONDS:
        raise InvalidRequest(
            f"Prefer: must be `wait=N` with N a whole number of seconds from 1 to "
            f"{MAX_WAIT_SECONDS}, not {prefer[:40]!r}", field="Prefer")
    return seconds


def cancel_after_seconds(value: str | None) -> float | None:
    """Seconds of a ``Cancel-After`` header (``90s``, ``5m``, ``1h30m``), or None."""
    if value is None:
        return None
    match = _CANCEL_AFTER.match(value.strip())
    seconds = 0
    if match:
        hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not 0 < seconds <= MAX_CANCEL_AFTER:
        raise InvalidRequest(
            f"Cancel-After: must be a duration such as `90s`, `5m` or `1h30m` (hours, minutes, "
            f"seconds, in that order), more than 0 and at most 24h, not {value[:40]!r}",
            field="Cancel-After", allowed=["90s", "5m", "1h30m", "24h"])
    return float(seconds)


def submit_body(body: GenerationCreate, key: ApiKey, svc: Services,
            idempotency_key: str | None, deadline_in: float | None = None,
            base_url: str | None = None) -> Generation:
    svc.limiter.check(key.id, "submit")
    request = body.to_domain()
    route(request, svc.settings)  # refuse an unroutable request before decoding
    webhook = _webhook(body, svc)
    first = _image(body.image_url, "image_url", svc, key)
    last = _image(body.last_image_url, "last_image_url", svc, key)
    generation = submit(svc.store, request, first, last, key_id=key.id,
                        max_unfinished=svc.settings.max_unfinished_per_key,
                        idempotency_key=idempotency_key, deadline_in=deadline_in,
                        webhook=webhook, base_url=base_url,
                        reserved_usd=worst_case_usd(request, svc.settings, svc.providers))
    svc.dispatch(generation.id)
    return generation


@router.get(
    "/generations/list",
    response_model=GenerationList,
    responses={k: ERROR_RESPONSES[k] for k in (400, 401, 429)},
    summary="List this key's generations",
)
def list_generations(
    request: Request,
    limit: int = Query(20, ge=1, le=100, description="Page size, 1–100."),
    after: str | None = Query(None, max_length=200,
                              description="`next_cursor` of the previous page."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> GenerationList:
    """The key's generations, newest first, each with its request's main options."""
    svc.limiter.check(key.id, "poll")
    page = svc.store.list_for_key(key.id, limit + 1,
                                  before=None if after is None else _decode_cursor(after))
    more = len(page) > limit
    page = page[:limit]
    data = [to_list_item(g, generation_out(g, request, svc)) for g in page]
    cursor = _encode_cursor(page[-1]) if more and page else None
    return GenerationList(data=data, next_cursor=cursor)


def _encode_cursor(g: Generation) -> str:
    return base64.urlsafe_b64encode(f"{g.created_at!r}|{g.id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, gid = text.split("|", 1)
        value = float(created)
        if not gid or value != value:  # NaN
            raise ValueError(text)
        return value, gid
    except (binascii.Error, UnicodeDecodeError, ValueError) as e:
        raise InvalidRequest("after: not a cursor this server gave; pass the `next_cursor` "
                             "of the previous page, or leave it out for the first page",
                             field="after") from e


@router.get(
    "/generations",
    response_model=GenerationOut,
    responses={k: ERROR_RESPONSES[k] for k in (400, 401, 404, 429)},
    summary="Poll a generation",
)
def get_generation(
    request: Request,
    generation_id: str = Query(description="The id returned by POST."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> GenerationOut:
    """Status, progress, and once completed the video's URL (or the error)."""
    svc.limiter.check(key.id, "poll")
    generation = get_for_key(svc.store, generation_id.strip(), key.id)
    return generation_out(generation, request, svc)


@router.delete(
    "/generations",
    response_model=GenerationOut,
    responses={k: ERROR_RESPONSES[k] for k in (400, 401, 404, 429)},
    summary="Cancel and delete a generation",
)
def delete_generation(
    request: Request,
    generation_id: str = Query(description="The id returned by POST."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> GenerationOut:
    """Stop the generation if it is queued or generating, and delete it and its video.

    Answers with the generation as it was; afterwards GET and the video URL answer 404.
    """
    svc.limiter.check(key.id, "poll")
    generation = get_for_key(svc.store, generation_id.strip(), key.id)
    notes = cancel_upstream(svc.providers, generation)
    delete(svc.store, svc.artifacts, generation)
    return generation_out(dataclasses.replace(generation, warnings=generation.warnings + notes),
                          request, svc)


def generation_out(generation: Generation, request: Request, svc: Services) -> GenerationOut:
    base = svc.settings.public_url or str(request.base_url)
    sign = svc.signer.sign if svc.signer is not None else None
    return to_out(generation, base.rstrip("/"), sign, queue_position_of(svc.store, generation))


def _webhook(body: GenerationCreate, svc: Services) -> tuple[str, tuple[str, ...]] | None:
    """The request's webhook (URL, events), its URL checked against the outbound policy."""
    if body.webhook_url is None:
        if body.webhook_events is not None:
            raise InvalidRequest("webhook_events: needs webhook_url, the URL to send them to",
                                 field="webhook_events")
        return None
    try:
        pinned(body.webhook_url, "webhook_url", svc.fetch_policy, purpose="sends webhooks to")
    except ImageFetchError as e:
        raise InvalidRequest(e.message, field="webhook_url") from e
    events: list[str] = list(body.webhook_events or DEFAULT_WEBHOOK_EVENTS)
    return body.webhook_url, tuple(e for e in WEBHOOK_EVENTS if e in events)


def _image(value: str, field: str, svc: Services, key: ApiKey) -> ImageInput:
    upload_id = upload_id_of(value)
    if upload_id is not None:
        return resolve_upload(svc.store, svc.artifacts, upload_id, key.id, field, time.time())
    try:
        return parse_image_field(value, field, svc.settings.max_pixels)
    except InvalidImage as e:
        raise InvalidRequest(e.message, field=field) from e
