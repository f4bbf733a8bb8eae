"""The OpenAI-style Videos API (`/v1/videos`), beside the hosted API's v2, over the same jobs.

What the official `openai` SDK's `client.videos.*` sends and expects: `POST /v1/videos` as
`multipart/form-data` (the first frame as the file part `input_reference`, `extra_body` keys
as text parts, a nested dict as `input_reference[image_url]`) or JSON
(`{"input_reference": {"image_url": …}}`); the video object; OpenAI's list envelope; its
deleted shape; `…/content?variant=`. The last frame is `last_frame`, in the same forms. A
request is turned into the v2 request and submitted by the same code (rate limits,
idempotency, budgets, deadlines, webhooks, routing), so a generation made here is visible
through `/v2` with the same id, and the reverse.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
from pathlib import Path as FilePath
from typing import Any, Literal

import av
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from inbetween.api.auth import require_key
from inbetween.api.errors import OPENAI_ERROR_RESPONSES, describe_validation_error
from inbetween.api.files import artifact_response
from inbetween.api.generations import cancel_after_seconds, submit_body
from inbetween.api.schemas import ALLOWED_VALUES, GenerationCreate
from inbetween.api.state import Services, services
from inbetween.engines.registry import KEYFRAME, route
from inbetween.errors import InvalidRequest, NotFound
from inbetween.jobs.models import Generation, Status
from inbetween.jobs.service import cancel_upstream, delete, get_for_key
from inbetween.media.preview import sprite_sheet
from inbetween.settings import Settings
from inbetween.storage.base import CONTENT_TYPES
from inbetween.store.base import ApiKey

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["openai"])

DEFAULT_MODEL = "google/veo-3.1-first-last-image-to-video"
SECONDS = ("4", "6", "8")
SIZES = {"1280x720": ("720p", "16:9"), "720x1280": ("720p", "9:16"),
         "1920x1080": ("1080p", "16:9"), "1080x1920": ("1080p", "9:16")}
VideoStatus = Literal["queued", "in_progress", "completed", "failed"]
_STATUS: dict[Status, VideoStatus] = {Status.QUEUED: "queued", Status.GENERATING: "in_progress",
           Status.COMPLETED: "completed", Status.ERROR: "failed"}
_FIELDS = {"prompt", "model", "seconds", "size", "input_reference", "last_frame",
           "generate_audio", "negative_prompt", "seed", "provider", "webhook_url",
           "webhook_events"}
# v2 field → the /v1 field a client sent
_V1_NAMES = {"image_url": "input_reference", "last_image_url": "last_frame",
             "duration": "seconds", "resolution": "size", "aspect_ratio": "size"}
_FRAMES = {"input_reference": "the first frame", "last_frame": "the last frame"}
_IMAGE_FORMS = ("an image file part, an http(s) URL, a data URL or Base64, or (JSON) "
                '{"image_url": "…"}')


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {k: OPENAI_ERROR_RESPONSES[k] for k in codes}


class VideoError(BaseModel):
    code: str = Field(description="Our error name, e.g. ImageFetchError, DeadlineExceeded.")
    message: str


class Video(BaseModel):
    """The video object, as the `openai` SDK models it."""

    id: str
    object: Literal["video"] = "video"
    created_at: int
    completed_at: int | None
    expires_at: int | None = Field(description="When retention deletes it "
                                   "(INBETWEEN_RETENTION_DAYS); null: never.")
    model: str
    progress: int
    prompt: str | None
    seconds: str
    size: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    error: VideoError | None
    remixed_from_video_id: str | None = None


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: bool = True


def to_video(g: Generation, svc: Services) -> Video:
    request = g.request
    width, height = request.size
    retention = svc.settings.retention_days
    expires = None
    if retention is not None and g.finished_at is not None:
        expires = int(g.finished_at + retention * 86_400)
    error = None
    if g.status is Status.ERROR:
        error = VideoError(code=g.error_name or "EngineError",
                           message=g.error_message or "The generation failed.")
    return Video(
        id=g.id, created_at=int(g.created_at),
        completed_at=int(g.finished_at) if g.status is Status.COMPLETED and g.finished_at
        else None,
        expires_at=expires, model=request.model, progress=g.progress, prompt=request.prompt,
        seconds=str(request.duration), size=f"{width}x{height}", status=_STATUS[g.status],
        error=error)


def _routed_engine(g: Generation, settings: Settings) -> str | None:
    """The local engine that runs (or will run) ``g``, or None while an upstream provider
    has it or may get it. Decided by the route, not the model's name: with no provider
    configured a Google model name runs on ``INBETWEEN_LOCAL_ENGINE``."""
    provider = (g.upstream or {}).get("provider")
    if provider not in (None, "local"):  # submitted to (or being tried on) a provider
        return None
    try:
        chosen = route(g.request, settings)
    except InvalidRequest:  # the server's settings changed since: the worker will say so
        return None
    if provider is None and any(link != "local" for link in chosen.chain):
        return None
    return chosen.engine


def _poll_after(g: Generation, response: Response, settings: Settings) -> None:
    """Tell the SDK's polling helper how long to wait: the keyframe engine is done in
    seconds, a diffusion model or an upstream provider in minutes."""
    if not g.finished:
        fast = _routed_engine(g, settings) == KEYFRAME
        response.headers["openai-poll-after-ms"] = "500" if fast else "5000"


_CREATE_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["prompt"],
                                           "properties": {
            "prompt": {"type": "string"}, "model": {"type": "string"},
            "seconds": {"type": "string", "enum": list(SECONDS)},
            "size": {"type": "string", "enum": list(SIZES)},
            "input_reference": {"type": "string", "format": "binary",
                                "description": "The first frame: " + _IMAGE_FORMS},
            "input_reference[image_url]": {"type": "string"},
            "last_frame": {"type": "string", "format": "binary",
                           "description": "The last frame, as input_reference."},
            "last_frame[image_url]": {"type": "string"},
            "generate_audio": {"type": "string", "enum": ["true", "false", "1", "0"]},
            "negative_prompt": {"type": "string"}, "seed": {"type": "string"},
            "provider": {"type": "string"}, "webhook_url": {"type": "string"},
            "webhook_events": {"type": "string"}}}},
        "application/json": {"schema": {"type": "object", "required": ["prompt"],
                                        "properties": {
            "prompt": {"type": "string"}, "model": {"type": "string"},
            "seconds": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "size": {"type": "string", "enum": list(SIZES)},
            "input_reference": {"anyOf": [
                {"type": "string"}, {"type": "object", "properties": {
                    "image_url": {"type": "string"}}}]},
            "last_frame": {"anyOf": [
                {"type": "string"}, {"type": "object", "properties": {
                    "image_url": {"type": "string"}}}]},
            "generate_audio": {"type": "boolean"}, "negative_prompt": {"type": "string"},
            "seed": {"type": "integer"}, "provider": {"type": "string"},
            "webhook_url": {"type": "string"},
            "webhook_events": {"type": "array", "items": {"type": "string"}}}}},
    },
}


@router.post("/videos", response_model=Video,
             responses=_responses(400, 401, 402, 409, 413, 429, 503),
             openapi_extra={"requestBody": _CREATE_BODY}, summary="Create a video")
async def create_video(
    request: Request,
    response: Response,
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200,
                                         description="As on v2."),
    cancel_after: str | None = Header(None, alias="Cancel-After", max_length=40,
                                      description="As on v2: `90s`, `5m`, `1h30m`."),
) -> Video:
    """Queue a first-and-last-frame generation: `input_reference` is the first frame,
    `last_frame` the last one (both required)."""
    fields = await _fields(request)
    body = await run_in_threadpool(_to_v2, fields)
    deadline_in = cancel_after_seconds(cancel_after)
    base = str(request.base_url).rstrip("/")
    try:
        generation = await run_in_threadpool(submit_body, body, key, svc, idempotency_key,
                                             deadline_in, base)
    except InvalidRequest as e:
        raise _renamed(e) from e
    _poll_after(generation, response, svc.settings)
    return to_video(generation, svc)


async def _fields(request: Request) -> dict[str, Any]:
    """The request's fields, from a form or a JSON object (file parts read as bytes)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields: dict[str, Any] = {}
        async with request.form(max_files=4, max_fields=40) as form:  # closes its files
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    fields[name] = await value.read()
                elif name == "webhook_events":
                    fields.setdefault(name, []).extend(
                        v.strip() for v in value.split(",") if v.strip())
                else:
                    fields[name] = value
        return fields
    if kind in ("application/json", ""):
        try:
            data = json.loads(await request.body())
        except ValueError as e:
            raise InvalidRequest(f"the request body is not valid JSON ({e})") from e
        if not isinstance(data, dict):
            raise InvalidRequest("the request body must be a JSON object with at least "
                                 "prompt, input_reference and last_frame")
        return data
    raise InvalidRequest(f"Content-Type {kind!r} is not accepted; send multipart/form-data "
                         "(what the openai SDK sends) or application/json",
                         field="Content-Type",
                         allowed=["multipart/form-data", "application/json"])


