"""`/files/{token}.mp4|.jpg|.webp`: finished videos and their thumbnail and animated preview,
by unguessable token, no key, with Range support."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, RedirectResponse, Response

from inbetween.api.errors import ERROR_RESPONSES
from inbetween.api.state import Services, services
from inbetween.errors import Forbidden, NotFound
from inbetween.storage.base import CONTENT_TYPES, ArtifactStore

__all__ = ["artifact_response", "router"]

router = APIRouter(tags=["files"])
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


def _file_route(name: str, suffix: str, summary: str, doc: str,
                responses: dict[int | str, dict[str, Any]]) -> None:
    """GET (documented) and HEAD of ``/files/{token}.{suffix}``, served by ``_serve``."""

    def endpoint(
        token: str,
        expires: int | None = Query(None, description="With signed URLs: expiry (Unix time)."),
        signature: str | None = Query(None, description="With signed URLs: the signature."),
        svc: Services = Depends(services),
    ) -> Response:
        return _serve(token, suffix, expires, signature, svc)

    endpoint.__name__, endpoint.__doc__ = name, doc
    path = f"/files/{{token}}.{suffix}"
    router.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
    router.add_api_route(path, endpoint, methods=["GET"], response_class=FileResponse,
                         summary=summary, name=name, responses={
                             **responses, **{k: ERROR_RESPONSES[k] for k in (400, 403, 404)}})


_file_route("get_file", "mp4", "Download a video",
            "The video of a completed generation. Supports `Range` so players can seek.", {
                200: {"content": {"video/mp4": {}},
                      "description": "The MP4 (Range requests: 206)."},
                206: {"content": {"video/mp4": {}}, "description": "Part of the MP4."},
                302: {"description": "With S3 storage: to a presigned (or public) URL of the "
                      "MP4."}})
_file_route("get_thumbnail", "jpg", "Download a video's thumbnail",
            "A representative frame of a completed generation (JPEG, ≤ 640 px long side).", {
                200: {"content": {"image/jpeg": {}}, "description": "The thumbnail."},
                302: {"description": "With S3 storage: to a presigned (or public) URL."}})
_file_route("get_preview", "webp", "Download a video's animated preview",
            "An animated WebP of a completed generation (≤ 480 px long side, ≤ 2 MB).", {
                200: {"content": {"image/webp": {}}, "description": "The animated preview."},
                302: {"description": "With S3 storage: to a presigned (or public) URL."}})


def _serve(token: str, suffix: str, expires: int | None, signature: str | None,
           svc: Services) -> Response:
    if svc.signer is not None and not svc.signer.verify(token, expires, signature):
        raise Forbidden("this video URL's signature is missing, wrong or expired; "
                        "GET the generation again for a fresh URL")
    if not _TOKEN.match(token):
        raise NotFound("no such video")
    found = artifact_response(svc.artifacts, f"{token}.{suffix}", CONTENT_TYPES[suffix],
                              {"Cache-Control": "public, max-age=31536000, immutable"})
    if found is None:
        raise NotFound("no such video")
    return found


def artifact_response(artifacts: ArtifactStore, key: str, media_type: str,
                      headers: dict[str, str] | None = None) -> Response | None:
    """The stored ``key``: a redirect to where its store serves it (S3), or the local file
    (Range supported); None when it is not there."""
    elsewhere = artifacts.redirect_url(key)
    if elsewhere is not None:
        return RedirectResponse(elsewhere, status_code=302)
    path = artifacts.local_path(key)
    if path is None:
        return None
    return FileResponse(path, media_type=media_type, headers=headers)
