"""Operations on generations that the API calls: submit and look up."""

from __future__ import annotations

import secrets
import time
import uuid

from inbetween.engines.registry import route
from inbetween.errors import NotFound
from inbetween.jobs.models import Generation, GenerationRequest, ImageInput
from inbetween.store.base import JobStore

__all__ = ["MAX_SEED", "get_for_key", "submit"]

MAX_SEED = 2**32 - 1


def submit(
    store: JobStore,
    request: GenerationRequest,
    first: ImageInput,
    last: ImageInput,
    *,
    key_id: str,
    now: float | None = None,
    max_unfinished: int | None = None,
) -> Generation:
    """Validate the route, store the job as queued and return it (the caller dispatches)."""
    route(request.model, request.provider)  # an unroutable request is refused now, not later
    created = time.time() if now is None else now
    generation = Generation(
        id=str(uuid.uuid4()),
        key_id=key_id,
        request=request,
        seed=request.seed if request.seed is not None else secrets.randbelow(MAX_SEED + 1),
        created_at=created,
        updated_at=created,
    )
    store.create(generation, first, last, max_unfinished)
    return generation


def get_for_key(store: JobStore, generation_id: str, key_id: str) -> Generation:
    """The generation if it exists and belongs to ``key_id``; NotFound otherwise."""
    generation = store.get(generation_id)
    if generation is None or generation.key_id != key_id:
        raise NotFound(f"no generation with id {generation_id!r} for this API key")
    return generation
