"""One error body for every failure: ``{"error": {"name", "message", "field"?, "allowed"?}}``;
on the OpenAI-style ``/v1`` paths OpenAI's envelope, ours beside it:
``{"error": {"message", "type", "param", "code", "name", "field", "allowed"?}}``."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from inbetween.api.schemas import (
    ALLOWED_VALUES,
    ErrorEnvelope,
    GenerationCreate,
    OpenAIErrorEnvelope,
)
from inbetween.errors import (
    InbetweenError,
    InfrastructureError,
    InvalidRequest,
    TooManyRequests,
)
from inbetween.log import event

__all__ = ["ERROR_RESPONSES", "OPENAI_ERROR_RESPONSES", "error_body", "error_response",
           "install_error_handlers", "is_openai_path"]

log = logging.getLogger("inbetween.api")
INFRASTRUCTURE_RETRY_AFTER = 5
"""Retry-After (seconds) of a 503: the job store or the broker cannot be reached."""

_KNOWN_FIELDS = list(GenerationCreate.model_fields)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope,
          "description": "Invalid request: names the field and what is allowed."},
    401: {"model": ErrorEnvelope, "description": "Missing or unknown API key."},
    402: {"model": ErrorEnvelope, "description": "BudgetExceeded: what is left of this key's "
          "budget cannot cover the request's worst-case cost; the message says what is left "
          "and when it resets."},
    403: {"model": ErrorEnvelope, "description": "A signed video URL is missing its "
          "signature, or it is wrong or expired."},
    404: {"model": ErrorEnvelope, "description": "No such generation for this key."},
    409: {"model": ErrorEnvelope, "description": "Idempotency-Key reused for another request."},
    413: {"model": ErrorEnvelope, "description": "The body is over INBETWEEN_MAX_BODY_MB."},
    429: {"model": ErrorEnvelope, "description": "A per-key rate limit, or the cap on "
          "unfinished generations; `Retry-After` says when to retry."},
    503: {"model": ErrorEnvelope, "description": "InfrastructureError: the job store (or "
          "the broker) cannot be reached right now; retry."},
}


OPENAI_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {**entry, "model": OpenAIErrorEnvelope} for status, entry in ERROR_RESPONSES.items()}

_OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                 402: "insufficient_quota", 403: "permission_error", 404: "invalid_request_error",
                 405: "invalid_request_error", 409: "invalid_request_error",
                 413: "invalid_request_error", 429: "rate_limit_error"}


def is_openai_path(path: str) -> bool:
    """Whether ``path`` is one of the OpenAI-style routes (its errors take their envelope)."""
    return path == "/v1" or path.startswith("/v1/")


def error_body(status_code: int, name: str, message: str, *, field: str | None = None,
               allowed: Sequence[object] | None = None, include_field: bool = False,
               openai: bool = False) -> dict[str, Any]:
    """The JSON of an error answer, in our envelope or (``openai``) OpenAI's."""
    body: dict[str, Any] = {"name": name, "message": message}
    if field is not None or include_field or openai:
        body["field"] = field
    if allowed is not None:
        body["allowed"] = list(allowed)
    if openai:
        kind = _OPENAI_TYPES.get(status_code, "server_error" if status_code >= 500
                                 else "invalid_request_error")
        body = {"message": message, "type": kind, "param": field,
                "code": re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(), **body}
    return {"error": body}


def error_response(
    status_code: int, name: str, message: str, *, field: str | None = None,
    allowed: Sequence[object] | None = None, include_field: bool = False,
    headers: dict[str, str] | None = None, openai: bool = False,
) -> JSONResponse:
    return JSONResponse(error_body(status_code, name, message, field=field, allowed=allowed,
                                   include_field=include_field, openai=openai),
                        status_code=status_code, headers=headers)


def _from_inbetween(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InbetweenError)
    openai = is_openai_path(request.url.path)
    if isinstance(exc, InvalidRequest):
        return error_response(400, exc.name, exc.message, field=exc.field, allowed=exc.allowed,
                              include_field=True, openai=openai)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if isinstance(exc, TooManyRequests) and exc.retry_after is not None:
        headers = {"Retry-After": str(math.ceil(exc.retry_after))}
    if isinstance(exc, InfrastructureError):  # the store or broker is down: try again soon
        headers = {"Retry-After": str(INFRASTRUCTURE_RETRY_AFTER)}
    return error_response(exc.status_code, exc.name, exc.message, headers=headers,
                          openai=openai)


def _from_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    invalid = describe_validation_error(exc.errors())
    return error_response(400, invalid.name, invalid.message, field=invalid.field,
                          allowed=invalid.allowed, include_field=True,
                          openai=is_openai_path(request.url.path))


def describe_validation_error(errors: Sequence[Any]) -> InvalidRequest:
    """Turn Pydantic's first error into an InvalidRequest naming the field and allowed values."""
    first = dict(errors[0]) if errors else {"type": "missing", "loc": ("body",)}
    loc = [str(part) for part in first.get("loc", ()) if not isinstance(part, int)]
    kind = str(first.get("type", ""))
    field = loc[1] if len(loc) > 1 else (loc[0] if loc and loc[0] != "body" else None)
    if kind == "json_invalid":
        ctx = first.get("ctx") or {}
        detail = ctx.get("error", "") if isinstance(ctx, dict) else ""
        return InvalidRequest(f"the request body is not valid JSON ({detail})", field=None)
    if field is None:
        return InvalidRequest(
            "the request body must be a JSON object with at least model, prompt, image_url "
            "and last_image_url", field=None,
        )
    if kind == "extra_forbidden":
        return InvalidRequest(f"unknown field {field!r}", field=field, allowed=_KNOWN_FIELDS)
    if kind == "missing":
        return InvalidRequest(f"{field} is required", field=field,
                              allowed=ALLOWED_VALUES.get(field))
    allowed = ALLOWED_VALUES.get(field)
    reason = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    message = f"{field}: {reason}"
    if allowed is not None:
        message = f"{field}: {_show(first.get('input'))} is not allowed; use one of " + ", ".join(
            _show(v) for v in allowed
        )
    return InvalidRequest(message, field=field, allowed=allowed)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _from_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    names = {404: "NotFound", 405: "MethodNotAllowed"}
    message = "no such route" if exc.status_code == 404 else str(exc.detail)
    return error_response(exc.status_code, names.get(exc.status_code, "HTTPError"), message,
                          headers=getattr(exc, "headers", None),
                          openai=is_openai_path(request.url.path))


def _from_unexpected(request: Request, exc: Exception) -> JSONResponse:
    event(log, "http.unhandled", level=logging.ERROR, exc=True, path=request.url.path)
    return error_response(500, "InternalError",
                          "an unexpected error occurred; it was logged on the server",
                          openai=is_openai_path(request.url.path))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InbetweenError, _from_inbetween)
    app.add_exception_handler(RequestValidationError, _from_validation)
    app.add_exception_handler(StarletteHTTPException, _from_http)
    app.add_exception_handler(Exception, _from_unexpected)
