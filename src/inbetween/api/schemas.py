"""HTTP schemas (Pydantic, at the edge only) and their mapping to the domain dataclasses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inbetween.jobs.models import MAX_SEED, Generation, GenerationRequest
from inbetween.jobs.view import generation_view, iso_time

__all__ = [
    "ALLOWED_VALUES",
    "ErrorBody",
    "ErrorEnvelope",
    "GenerationCreate",
    "GenerationCreated",
    "GenerationList",
    "GenerationListItem",
    "GenerationOut",
    "OpenAIErrorEnvelope",
    "RequestSummary",
    "UploadOut",
    "iso_time",
    "to_list_item",
    "to_out",
]

ModelName = Literal[
    "google/veo-3.1-first-last-image-to-video",
    "google/veo-3.1-first-last-image-to-video-fast",
    "inbetween/keyframe",
    "inbetween/wan-flf2v",
    "inbetween/ltx2",
    "inbetween/wan2.2-flf2v",
]
StatusName = Literal["queued", "generating", "completed", "error"]

ALLOWED_VALUES: dict[str, list[object]] = {
    "model": [
        "google/veo-3.1-first-last-image-to-video",
        "google/veo-3.1-first-last-image-to-video-fast",
        "inbetween/keyframe",
        "inbetween/wan-flf2v",
        "inbetween/ltx2",
        "inbetween/wan2.2-flf2v",
    ],
    "aspect_ratio": ["16:9", "9:16"],
    "duration": [4, 6, 8],
    "resolution": ["720p", "1080p"],
    "generate_audio": [True, False],
    "webhook_events": ["started", "progress", "completed", "error"],
}

_IMAGE_HELP = (
    "An http(s) URL of a JPEG, PNG or WebP image (fetched by the server), a "
    "`data:image/...;base64,` URL, or bare Base64 image data. At least 64×64 px."
)


class GenerationCreate(BaseModel):
    """Body of `POST /v2/video/generations` (the hosted API's fields, plus a few of ours)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: ModelName = Field(description="Model to run. The Google names run on the local engine "
                             "unless a provider for them is configured.")
    prompt: str = Field(min_length=1, max_length=4000,
                        description="What happens between the two frames (1–4000 characters).")
    image_url: str = Field(description="First frame. " + _IMAGE_HELP)
    last_image_url: str = Field(description="Last frame. " + _IMAGE_HELP)
    aspect_ratio: Literal["16:9", "9:16"] = "16:9"
    duration: Literal[4, 6, 8] = Field(8, description="Length of the video in seconds.")
    resolution: Literal["720p", "1080p"] = "1080p"
    generate_audio: bool = True
    provider: str = Field("auto", description="Routing: `auto` or `local` (case-insensitive).",
                          max_length=40)
    negative_prompt: str | None = Field(None, max_length=4000,
                                        description="What to avoid (engines that support it).")
    seed: int | None = Field(None, ge=0, le=MAX_SEED,
                             description="Seed for reproducible output; random when omitted.")
    webhook_url: str | None = Field(
        None, max_length=2000, description="Our addition: an http(s) URL that is sent a "
        "signed POST (Standard Webhooks) when the generation's status changes; see "
        "`GET /v2/webhooks/secret`. It must resolve to a public address.")
    webhook_events: list[Literal["started", "progress", "completed", "error"]] | None = Field(
        None, min_length=1, max_length=4, description="Which changes to send to webhook_url: "
        "any of started, progress (at most one a second), completed, error; default "
        "completed and error.")

    @field_validator("webhook_url")
    @classmethod
    def _webhook_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must contain text, not only whitespace")
        return value

    def to_domain(self) -> GenerationRequest:
        return GenerationRequest(
            model=self.model,
            prompt=self.prompt,
            aspect_ratio=self.aspect_ratio,
            duration=self.duration,
            resolution=self.resolution,
            generate_audio=self.generate_audio,
            provider=self.provider.strip().lower(),
            negative_prompt=self.negative_prompt,
            seed=self.seed,
        )


class GenerationCreated(BaseModel):
    id: str = Field(description="Generation id to poll with.")
    status: StatusName


class VideoOut(BaseModel):
    url: str = Field(description="Never-expiring URL of the MP4; no API key needed.")
    thumbnail_url: str | None = Field(
        None, description="A representative frame (JPEG, ≤ 640 px on its long side).")
    preview_url: str | None = Field(
        None, description="An animated WebP of the clip, ≤ 480 px on its long side, ≤ 2 MB.")


class JobErrorOut(BaseModel):
    name: str = Field(description="Error class, e.g. ImageFetchError, InvalidImage, EngineError.")
    message: str


