"""`POST /v2/uploads`: send an image once, then name it by URL in generation requests."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response

from inbetween.api.auth import require_key
from inbetween.api.errors import ERROR_RESPONSES
from inbetween.api.schemas import UploadOut
from inbetween.api.state import Services, services
from inbetween.errors import InvalidImage, InvalidRequest, NotFound
from inbetween.jobs.uploads import create_upload
from inbetween.store.base import ApiKey

__all__ = ["router"]

router = APIRouter(prefix="/v2/uploads", tags=["uploads"])


@router.post(
    "",
    response_model=UploadOut,
    responses={k: ERROR_RESPONSES[k] for k in (400, 401, 413, 429)},
    summary="Upload an image",
)
def upload_image(
    request: Request,
    file: UploadFile = File(description="One JPEG, PNG or WebP image, at least 64×64 px."),
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> UploadOut:
    """Keep an image for this key; its `url` works as `image_url` or `last_image_url`.

    The server looks the upload up in its own storage (it never fetches that URL), so the
    URL's host does not matter. Uploads unused for `INBETWEEN_UPLOAD_TTL_HOURS` (24 h)
    expire.
    """
    svc.limiter.check(key.id, "submit")
    data = file.file.read()
    try:
        upload = create_upload(svc.store, svc.artifacts, key.id, data,
                               max_pixels=svc.settings.max_pixels,
                               tmp_dir=svc.settings.tmp_dir, now=time.time())
    except InvalidImage as e:
        raise InvalidRequest(e.message, field="file") from e
    base = (svc.settings.public_url or str(request.base_url)).rstrip("/")
    return UploadOut(id=upload.id, url=f"{base}/v2/uploads/{upload.id}")


@router.get(
    "/{upload_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}},
                     "description": "The uploaded image."},
               **{k: ERROR_RESPONSES[k] for k in (400, 401, 404, 429)}},
    summary="Download an upload",
)
def get_upload(
    upload_id: str,
    key: ApiKey = Depends(require_key),
    svc: Services = Depends(services),
) -> Response:
    """The image of one of this key's uploads."""
    svc.limiter.check(key.id, "poll")
    upload = svc.store.get_upload(upload_id)
    data = None
    if upload is not None and upload.key_id == key.id:
        data = svc.artifacts.read(upload.artifact_key)
    if upload is None or data is None:
        raise NotFound("no such upload for this API key (uploads expire when unused)")
    return Response(data, media_type=upload.content_type,
                    headers={"Cache-Control": "private, max-age=3600"})