def _to_v2(fields: dict[str, Any]) -> GenerationCreate:
    """The v2 request a /v1 request means; 400s name the /v1 field."""
    for name in ("input_reference", "last_frame"):
        nested = fields.pop(f"{name}[image_url]", None)
        if nested is not None and name not in fields:
            fields[name] = {"image_url": nested}
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown field {unknown[0]!r}", field=unknown[0],
                             allowed=sorted(_FIELDS))
    model = fields.get("model", DEFAULT_MODEL)
    if not isinstance(model, str) or model not in ALLOWED_VALUES["model"]:
        raise InvalidRequest(f"model: {model!r} is not a model of this server; use one of "
                             + ", ".join(map(str, ALLOWED_VALUES["model"])), field="model",
                             allowed=ALLOWED_VALUES["model"])
    seconds = fields.get("seconds", "8")
    if isinstance(seconds, bool) or str(seconds) not in SECONDS:
        raise InvalidRequest(f"seconds: {seconds!r} is not allowed; use one of 4, 6, 8",
                             field="seconds", allowed=list(SECONDS))
    size = fields.get("size", "1280x720")
    if not isinstance(size, str) or size not in SIZES:
        raise InvalidRequest(f"size: {size!r} is not allowed; use one of {', '.join(SIZES)}",
                             field="size", allowed=list(SIZES))
    resolution, aspect = SIZES[size]
    values: dict[str, Any] = {
        "model": model, "prompt": fields.get("prompt"), "duration": int(seconds),
        "resolution": resolution, "aspect_ratio": aspect,
        "image_url": _frame(fields, "input_reference"),
        "last_image_url": _frame(fields, "last_frame"),
    }
    if "prompt" not in fields:
        raise InvalidRequest("prompt is required", field="prompt")
    for name in ("negative_prompt", "provider", "webhook_url", "webhook_events"):
        if name in fields:
            values[name] = fields[name]
    if "generate_audio" in fields:
        values["generate_audio"] = _boolean(fields["generate_audio"], "generate_audio")
    if "seed" in fields:
        values["seed"] = _integer(fields["seed"], "seed")
    try:
        return GenerationCreate(**values)
    except ValidationError as e:
        raise _renamed(describe_validation_error(e.errors())) from None


