"""create_app: the FastAPI application, its lifespan and its OpenAPI document."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Depends, FastAPI, Response
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from inbetween import __version__
from inbetween.api import (
    events,
    files,
    generations,
    metrics,
    openai,
    playground,
    uploads,
    usage,
    webhooks,
)
from inbetween.api.errors import ERROR_RESPONSES, install_error_handlers, is_openai_path
from inbetween.api.limits import BodyLimit, RateLimiter, StreamSlots
from inbetween.api.metrics import CountRequests, StoreCollector, new_registry
from inbetween.api.state import Services, services
from inbetween.dispatch.local import LocalPool, Reaper
from inbetween.engines.registry import build_engines
from inbetween.jobs.service import cancel_upstream, delete_expired
from inbetween.jobs.uploads import delete_expired_uploads
from inbetween.log import event
from inbetween.media.audio import preload
from inbetween.media.fetch import FetchPolicy
from inbetween.settings import Settings
from inbetween.signing import UrlSigner
from inbetween.storage import open_artifacts
from inbetween.store import open_store
from inbetween.upstream.providers import build_providers
from inbetween.webhooks.sender import webhook_sender
from inbetween.worker import Worker

__all__ = ["FEATURES", "create_app"]

log = logging.getLogger("inbetween.api")

FEATURES = ("events", "uploads", "list", "wait", "idempotency", "webhooks", "deadlines",
            "budgets", "openai")
"""What this server adds to the hosted API's contract (``info.x-inbetween-features``; each is
explained in docs/api.md): live events, uploads, listing, `Prefer: wait`, `Idempotency-Key`,
signed webhooks, `Cancel-After` deadlines, per-key budgets (402) and the OpenAI-style `/v1`
dialect."""


def create_app(settings: Settings) -> FastAPI:
    """The inbetween server for ``settings``; resources are opened in its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = open_store(settings)
        artifacts = open_artifacts(settings)
        engines = build_engines(settings)

        def make_worker(stopping: threading.Event) -> Worker:
            return Worker(settings, store, artifacts, engines, stopping=stopping)

        celery = None
        if settings.broker_url:  # jobs go to `inbetween worker` processes through the broker
            from inbetween.dispatch.celery import CeleryDispatcher

            celery = CeleryDispatcher(settings, store)
        pool = LocalPool(make_worker, 0 if celery else settings.concurrency,
                         settings.poll_seconds)
        dispatch = celery.notify if celery else pool.notify
        def cleanup() -> int:
            now = time.time()
            count = delete_expired_uploads(store, artifacts,
                                           now - settings.upload_ttl_hours * 3600)
            if settings.retention_days is not None:  # generations, and what was sent of them
                cutoff = now - settings.retention_days * 86_400
                count += delete_expired(store, artifacts, cutoff)
                count += store.prune_deliveries(cutoff)
            return count

        providers = build_providers(settings)
        reaper = Reaper(store, interval=min(settings.lease_seconds / 2, 10.0),
                        max_attempts=settings.max_attempts, on_requeue=dispatch,
                        cleanup=cleanup, deadline_grace=settings.lease_seconds,
                        requeue_after=settings.requeue_after_seconds if celery else None,
                        on_expired=lambda job: cancel_upstream(providers, job))
        limiter = RateLimiter({"submit": settings.rate_submit_per_second,
                               "poll": settings.rate_poll_per_second})
        signer = UrlSigner.from_settings(settings) if settings.signed_urls else None
        collector = StoreCollector(store)  # job figures read from this app's store
        registry.register(collector)
        policy = FetchPolicy.of(settings)
        sender = webhook_sender(settings, store, policy)
        app.state.services = Services(settings, store, artifacts, pool, dispatch,
                                      celery.ping if celery else None, limiter, signer,
                                      StreamSlots(settings.max_event_streams_per_key),
                                      providers, policy, sender)
        pool.start()
        reaper.start()
        sender.start()
        if settings.concurrency:  # warm the sound track's imports before the first job
            threading.Thread(target=preload, name="preload", daemon=True).start()
        if settings.concurrency and not celery and settings.diffusion_compile:
            # load and compile the diffusion models now; a job that comes first waits for it
            from inbetween.engines.diffusion.checks import warm_engines

            threading.Thread(target=warm_engines, args=(engines, settings), name="warm",
                             daemon=True).start()
        try:
            yield
        finally:
            registry.unregister(collector)
            sender.stop()
            reaper.stop()
            pool.stop(grace=settings.drain_seconds)
            if celery is not None:
                celery.close()
            store.engine.dispose()

    app = FastAPI(
        title="inbetween",
        version=__version__,
        summary="First-and-last-frame video generation, speaking the v2 video-generations API.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    registry, requests_counter = new_registry()
    app.state.metrics_registry = registry
    app.add_middleware(BodyLimit, max_bytes=int(settings.max_body_mb * 2**20))
    app.add_middleware(CountRequests, counter=requests_counter)
    app.include_router(generations.router)
    app.include_router(events.router)
    app.include_router(uploads.router)
    app.include_router(files.router)
    app.include_router(playground.router)
    app.include_router(metrics.router)
    app.include_router(usage.router)
    app.include_router(webhooks.router)
    app.include_router(openai.router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"],
                      response_model=Health, responses={503: {
                          "model": Health, "description": "Degraded: the part that does not "
                          "answer is `down`; `Retry-After` says when to look again."}})
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    store: Literal["ok", "down"] = Field(description="The job store (database).")
    broker: Literal["ok", "down"] | None = Field(
        None, description="The Celery broker, when INBETWEEN_BROKER_URL is set; else null.")
    storage: Literal["ok", "down"] = Field(description="The artifact store (S3 or folder).")


def healthz(response: Response, svc: Services = Depends(services)) -> Health:
    """200 when the job store, the broker (if any) and the artifact store answer; 503
    `degraded` naming the part that does not (each checked within a few seconds)."""
    def state(check: Callable[[], object] | None) -> Literal["ok", "down"] | None:
        if check is None:
            return None
        try:
            check()
        except Exception as e:
            event(log, "health.down", level=logging.WARNING, error=f"{type(e).__name__}: {e}")
            return "down"
        return "ok"

    parts = {"store": state(svc.store.ping), "broker": state(svc.broker_ping),
             "storage": state(getattr(svc.artifacts, "ping", lambda: None))}
    degraded = "down" in parts.values()
    if degraded:
        response.status_code = 503
        response.headers["Retry-After"] = "5"
    return Health(status="degraded" if degraded else "ok", store=parts["store"] or "down",
                  broker=parts["broker"], storage=parts["storage"] or "down")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with its 422 replaced by our 400 (we never answer 422)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                         routes=app.routes)
    schema["info"]["x-inbetween-features"] = list(FEATURES)
    for route, path in schema.get("paths", {}).items():
        envelope = "OpenAIErrorEnvelope" if is_openai_path(route) else "ErrorEnvelope"
        for operation in path.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None and "400" not in responses:
                responses["400"] = {
                    "description": ERROR_RESPONSES[400]["description"],
                    "content": {"application/json": {"schema": {
                        "$ref": f"#/components/schemas/{envelope}"}}},
                }
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    app.openapi_schema = schema
    return schema
