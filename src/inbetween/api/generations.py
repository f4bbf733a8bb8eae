"""The hosted API's dialect: `POST` and `GET /v2/video/generations`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request

from inbetween.api.auth import require_key
from inbetween.api.errors import ERROR_RESPONSES
from inbetween.api.schemas import GenerationCreate, GenerationCreated, GenerationOut, to_out
from inbetween.api.state import Services, services
from inbetween.engines.registry import route
from inbetween.errors import InvalidImage, InvalidRequest
from inbetween.jobs.models import Generation, ImageInput
from inbetween.jobs.service import delete, get_for_key, submit
from inbetween.media.images import parse_image_field
from inbetween.store.base import ApiKey

__all__ = ["router"]

router = APIRouter(prefix="/v2/video", tags=["generations"])


@router.post(
    "/generations",
    response_model=GenerationCreated,
    responses={k: ERROR_RESPONSES[k] for k in (400, 401, 409, 413, 429)},
    summary="Submit a generation",
)
def create_generation(
    body: GenerationCreate,
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", max_length=200,
        description="Retries with the same key and the same request return the same "
        "generation; the same key with a different request answers 409."),
) -> GenerationCreated:
    """Queue a first-and-last-frame generation and answer at once with its id.

    Base64 images are decoded and checked now; URL images are fetched by the worker.
    """
    svc.limiter.check(key.id, "submit")
    request = body.to_domain()
    route(request.model, request.provider)  # refuse an unroutable request before decoding
    first = _image(body.image_url, "image_url", svc)
    last = _image(body.last_image_url, "last_image_url", svc)
    generation = submit(svc.store, request, first, last, key_id=key.id,
                        max_unfinished=svc.settings.max_unfinished_per_key,
                        idempotency_key=idempotency_key)
    svc.dispatch(generation.id)
    return GenerationCreated(id=generation.id, status=generation.status.value)


@router.get(
    "/generations",
    response_model=GenerationOut,
    responses={k: ERROR_RESPONSES[k] for k in (400, 401, 404, 429)},
    summary="Poll a generation",
)
def get_generation(
    request: Request,
    generation_id: str = Query(description="The id returned by POST."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> GenerationOut:
    """Status, progress, and once completed the video's URL (or the error)."""
    svc.limiter.check(key.id, "poll")
    generation = get_for_key(svc.store, generation_id.strip(), key.id)
    return _out(generation, request, svc)


@router.delete(
    "/generations",
    response_model=GenerationOut,
    responses={k: ERROR_RESPONSES[k] for k in (400, 401, 404, 429)},
    summary="Cancel and delete a generation",
)
def delete_generation(
    request: Request,
    generation_id: str = Query(description="The id returned by POST."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> GenerationOut:
    """Stop the generation if it is queued or generating, and delete it and its video.

    Answers with the generation as it was; afterwards GET and the video URL answer 404.
    """
    svc.limiter.check(key.id, "poll")
    generation = get_for_key(svc.store, generation_id.strip(), key.id)
    delete(svc.store, svc.artifacts, generation)
    return _out(generation, request, svc)


def _out(generation: Generation, request: Request, svc: Services) -> GenerationOut:
    base = svc.settings.public_url or str(request.base_url)
    sign = svc.signer.sign if svc.signer is not None else None
    return to_out(generation, base.rstrip("/"), sign, svc.store.queue_position(generation))


def _image(value: str, field: str, svc: Services) -> ImageInput:
    try:
        return parse_image_field(value, field, svc.settings.max_pixels)
    except InvalidImage as e:
        raise InvalidRequest(e.message, field=field) from e