def _frame(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if isinstance(value, dict) and set(value) == {"image_url"}:
        value = value["image_url"]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, str) and value.strip():
        return value
    what = "is required" if value is None else "is not an image"
    raise InvalidRequest(f"{name} ({_FRAMES[name]}) {what}: send {_IMAGE_FORMS}", field=name)


def _boolean(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "false", "0"):
        return value.strip().lower() in ("true", "1")
    raise InvalidRequest(f"{name}: {str(value)[:40]!r} is not a boolean; send true or false",
                         field=name, allowed=[True, False])


def _integer(value: Any, name: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    raise InvalidRequest(f"{name}: {str(value)[:40]!r} is not a whole number", field=name)


def _renamed(e: InvalidRequest) -> InvalidRequest:
    """``e`` with v2 field names turned into the /v1 ones the client sent."""
    field = _V1_NAMES.get(e.field or "", e.field)
    message = e.message
    if e.field and field and field != e.field and message.startswith(e.field):
        message = field + message[len(e.field):]
    return InvalidRequest(message, field=field, allowed=e.allowed)


@router.get("/videos", response_model=VideoList, responses=_responses(400, 401, 429),
            summary="List videos")
def list_videos(
    after: str | None = Query(None, max_length=100,
                              description="The id of the last video of the previous page."),
    limit: int = Query(20, ge=1, le=100, description="Page size, 1–100."),
    order: Literal["asc", "desc"] = Query("desc", description="By creation time."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> VideoList:
    """This key's videos, newest first (or oldest first with `order=asc`)."""
    svc.limiter.check(key.id, "poll")
    cursor = None
    if after is not None:
        found = svc.store.get(after)
        if found is None or found.key_id != key.id:
            raise InvalidRequest(f"after: no video with id {after!r} for this API key",
                                 field="after")
        cursor = (found.created_at, found.id)
    page = svc.store.list_for_key(key.id, limit + 1, before=cursor,
                                  oldest_first=order == "asc")
    data = [to_video(g, svc) for g in page[:limit]]
    return VideoList(data=data, first_id=data[0].id if data else None,
                     last_id=data[-1].id if data else None, has_more=len(page) > limit)


@router.get("/videos/{video_id}", response_model=Video,
            responses=_responses(400, 401, 404, 429), summary="Retrieve a video")
def retrieve_video(
    response: Response,
    video_id: str = Path(max_length=100),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> Video:
    """The video object; while it is unfinished `openai-poll-after-ms` says when to ask
    again."""
    svc.limiter.check(key.id, "poll")
    generation = get_for_key(svc.store, video_id.strip(), key.id)
    _poll_after(generation, response, svc.settings)
    return to_video(generation, svc)


@router.delete("/videos/{video_id}", response_model=VideoDeleted,
               responses=_responses(400, 401, 404, 429), summary="Delete a video")
def delete_video(
    video_id: str = Path(max_length=100),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> VideoDeleted:
    """Cancel it if it is queued or running (as DELETE on v2 does) and delete it."""
    svc.limiter.check(key.id, "poll")
    generation = get_for_key(svc.store, video_id.strip(), key.id)
    cancel_upstream(svc.providers, generation)
    delete(svc.store, svc.artifacts, generation)
    return VideoDeleted(id=generation.id)


@router.get("/videos/{video_id}/content", response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}, "image/jpeg": {}},
                             "description": "The MP4 (Range: 206), or a JPEG."},
                       206: {"content": {"video/mp4": {}}, "description": "Part of the MP4."},
                       302: {"description": "With S3 storage: to a presigned URL."},
                       **_responses(400, 401, 404, 429)},
            summary="Download a video, its thumbnail or a sprite sheet")
def download_content(
    video_id: str = Path(max_length=100),
    variant: Literal["video", "thumbnail", "spritesheet"] = Query(
        "video", description="video (MP4), thumbnail (JPEG) or spritesheet (a JPEG grid of "
        "ten evenly spaced frames)."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> Response:
    """The finished video's bytes; 404 until it has completed."""
    svc.limiter.check(key.id, "poll")
    generation = get_for_key(svc.store, video_id.strip(), key.id)
    token = generation.video_token
    if generation.status is not Status.COMPLETED or token is None:
        raise NotFound(f"video {generation.id} has no content yet: it is "
                       f"{_STATUS[generation.status]}; retrieve it until it is completed")
    name = {"video": f"{token}.mp4", "thumbnail": f"{token}.jpg",
            "spritesheet": f"{token}-sprite.jpg"}[variant]
    media_type = CONTENT_TYPES["mp4" if variant == "video" else "jpg"]
    found = artifact_response(svc.artifacts, name, media_type)
    if found is None and variant == "spritesheet":  # made the first time it is asked for
        _make_sprite_sheet(svc, token, name)
        found = artifact_response(svc.artifacts, name, media_type)
    if found is None:
        raise NotFound(f"video {generation.id}'s {variant} is gone")
    return found


def _make_sprite_sheet(svc: Services, token: str, name: str) -> None:
    """Make the sprite sheet from the stored MP4 and keep it beside the video."""
    svc.settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=svc.settings.tmp_dir) as tmp:
        video = svc.artifacts.local_path(f"{token}.mp4")
        if video is None:
            data = svc.artifacts.read(f"{token}.mp4")
            if data is None:
                raise NotFound("the video is gone")
            video = FilePath(tmp) / "video.mp4"
            video.write_bytes(data)
        sheet = FilePath(tmp) / f"sheet-{time.monotonic_ns()}.jpg"
        try:
            sprite_sheet(video, sheet)
        except (ValueError, av.error.FFmpegError) as e:
            raise NotFound(f"no sprite sheet can be made of this video: {e}") from e
        svc.artifacts.put(sheet, name)
