"""Typed views of the API's JSON bodies (parsed leniently: a contract-only server may omit
everything but ``id`` and ``status``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Generation", "GenerationWarning", "JobError", "Meta", "Page", "Progress", "Usage",
           "Video"]


@dataclass(frozen=True)
class Video:
    url: str
    thumbnail_url: str | None = None
    preview_url: str | None = None


@dataclass(frozen=True)
class JobError:
    name: str
    message: str


@dataclass(frozen=True)
class Usage:
    credits_used: float
    seconds: float | None = None  # video seconds charged (inbetween servers)
    cost_usd: float | None = None  # credits_used in USD (inbetween servers)


@dataclass(frozen=True)
class GenerationWarning:
    code: str
    message: str


@dataclass(frozen=True)
class Meta:
    usage: Usage | None = None
    engine: str | None = None
    seed: int | None = None
    warnings: tuple[GenerationWarning, ...] = ()
    queue_position: int | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class Progress:
    """A live snapshot: what the event stream's status/progress events carry."""

    status: str
    stage: str | None
    progress: int | None
    queue_position: int | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Progress:
        return cls(str(body.get("status", "")), body.get("stage"), body.get("progress"),
                   body.get("queue_position"))


@dataclass(frozen=True)
class Generation:
    """A generation as the server reports it (the GET body)."""

    id: str
    status: str
    progress: int | None = None
    video: Video | None = None
    error: JobError | None = None
    meta: Meta | None = None
    created_at: str | None = None
    request: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "error")

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Generation:
        video = body.get("video")
        error = body.get("error")
        return cls(
            id=str(body["id"]),
            status=str(body["status"]),
            progress=body.get("progress"),
            video=Video(video["url"], video.get("thumbnail_url"), video.get("preview_url"))
            if isinstance(video, dict) and video.get("url") else None,
            error=JobError(str(error.get("name", "Error")), str(error.get("message", "")))
            if isinstance(error, dict) else None,
            meta=_meta(body.get("meta")),
            created_at=body.get("created_at"),
            request=body.get("request"),
            raw=body,
        )

    def progress_snapshot(self) -> Progress:
        return Progress(self.status, None, self.progress,
                        self.meta.queue_position if self.meta else None)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _meta(meta: Any) -> Meta | None:
    if not isinstance(meta, dict):
        return None
    usage = meta.get("usage")
    return Meta(
        usage=Usage(float(usage["credits_used"]), _number(usage.get("seconds")),
                    _number(usage.get("cost_usd"))) if isinstance(usage, dict)
        and "credits_used" in usage else None,
        engine=meta.get("engine"),
        seed=meta.get("seed"),
        warnings=tuple(GenerationWarning(str(w.get("code", "")), str(w.get("message", "")))
                       for w in meta.get("warnings") or () if isinstance(w, dict)),
        queue_position=meta.get("queue_position"),
        details=meta.get("details"),
    )


@dataclass(frozen=True)
class Page:
    """One page of ``list()``."""

    data: list[Generation]
    next_cursor: str | None
