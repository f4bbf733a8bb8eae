"""The resources an app owns (built in its lifespan), exposed as typed state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from inbetween.api.limits import RateLimiter, StreamSlots
from inbetween.dispatch.local import LocalPool
from inbetween.media.fetch import FetchPolicy
from inbetween.settings import Settings
from inbetween.signing import UrlSigner
from inbetween.storage.base import ArtifactStore
from inbetween.store.sql import SqlStore
from inbetween.upstream.providers import Provider
from inbetween.webhooks.sender import WebhookSender

__all__ = ["Services", "services"]


@dataclass
class Services:
    settings: Settings
    store: SqlStore
    artifacts: ArtifactStore
    pool: LocalPool
    dispatch: Callable[[str], None]
    broker_ping: Callable[[], None] | None
    limiter: RateLimiter
    signer: UrlSigner | None
    streams: StreamSlots
    providers: dict[str, Provider]
    fetch_policy: FetchPolicy
    webhooks: WebhookSender | None


def services(request: Request) -> Services:
    """FastAPI dependency: the app's Services."""
    svc: Services = request.app.state.services
    return svc
