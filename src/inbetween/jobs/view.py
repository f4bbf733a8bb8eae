"""What ``GET /v2/video/generations`` shows of a generation, as plain JSON-able data.

The API validates it into its response model; webhook bodies carry it as ``data`` — the same
document either way, built in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from inbetween.jobs.models import Generation, Status

__all__ = ["generation_view", "iso_time"]


def generation_view(generation: Generation, base_url: str,
                    sign: Callable[[str], str] | None = None,
                    queue_position: int | None = None) -> dict[str, Any]:
    """The GET body of ``generation``; ``base_url`` prefixes the video URL, ``sign`` gives
    the query string of a signed URL."""
    g = generation
    video = None
    if g.status is Status.COMPLETED and g.video_token:
        query = f"?{sign(g.video_token)}" if sign else ""
        url = f"{base_url}/files/{g.video_token}"
        video = {"url": f"{url}.mp4{query}", "thumbnail_url": f"{url}.jpg{query}",
                 "preview_url": f"{url}.webp{query}"}
    error = None
    if g.status is Status.ERROR:
        error = {"name": g.error_name or "EngineError",
                 "message": g.error_message or "The generation failed."}
    upstream: dict[str, Any] = dict(g.upstream or {})
    provider = upstream.get("provider")
    if provider is None and g.status is not Status.QUEUED:
        provider = "local"
    seed_kept = upstream.get("seed_honoured", True) or provider == "local"
    usage = None
    if g.finished:
        usage = {"credits_used": g.credits_used,
                 "seconds": float(g.request.duration) if g.status is Status.COMPLETED else 0.0,
                 "cost_usd": g.credits_used}
    attempts = [{"provider": a.get("provider"), "model": a.get("model"),
                 "outcome": a.get("outcome"), "reason": a.get("reason"),
                 "http_status": a.get("http_status")}
                for a in upstream.get("attempts", ()) if isinstance(a, dict)]
    meta = {
        "usage": usage,
        "engine": g.engine,
        "seed": g.seed if seed_kept else None,
        "warnings": [{"code": w.code, "message": w.message} for w in g.warnings],
        "queue_position": queue_position,
        "details": g.details or None,
        "provider": str(provider) if provider is not None else None,
        "attempts": attempts,
    }
    return {"id": g.id, "status": g.status.value, "progress": g.progress, "video": video,
            "error": error, "meta": meta}


def iso_time(seconds: float) -> str:
    """Unix time as ISO 8601 UTC with milliseconds, e.g. 2026-11-25T12:00:00.123Z."""
    stamp = datetime.fromtimestamp(seconds, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
