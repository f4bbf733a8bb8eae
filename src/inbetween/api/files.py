"""`/files/{token}.mp4`: finished videos, by unguessable token, no key, with Range support."""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, RedirectResponse, Response

from inbetween.api.errors import ERROR_RESPONSES
from inbetween.api.state import Services, services
from inbetween.errors import Forbidden, NotFound

__all__ = ["router"]

router = APIRouter(tags=["files"])
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


@router.head("/files/{token}.mp4", include_in_schema=False)
@router.get(
    "/files/{token}.mp4",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The MP4 (Range requests: 206)."},
        206: {"content": {"video/mp4": {}}, "description": "Part of the MP4."},
        302: {"description": "With S3 storage: to a presigned (or public) URL of the MP4."},
        400: ERROR_RESPONSES[400],
        403: ERROR_RESPONSES[403],
        404: ERROR_RESPONSES[404],
    },
    summary="Download a video",
)
def get_file(
    token: str,
    expires: int | None = Query(None, description="With signed URLs: expiry (Unix time)."),
    signature: str | None = Query(None, description="With signed URLs: the signature."),
    svc: Services = Depends(services),
) -> Response:
    """The video of a completed generation. Supports `Range` so players can seek."""
    if svc.signer is not None and not svc.signer.verify(token, expires, signature):
        raise Forbidden("this video URL's signature is missing, wrong or expired; "
                        "GET the generation again for a fresh URL")
    if not _TOKEN.match(token):
        raise NotFound("no such video")
    elsewhere = svc.artifacts.redirect_url(f"{token}.mp4")
    if elsewhere is not None:
        return RedirectResponse(elsewhere, status_code=302)
    path = svc.artifacts.local_path(f"{token}.mp4")
    if path is None:
        raise NotFound("no such video")
    return FileResponse(
        path,
        media_type="video/mp4",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