class WarningOut(BaseModel):
    code: str
    message: str


class UsageOut(BaseModel):
    credits_used: float = Field(description="What the generation cost (the hosted API's field).")
    seconds: float = Field(description="Video seconds charged: the duration of a delivered "
                           "video, 0 when the generation ended in error (never charged).")
    cost_usd: float = Field(description="The same as credits_used, in USD: the upstream's "
                            "list price per second for what was made, or the local engine's "
                            "configured price (0 by default).")


class AttemptOut(BaseModel):
    provider: str | None
    model: str | None
    outcome: str = Field(description="completed, skipped, started (local), or the error name.")
    reason: str | None
    http_status: int | None


class MetaOut(BaseModel):
    usage: UsageOut | None = Field(description="Set once the generation has finished.")
    engine: str | None = Field(description="Engine that made the video (once finished).")
    seed: int | None = Field(description="Seed used: the request's, or a random one; null "
                             "when the provider that made the video takes no seed.")
    warnings: list[WarningOut]
    queue_position: int | None = Field(
        None, description="While queued: 1 + the generations ahead of it (FIFO); else null.")
    details: dict[str, Any] | None = Field(
        description="How the engine made the video (engine-specific; our addition), e.g. the "
        "keyframe engine's match_confidence, transition, timing and applied prompt cues.")
    provider: str | None = Field(
        None, description="The route: `local`, or the upstream provider (google, fal, aimlapi) "
        "running or that ran the generation; null while not yet routed.")
    attempts: list[AttemptOut] = Field(
        default_factory=list, description="Upstream providers tried, in order, with how each "
        "attempt ended (empty for local runs).")


class GenerationOut(BaseModel):
    """Body of `GET /v2/video/generations`: every key is always present."""

    id: str
    status: StatusName = Field(description="queued → generating → completed | error.")
    progress: int = Field(ge=0, le=100, description="Percent done (our addition).")
    video: VideoOut | None
    error: JobErrorOut | None
    meta: MetaOut | None


class RequestSummary(BaseModel):
    prompt: str
    aspect_ratio: str
    resolution: str
    duration: int
    generate_audio: bool
    seed: int | None = Field(description="The seed the request gave (null: random).")


class GenerationListItem(GenerationOut):
    created_at: str = Field(description="When it was submitted (ISO 8601, UTC).")
    request: RequestSummary


class GenerationList(BaseModel):
    """Body of `GET /v2/video/generations/list`: the key's generations, newest first."""

    data: list[GenerationListItem]
    next_cursor: str | None = Field(
        description="Pass as `after` for the next page; null on the last page.")


class UploadOut(BaseModel):
    id: str
    url: str = Field(description="Use as `image_url` or `last_image_url` (same API key).")


class ErrorBody(BaseModel):
    name: str = Field(description="InvalidRequest, Unauthorized, NotFound, …")
    message: str = Field(description="What is wrong and how to fix it.")
    field: str | None = Field(None, description="The request field at fault (400 only).")
    allowed: list[object] | None = Field(None, description="Allowed values of that field.")


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class OpenAIErrorBody(BaseModel):
    """OpenAI's error fields, with ours beside them (``param`` = ``field``)."""

    message: str
    type: str = Field(description="invalid_request_error, authentication_error, "
                      "insufficient_quota, permission_error, rate_limit_error, server_error.")
    param: str | None = Field(description="The request field at fault, or null.")
    code: str | None = Field(description="Our error name in snake case, e.g. invalid_request.")
    name: str = Field(description="Our error name: InvalidRequest, NotFound, …")
    field: str | None = Field(description="The same as param.")
    allowed: list[object] | None = Field(None, description="Allowed values of that field.")


class OpenAIErrorEnvelope(BaseModel):
    """Errors on the `/v1` routes."""

    error: OpenAIErrorBody


def to_out(generation: Generation, base_url: str,
           sign: Callable[[str], str] | None = None,
           queue_position: int | None = None) -> GenerationOut:
    """The GET body of ``generation`` (``jobs.view.generation_view``, validated)."""
    return GenerationOut.model_validate(
        generation_view(generation, base_url, sign, queue_position))


def to_list_item(generation: Generation, out: GenerationOut) -> GenerationListItem:
    r = generation.request
    return GenerationListItem(
        **out.model_dump(), created_at=iso_time(generation.created_at),
        request=RequestSummary(prompt=r.prompt, aspect_ratio=r.aspect_ratio,
                               resolution=r.resolution, duration=r.duration,
                               generate_audio=r.generate_audio, seed=r.seed))
