"""`GET /metrics`: Prometheus' text format.

Job figures come from the job store's counter rows (``inbetween.metrics``), so every API
process on every host reports the same values; the queue depth is read from the store at
each scrape; HTTP request counts are this process's own (labelled by route template, never
by raw path: `/files/{token}` paths would publish video tokens).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inbetween.api.errors import ERROR_RESPONSES
from inbetween.api.state import Services, services
from inbetween.errors import NotFound, Unauthorized
from inbetween.metrics import labels_of
from inbetween.store.base import JobStore

__all__ = ["CountRequests", "StoreCollector", "new_registry", "router"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

router = APIRouter(tags=["operations"])

_HISTOGRAMS = {
    "generation_duration_seconds": "Seconds from submission to the end (completed or error).",
    "stage_duration_seconds": "Seconds spent per stage: queue, fetch, render, encode, "
                              "upstream, store.",
}


class StoreCollector(Collector):
    """Turns the store's counter rows into metric families at each scrape."""

    def __init__(self, store: JobStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        rows = self.store.counters()
        generations = CounterMetricFamily(
            "inbetween_generations", "Generations ended, by model, engine, provider and status.",
            labels=["model", "engine", "provider", "status"])
        spend = CounterMetricFamily(
            "inbetween_spend_usd", "USD charged for delivered videos (list prices).",
            labels=["provider", "model"])
        deliveries = CounterMetricFamily(
            "inbetween_webhook_deliveries", "Webhook delivery attempts, by result: delivered, "
            "retry (sent again later) or failed (given up).", labels=["result"])
        histograms: dict[str, dict[tuple[tuple[str, str], ...], dict[str, Any]]] = {
            name: {} for name in _HISTOGRAMS}
        for name, raw, value in rows:
            labels = labels_of(raw)
            if name == "generations_total":
                generations.add_metric([labels["model"], labels["engine"], labels["provider"],
                                        labels["status"]], value)
            elif name == "spend_usd_total":
                spend.add_metric([labels["provider"], labels["model"]], value)
            elif name == "webhook_deliveries_total":
                deliveries.add_metric([labels["result"]], value)
            else:
                base, _, part = name.rpartition("_")
                if base not in histograms:
                    continue
                le = labels.pop("le", None)
                series = histograms[base].setdefault(tuple(sorted(labels.items())),
                                                     {"buckets": {}, "sum": 0.0})
                if part == "bucket" and le is not None:
                    series["buckets"][le] = value
                elif part == "sum":
                    series["sum"] = value
        yield generations
        yield spend
        yield deliveries
        for base, all_series in histograms.items():
            label_names = sorted({k for key in all_series for k, _ in key}) or (
                ["engine"] if base.startswith("generation") else ["stage"])
            family = HistogramMetricFamily(f"inbetween_{base}", _HISTOGRAMS[base],
                                           labels=label_names)
            for key, series in sorted(all_series.items()):
                values = dict(key)
                buckets = sorted(series["buckets"].items(),
                                 key=lambda item: float(item[0].replace("+Inf", "inf")))
                family.add_metric([values.get(n, "") for n in label_names],
                                  [(le, count) for le, count in buckets], series["sum"])
            yield family
        yield GaugeMetricFamily("inbetween_queue_depth", "Generations queued now.",
                                value=self.store.count_queued())


def new_registry() -> tuple[CollectorRegistry, Counter]:
    """This process's registry and its HTTP request counter."""
    registry = CollectorRegistry(auto_describe=False)
    requests = Counter("inbetween_http_requests", "HTTP requests answered by this process, "
                       "by method, route template and status.",
                       ["method", "route", "status"], registry=registry)
    return registry, requests


class CountRequests:
    """ASGI middleware: count each answered request by method, route template and status."""

    def __init__(self, app: ASGIApp, counter: Counter) -> None:
        self.app, self.counter = app, counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.counter.labels(scope["method"], route, str(status)).inc()


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format."},
               401: {**ERROR_RESPONSES[401],
                     "description": "INBETWEEN_METRICS_TOKEN is set and the Bearer token "
                     "is missing or wrong."},
               404: {**ERROR_RESPONSES[404], "description": "Metrics are off "
                     "(INBETWEEN_METRICS=false)."}},
    summary="Prometheus metrics",
)
def metrics(request: Request, svc: Services = Depends(services)) -> Response:
    """Job counters shared by every process (from the job store), the queue depth, and this
    process's HTTP request counts. With `INBETWEEN_METRICS_TOKEN` set, send it as
    `Authorization: Bearer <token>`."""
    settings = svc.settings
    if not settings.metrics:
        raise NotFound("metrics are off on this server (INBETWEEN_METRICS=false)")
    if settings.metrics_token is not None:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {settings.metrics_token.get_secret_value()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("send the metrics token: `Authorization: Bearer <token>` "
                               "(INBETWEEN_METRICS_TOKEN)")
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE)
