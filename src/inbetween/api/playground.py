"""The playground: one static page at `/` (plain HTML, CSS and JavaScript, no CDN).

The page holds no key: a person types theirs, it stays in the browser's local storage and
is sent only as the `Authorization: Bearer` header of the page's own API calls.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from inbetween.errors import NotFound

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_STATIC = resources.files("inbetween.api") / "static"
_TYPES = {"playground.js": "text/javascript; charset=utf-8",
          "playground.css": "text/css; charset=utf-8"}
_SECURITY = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob: http: https:; "
        "media-src 'self' blob: http: https:; connect-src 'self'; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@router.get("/")
def playground() -> HTMLResponse:
    return HTMLResponse((_STATIC / "index.html").read_text(encoding="utf-8"),
                        headers={**_SECURITY, "Cache-Control": "no-cache"})


@router.get("/playground/{name}")
def asset(name: str) -> Response:
    if name not in _TYPES:
        raise NotFound("no such file")
    return Response((_STATIC / name).read_bytes(), media_type=_TYPES[name],
                    headers={**_SECURITY, "Cache-Control": "no-cache"})
