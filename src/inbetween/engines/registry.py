"""Which engine runs which request: models, providers and the routes between them."""

from __future__ import annotations

from dataclasses import dataclass

from inbetween.engines.base import Engine
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.errors import InvalidRequest
from inbetween.jobs.models import JobWarning
from inbetween.settings import Settings

__all__ = ["GOOGLE_MODELS", "MODELS", "PROVIDERS", "Route", "build_engines", "route"]

KEYFRAME = "inbetween/keyframe"
GOOGLE_MODELS = (
    "google/veo-3.1-first-last-image-to-video",
    "google/veo-3.1-first-last-image-to-video-fast",
)
MODELS = (*GOOGLE_MODELS, KEYFRAME)
PROVIDERS = ("auto", "local")


@dataclass(frozen=True)
class Route:
    """The engine chosen for a request, and what the client should be told about it."""

    engine: str
    warnings: tuple[JobWarning, ...] = ()


def route(model: str, provider: str) -> Route:
    """Choose the engine for ``model`` and ``provider`` (already lower-cased)."""
    if provider not in PROVIDERS:
        raise InvalidRequest(
            f"provider {provider!r} is not configured on this server; "
            f"use one of: {', '.join(PROVIDERS)}",
            field="provider",
            allowed=PROVIDERS,
        )
    if model in GOOGLE_MODELS:
        note = JobWarning(
            "local_engine",
            f"{model} ran on this server's local engine {KEYFRAME}; no upstream "
            "provider is configured for the real model.",
        )
        return Route(KEYFRAME, (note,))
    return Route(KEYFRAME)


def build_engines(settings: Settings) -> dict[str, Engine]:
    """Every engine this process can run, by name."""
    return {KEYFRAME: KeyframeEngine(credits_per_second=settings.keyframe_credits_per_second)}
