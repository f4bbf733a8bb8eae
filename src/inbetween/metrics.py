"""Job metrics kept in the job store: counter rows bumped in the same transaction as the
status change they count, never decremented (deleting a generation, or retention, lowers
nothing), so every API process on every host reports the same figures.

A row is (name, labels as sorted JSON, value). Histograms are kept Prometheus' way:
cumulative ``…_bucket`` rows (one per upper bound ``le``, ``+Inf`` included), ``…_sum`` and
``…_count``. This module only computes the increments; the stores apply them and
``api.metrics`` turns the rows into the exposition format.
"""

from __future__ import annotations

import json

from inbetween.jobs.models import Generation, Outcome, Stage, Status

__all__ = ["DURATION_BUCKETS", "STAGE_BUCKETS", "Increment", "claimed", "delivery", "ended",
           "labels_of", "metric_stage"]

Increment = tuple[str, str, float]
"""(row name, labels as sorted JSON, amount)."""

DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
STAGE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

_STAGES = {Stage.FETCHING: "fetch", Stage.ANALYSING: "render", Stage.RENDERING: "render",
           Stage.ENCODING: "encode", Stage.AUDIO: "encode", Stage.STORING: "store"}


def metric_stage(stage: Stage, upstream: bool) -> str | None:
    """The metric's stage (queue, fetch, render, encode, upstream, store) of a job stage."""
    if upstream and stage in (Stage.QUEUED, Stage.RENDERING):
        return "upstream"  # waiting for, or following, the provider's job
    return _STAGES.get(stage)


def _labels(**values: str) -> str:
    return json.dumps(values, sort_keys=True)


def labels_of(row_labels: str) -> dict[str, str]:
    loaded: dict[str, str] = json.loads(row_labels)
    return loaded


def _observe(name: str, buckets: tuple[float, ...], value: float,
             **labels: str) -> list[Increment]:
    rows = [(f"{name}_bucket", _labels(**labels, le=_le(bound)), 1.0)
            for bound in buckets if value <= bound]
    rows.append((f"{name}_bucket", _labels(**labels, le="+Inf"), 1.0))
    rows.append((f"{name}_sum", _labels(**labels), value))
    rows.append((f"{name}_count", _labels(**labels), 1.0))
    return rows


def _le(bound: float) -> str:
    return repr(float(bound))


def claimed(waited: float) -> list[Increment]:
    """A job left the queue for a worker after ``waited`` seconds there."""
    return _observe("stage_duration_seconds", STAGE_BUCKETS, max(0.0, waited), stage="queue")


def ended(job: Generation, outcome: Outcome, now: float) -> list[Increment]:
    """A job ended (completed, or error — by its worker, the reaper or its deadline); the
    outcome's ``stage_seconds`` are the time its run spent in each stage."""
    provider = outcome.provider
    engine = outcome.engine or job.engine or ""
    rows = [("generations_total", _labels(model=job.request.model, engine=engine,
                                          provider=provider, status=outcome.status.value),
             1.0)]
    rows += _observe("generation_duration_seconds", DURATION_BUCKETS,
                     max(0.0, now - job.created_at), engine=engine)
    if outcome.status is Status.COMPLETED and outcome.credits_used:
        rows.append(("spend_usd_total", _labels(provider=provider, model=job.request.model),
                     float(outcome.credits_used)))
    for stage, seconds in outcome.stage_seconds.items():
        rows += _observe("stage_duration_seconds", STAGE_BUCKETS, seconds, stage=stage)
    return rows


def delivery(result: str) -> list[Increment]:
    """A webhook delivery attempt ended: ``delivered``, ``retry`` (it will be sent again) or
    ``failed`` (given up: 410, or its retries used up)."""
    return [("webhook_deliveries_total", _labels(result=result), 1.0)]
