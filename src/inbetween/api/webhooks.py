"""Webhooks: the key's signing secret (and its rotation), and a generation's deliveries.

A generation submitted with ``webhook_url`` is announced there by signed POSTs (Standard
Webhooks; ``docs/webhooks.md`` shows how to verify them); these routes show what was sent
and let a client send one again.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from inbetween.api.auth import require_key
from inbetween.api.errors import ERROR_RESPONSES
from inbetween.api.state import Services, services
from inbetween.errors import Conflict, NotFound
from inbetween.jobs.models import Delivery
from inbetween.jobs.view import iso_time
from inbetween.store.base import ApiKey
from inbetween.webhooks.signing import new_secret

__all__ = ["router"]

router = APIRouter(prefix="/v2/webhooks", tags=["webhooks"])
_RESPONSES: dict[int | str, dict[str, Any]] = {k: ERROR_RESPONSES[k] for k in (400, 401, 429)}


class SecretOut(BaseModel):
    secret: str = Field(description="`whsec_` + base64: verify `webhook-signature` with it "
                        "(the HMAC key is the base64-decoded part after `whsec_`).")
    previous_valid_until: str | None = Field(
        None, description="After a rotation: until when deliveries also carry a signature "
        "made with the previous secret (ISO 8601 UTC); else null.")


class DeliveryOut(BaseModel):
    id: str = Field(description="The `webhook-id` header: the same on every attempt.")
    generation_id: str
    type: str = Field(description="generation.started, .progress, .completed or .error.")
    status: str = Field(description="pending, delivered or failed (given up).")
    attempts: int
    last_status_code: int | None = Field(description="The receiver's last HTTP status.")
    last_error: str | None = Field(description="Why the last attempt failed, if it did.")
    next_attempt_at: str | None = Field(description="When it is sent next (ISO 8601 UTC), "
                                        "while pending.")
    created_at: str


class DeliveryList(BaseModel):
    data: list[DeliveryOut]


def _out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=d.id, generation_id=d.generation_id, type=d.type, status=d.status,
        attempts=d.attempts, last_status_code=d.last_status_code, last_error=d.last_error,
        next_attempt_at=iso_time(d.next_attempt_at)
        if d.status == "pending" and d.next_attempt_at is not None else None,
        created_at=iso_time(d.created_at))


def _secret_out(secret: str, previous_until: float | None, now: float) -> SecretOut:
    valid = previous_until is not None and previous_until > now
    return SecretOut(secret=secret,
                     previous_valid_until=iso_time(previous_until) if valid and previous_until
                     else None)


@router.get("/secret", response_model=SecretOut, responses=_RESPONSES,
            summary="This key's webhook signing secret")
def get_secret(key: ApiKey = Depends(require_key),
               svc: Services = Depends(services)) -> SecretOut:
    """The secret that signs this key's deliveries (made on first use)."""
    svc.limiter.check(key.id, "poll")
    now = time.time()
    found = svc.store.webhook_secret(key.id, now, new_secret())
    return _secret_out(found.secret, found.previous_until, now)


@router.post("/secret/rotate", response_model=SecretOut, responses=_RESPONSES,
             summary="Rotate this key's webhook signing secret")
def rotate_secret(key: ApiKey = Depends(require_key),
                  svc: Services = Depends(services)) -> SecretOut:
    """Make a new secret. For INBETWEEN_WEBHOOK_SECRET_OVERLAP_HOURS (24 by default)
    deliveries carry signatures made with both, so receivers can switch over."""
    svc.limiter.check(key.id, "submit")
    now = time.time()
    rotated = svc.store.rotate_webhook_secret(
        key.id, new_secret(), now, svc.settings.webhook_secret_overlap_hours * 3600)
    return _secret_out(rotated.secret, rotated.previous_until, now)


@router.get("/deliveries", response_model=DeliveryList,
            responses={k: ERROR_RESPONSES[k] for k in (400, 401, 404, 429)},
            summary="A generation's webhook deliveries")
def list_deliveries(
    generation_id: str = Query(max_length=100, description="The generation's id."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> DeliveryList:
    """Every message sent (or to be sent) for the generation, oldest first."""
    svc.limiter.check(key.id, "poll")
    generation_id = generation_id.strip()
    found = [d for d in svc.store.deliveries(generation_id) if d.key_id == key.id]
    generation = svc.store.get(generation_id)
    if not found and (generation is None or generation.key_id != key.id):
        raise NotFound(f"no generation with id {generation_id!r} for this API key")
    return DeliveryList(data=[_out(d) for d in found])


@router.post("/deliveries/{delivery_id}/retry", response_model=DeliveryOut,
             responses={k: ERROR_RESPONSES[k] for k in (401, 404, 409, 429)},
             summary="Send a delivery again now")
def retry_delivery(
    delivery_id: str = Path(max_length=64, description="The delivery's id (webhook-id)."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> DeliveryOut:
    """Make the delivery pending and send it at once (a new attempt, the same webhook-id),
    whatever it ended as — e.g. after fixing a receiver that was down."""
    svc.limiter.check(key.id, "submit")
    found = svc.store.get_delivery(delivery_id)
    if found is None or found.key_id != key.id:
        raise NotFound(f"no webhook delivery with id {delivery_id!r} for this API key")
    now = time.time()
    again = svc.store.retry_delivery(delivery_id, now)
    if again is None:
        raise NotFound(f"no webhook delivery with id {delivery_id!r} for this API key")
    if again.claimed_until is not None and again.claimed_until >= now:
        raise Conflict("an attempt of this delivery is being sent right now; list the "
                       "deliveries to see how it ended, then retry if it failed")
    if svc.webhooks is not None:
        svc.webhooks.nudge()
    return _out(again)
